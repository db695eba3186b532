/**
 * `pnpm bench`: consumers side by side in one run, each peer in its own process, on the same broker
 * and the same records; rounds alternate the peers' order, the first round is a warm-up, the
 * figures are medians. Every peer must deliver every record (count and two offset checksums), or
 * the run fails.
 *
 *   pnpm bench [--quick] [--broker kafka,mock,embedded|all|external] [--dataset value100,…|all]
 *              [--peers kafkajs-eachBatch,…] [--rounds 3] [--scale 1] [--kafka host:port] [--out dir]
 *              [--profile dir]
 *
 * Peers: kafkajs 2.2.4 (`eachBatch`, `eachMessage`), @platformatic/kafka (on Node 22 from the npm
 * registry's `node` package when the machine's Node is older than it needs), kafka-effect's
 * `Consumer` (`chunks`, `records`), kcat (librdkafka, native). See bench/brokers.ts for the brokers
 * and bench/datasets.ts for the data sets.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Brokers from "./brokers.js"
import { bytesPerPartition, type Dataset, type DatasetName, datasetNames, datasets, MOCK_PARTITION_CAP, type Produced, payloadBytes, produce } from "./datasets.js"
import type { PeerReport, PeerSpec } from "./peers/common.js"
import { chart, goals, merge, type PeerName, peerNames, type Result, type Results, type Sample, summarize, table } from "./report.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const argv = process.argv.slice(2)
const flag = (name: string): boolean => argv.includes(`--${name}`)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const fail = (message: string): never => {
  console.error(message)
  process.exit(2)
}
const list = <A extends string>(name: string, all: ReadonlyArray<A>, fallback: ReadonlyArray<A>): ReadonlyArray<A> => {
  const raw = option(name)
  if (raw === undefined) return fallback
  if (raw === "all") return all
  return raw.split(",").map((x) => all.find((a) => a === x) ?? fail(`--${name}: ${x} is not one of ${all.join(", ")}`))
}
const int = (name: string, fallback: number, min: number): number => {
  const raw = option(name)
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isInteger(n) || n < min) fail(`--${name} needs an integer >= ${min}, got ${raw}`)
  return n
}

const quick = flag("quick")
const external = process.env.KAFKA_BROKERS
const brokerRaw = option("broker")
const expandedBrokers: ReadonlyArray<Brokers.BrokerName> =
  brokerRaw === "all"
    ? ["kafka", "mock", "embedded"]
    : list<Brokers.BrokerName>("broker", ["kafka", "mock", "embedded", "external"], external ? ["external"] : ["kafka"])
if (expandedBrokers.includes("external") && !external) fail("--broker external needs KAFKA_BROKERS=host:port,…")
const datasetList = list<DatasetName>("dataset", datasetNames, quick ? ["value100"] : datasetNames)
const peerList = list<PeerName>("peers", peerNames, peerNames)
const rounds = int("rounds", quick ? 1 : 3, 1)
const warmup = !quick
const scaleRaw = option("scale")
const scale = scaleRaw === undefined ? (quick ? 0.05 : 1) : Number(scaleRaw)
if (!(scale > 0 && scale <= 4)) fail(`--scale needs a number in (0, 4], got ${scaleRaw}`)
/**
 * Writes CPU profiles into this directory (summarize with bench/profile.ts): kafka-effect's peers by
 * `node --cpu-prof`, the embedded broker's over each peer's run by the inspector (`<where>-broker/`).
 */
const profileDir = option("profile") === undefined ? undefined : path.resolve(option("profile")!)
const outDir = option("out") ?? (quick ? undefined : path.join(root, "bench/results"))
/** A running Kafka to use instead of starting one (e.g. the development broker at 127.0.0.1:19092). */
const kafkaBootstrap = option("kafka") ?? process.env.KAFKA_EFFECT_BENCH_KAFKA
const sets = datasets(scale)
const startedAt = Date.now()
const log = (line: string) => process.stderr.write(`${line}\n`)

// ---------------------------------------------------------------------------------------------
// Node for @platformatic/kafka: its engines field may ask for a newer Node than this one.

const platformaticPkg = JSON.parse(fs.readFileSync(path.join(root, "node_modules/@platformatic/kafka/package.json"), "utf8")) as {
  version: string
  engines?: { node?: string }
}
const nodeMajor = Number(process.versions.node.split(".")[0])
/** The lowest major its engines range accepts (">= 22.22.0 || >= 24.6.0" → 22). */
const neededMajor = Math.min(...[...(platformaticPkg.engines?.node ?? ">=20").matchAll(/>=\s*(\d+)/g)].map((m) => Number(m[1])))
const platformaticNode = (() => {
  if (!peerList.includes("platformatic") || nodeMajor >= neededMajor) return { bin: process.execPath, version: process.versions.node }
  const dir = path.join(os.homedir(), ".cache/kafka-effect", `node${neededMajor}`)
  const bin = path.join(dir, "node_modules/.bin/node")
  if (!fs.existsSync(bin)) {
    log(`@platformatic/kafka ${platformaticPkg.version} needs Node ${platformaticPkg.engines?.node}; installing node@${neededMajor} from the npm registry into ${dir}`)
    fs.mkdirSync(dir, { recursive: true })
    const r = spawnSync("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", `node@${neededMajor}`], { stdio: "inherit" })
    if (r.status !== 0 || !fs.existsSync(bin)) fail(`could not install node@${neededMajor} with npm`)
  }
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim().replace(/^v/, "")
  return { bin, version }
})()
const kcatVersion = (() => {
  const r = spawnSync("kcat", ["-V"], { encoding: "utf8" })
  return /librdkafka ([\d.]+)/.exec(`${r.stdout ?? ""}${r.stderr ?? ""}`)?.[1] ?? "?"
})()

// ---------------------------------------------------------------------------------------------
// Peer processes

interface Run {
  readonly stdout: string
  readonly stderr: string
  readonly wallMs: number
  /** GNU time's view of the process: peak RSS (KB), user and system seconds. */
  readonly time?: { maxRssKb: number; user: number; sys: number }
}

const timeout = quick ? 60_000 : 240_000

const runProcess = (cmd: string, args: ReadonlyArray<string>, timed: boolean): Promise<Run> =>
  new Promise((resolve, reject) => {
    const [c, a] = timed ? ["/usr/bin/time", ["-f", "__TIME__ %M %U %S", cmd, ...args]] : [cmd, args]
    const started = performance.now()
    const child = spawn(c, a, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const wallMs = performance.now() - started
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} ${signal ? `killed (${signal}, timeout ${timeout} ms)` : `exited ${code}`}: ${stderr.slice(-2000)}`))
      const m = /__TIME__ (\d+) ([\d.]+) ([\d.]+)/.exec(stderr)
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr,
        wallMs,
        ...(m ? { time: { maxRssKb: Number(m[1]), user: Number(m[2]), sys: Number(m[3]) } } : {}),
      })
    })
  })

const fromReport = (r: PeerReport): Sample => ({
  recordsPerSec: (r.records / r.steadyMs) * 1000,
  recordsPerSecFromStart: (r.records / (r.firstRecordMs + r.steadyMs)) * 1000,
  cpuUsPerRecord: r.cpuUs / r.records,
  peakRssMb: r.peakRssMb,
  firstRecordMs: r.firstRecordMs,
  ...(r.instrumented ? { instrumented: r.instrumented } : {}),
  ...(r.outOfRange ? { outOfRange: r.outOfRange } : {}),
})

/** Where this run's profiles go (one directory per broker, data set and peer), when --profile asks for them. */
let profileWhere = ""
const profileArgs = (name: string): Array<string> =>
  profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", path.join(profileDir, profileWhere === "" ? name : `${profileWhere}-${name}`)]

const nodePeer =
  (script: string, mode?: string, node = process.execPath) =>
  async (s: PeerSpec): Promise<{ report: PeerReport; sample: Sample }> => {
    const prof = script === "kafka-effect.ts" ? profileArgs(`kafka-effect-${mode}`) : []
    const run = await runProcess(node, [...prof, "--import", "tsx", path.join(root, "bench/peers", script), JSON.stringify(s), ...(mode ? [mode] : [])], false)
    const line = run.stdout.trim().split("\n").pop() ?? ""
    const report = JSON.parse(line) as PeerReport
    return { report, sample: fromReport(report) }
  }

/** kcat has no first-record hook: its whole process is timed (start to exit at the end of every partition). */
const kcatPeer = async (s: PeerSpec): Promise<{ report: PeerReport; sample: Sample }> => {
  const run = await runProcess(
    "kcat",
    ["-C", "-b", s.bootstrap.join(","), "-t", s.topic, "-o", "beginning", "-e", "-q", "-f", "%p %o\\n", "-X", `fetch.wait.max.ms=${s.maxWaitMs}`, "-X", `fetch.message.max.bytes=${s.maxPartitionBytes}`],
    true,
  )
  let records = 0
  let offsetSum = 0
  let weightedSum = 0
  for (const line of run.stdout.split("\n")) {
    if (line === "") continue
    const sp = line.indexOf(" ")
    const p = Number(line.slice(0, sp))
    const o = Number(line.slice(sp + 1))
    records++
    offsetSum += o
    weightedSum += (p + 1) * (o + 1)
  }
  const cpuUs = run.time ? (run.time.user + run.time.sys) * 1e6 : Number.NaN
  const report: PeerReport = {
    records,
    offsetSum,
    weightedSum,
    firstRecordMs: 0,
    steadyMs: run.wallMs,
    cpuUs,
    peakRssMb: run.time ? run.time.maxRssKb / 1024 : Number.NaN,
  }
  return { report, sample: fromReport(report) }
}

const peerRunners: Record<PeerName, (s: PeerSpec) => Promise<{ report: PeerReport; sample: Sample }>> = {
  "kafkajs-eachBatch": nodePeer("kafkajs.ts", "eachBatch"),
  "kafkajs-eachMessage": nodePeer("kafkajs.ts", "eachMessage"),
  platformatic: nodePeer("platformatic.ts", undefined, platformaticNode.bin),
  "kafka-effect-chunks": nodePeer("kafka-effect.ts", "chunks"),
  "kafka-effect-records": nodePeer("kafka-effect.ts", "records"),
  kcat: kcatPeer,
}

/** Why a peer cannot run a data set on a broker, or undefined when it can. */
const inapplicable = (peer: PeerName, d: Dataset, broker: Brokers.BrokerName): string | undefined =>
  peer === "kcat" && d.slow
    ? "kcat cannot do a slow consumer's work"
    : peer === "platformatic" && broker === "mock"
      ? "@platformatic/kafka always sends ListOffsets v5 at start, which librdkafka 2.0.2's mock answers UNKNOWN_SERVER_ERROR"
      : undefined

// ---------------------------------------------------------------------------------------------
// Brokers

const open = async (name: Brokers.BrokerName, nodes: 1 | 3): Promise<Brokers.BrokerHandle | string> => {
  switch (name) {
    case "mock":
      return Brokers.mock(nodes)
    case "embedded":
      return Brokers.embedded(root, nodes)
    case "external": {
      const h = await Brokers.remote("external", external!)
      return nodes === 3 && h.nodeIds.length < 3 ? `KAFKA_BROKERS has ${h.nodeIds.length} broker(s), this data set needs 3` : h
    }
    case "kafka": {
      // quick: the JVM profile that starts fastest
      if (kafkaBootstrap === undefined) return Brokers.apacheKafka(nodes, quick ? "test" : "server")
      if (nodes === 3) return `--kafka / KAFKA_EFFECT_BENCH_KAFKA names one running node (${kafkaBootstrap}); without it the bench starts a three-node Kafka itself`
      return Brokers.remote("kafka", kafkaBootstrap)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One data set on one broker

const skipped: Array<string> = []

const check = (peer: PeerName, where: string, r: PeerReport, p: Produced): void => {
  if (r.records !== p.records || r.offsetSum !== p.offsetSum || r.weightedSum !== p.weightedSum) {
    throw new Error(
      `${peer} on ${where}: delivered ${r.records} records (offset sum ${r.offsetSum}, weighted ${r.weightedSum}), the topic holds ${p.records} (${p.offsetSum}, ${p.weightedSum})`,
    )
  }
}

const measure = async (
  bootstrap: string,
  broker: Brokers.BrokerHandle,
  d: Dataset,
  topics: ReadonlyArray<Produced>,
): Promise<Map<PeerName, Array<Array<Sample>>>> => {
  const peers = peerList.filter((p) => {
    const why = inapplicable(p, d, broker.name)
    if (why !== undefined) skipped.push(`${broker.name}/${d.name}/${p}: ${why}`)
    return why === undefined
  })
  const samples = new Map<PeerName, Array<Array<Sample>>>(peers.map((p) => [p, topics.map(() => [])]))
  for (let round = warmup ? 0 : 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? peers : [...peers].reverse()
    for (const [ti, topic] of topics.entries()) {
      for (const peer of order) {
        const s: PeerSpec = {
          bootstrap: bootstrap.split(","),
          topic: topic.topic,
          partitions: topic.partitions,
          records: topic.records,
          maxWaitMs: 500,
          maxPartitionBytes: 1_048_576,
          slow: d.slow,
          probeOutOfRange: d.name === "value100" && ti === 0,
        }
        const where = `${broker.name}/${d.name}${topics.length > 1 ? `/${topic.topic}` : ""}`
        profileWhere = where.replace(/\//g, "-")
        const brokerProfile = profileDir === undefined ? undefined : broker.profile
        await brokerProfile?.start()
        const cpuBefore = await broker.cpuUs?.()
        const { report, sample: peerSample } = await peerRunners[peer](s)
        const cpuAfter = await broker.cpuUs?.()
        await brokerProfile?.stop(path.join(profileDir!, `${profileWhere}-broker`, `${peer}-${round}.cpuprofile`))
        const sample: Sample =
          cpuBefore === undefined || cpuAfter === undefined ? peerSample : { ...peerSample, broker: { cpuUs: cpuAfter - cpuBefore, records: report.records } }
        check(peer, where, report, topic)
        profileWhere = ""
        if (round > 0) samples.get(peer)![ti]!.push(sample)
        log(
          `  ${round === 0 ? "warm-up" : `round ${round}`} ${where} ${peer}: ${Math.round(sample.recordsPerSec)} records/s, ${sample.cpuUsPerRecord.toFixed(2)} µs/record, ${sample.peakRssMb.toFixed(0)} MB${sample.broker === undefined ? "" : `, broker ${(sample.broker.cpuUs / sample.broker.records).toFixed(2)} µs/record`}`,
        )
      }
    }
  }
  return samples
}

const results: Results = {}
const tables: Record<string, Array<string>> = {}

const setupLines = (): Array<string> => {
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1)
  return [
  `Run ${new Date().toISOString()}, ${minutes} min, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), load average at the end ${os.loadavg()[0]!.toFixed(2)}.`,
  `Node ${process.versions.node}; @platformatic/kafka ${platformaticPkg.version} on Node ${platformaticNode.version}${platformaticNode.bin === process.execPath ? "" : " (the npm registry's node package: it needs a newer Node than this machine's)"}; kcat with librdkafka ${kcatVersion}.`,
  `${rounds} round(s)${warmup ? " after a warm-up" : ""}, peers alternating order, medians; every peer checked for every record (count, offset sum, partition-weighted offset sum).`,
  "records/s from the first record to the last; CPU (process.cpuUsage in the peer process) from the moment the peer starts consuming (connected and subscribed or assigned) to the last record, so that a whole first answer decoded before the first record counts (kcat: its whole process, by GNU time); peak RSS is the peer process's getrusage maxrss.",
  "Broker CPU µs/record: the broker's processes' CPU over the peer's whole process (start to exit) per record delivered, total over the rounds; embedded: process.cpuUsage in the broker's process, mock and Kafka: utime + stime from /proc/<pid>/stat (10 ms steps; for Kafka the JVM's every thread).",
  "Fetches in flight and the broker's idle share are measured for kafka-effect only: its Fetcher is wrapped in the peer to count calls outstanding; idle share = time with no fetch outstanding / time from the first fetch to the last record.",
]
}
/** Writes latest.json (merged), the broker's Markdown and the chart; called after each broker. */
const write = (): void => {
  if (outDir === undefined) return
  const setup = setupLines()
  fs.mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, "latest.json")
  const old: Results = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Results) : {}
  const all = merge(old, results)
  fs.writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`)
  for (const b of Object.keys(results)) {
    fs.writeFileSync(
      path.join(outDir, `${b}.md`),
      `## ${b}\n\n${setup.join("\n")}\n\n${tables[b]!.join("\n\n")}\n\n${goals(b, results[b]!)}\n${skipped.filter((s) => s.startsWith(`${b}/`)).map((s) => `\nNot measured: ${s}`).join("")}\n`,
    )
  }
  const order = ["kafka", "mock", "embedded", "external"].filter((b) => all[b] !== undefined)
  const roundsOf = (b: string) => Object.values(all[b] ?? {}).flatMap((peers) => Object.values(peers))[0]?.rounds ?? 0
  const note = `${order.map((b) => `${b}: ${roundsOf(b)} round(s)`).join(", ")}; ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(0)}`
  fs.writeFileSync(path.join(outDir, "chart.svg"), chart(all, order, datasetNames, note))
  log(`wrote ${file}, ${path.join(outDir, "chart.svg")}`)
}


for (const brokerName of expandedBrokers) {
  results[brokerName] = {}
  tables[brokerName] = []
  for (const nodes of [1, 3] as const) {
    const here = datasetList.filter((d) => sets[d].brokers === nodes)
    if (here.length === 0) continue
    if (brokerName === "mock") {
      for (const d of here) {
        if (bytesPerPartition(sets[d]) > MOCK_PARTITION_CAP * 0.9) {
          fail(`${d}: about ${bytesPerPartition(sets[d])} bytes per partition, past what librdkafka's mock keeps (5 MiB, older data silently dropped); lower --scale`)
        }
      }
    }
    const opening = performance.now()
    const broker = await open(brokerName, nodes)
    if (typeof broker !== "string") log(`[${brokerName}] ${nodes} node(s) at ${broker.bootstrap}, ready in ${((performance.now() - opening) / 1000).toFixed(1)} s`)
    if (typeof broker === "string") {
      for (const d of here) skipped.push(`${brokerName}/${d}: ${broker}`)
      log(`[${brokerName}] skipped ${here.join(", ")}: ${broker}`)
      continue
    }
    try {
      for (const name of here) {
        const d = sets[name]
        if (d.roundTripMs > 0 && broker.addRoundTrip === undefined) {
          skipped.push(`${brokerName}/${name}: a running Kafka named by --kafka cannot get a delaying proxy (its advertised address is not ours); let the bench start one`)
          log(`[${brokerName}] skipped ${name}: no way to add a round trip`)
          continue
        }
        const stamp = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
        log(`[${brokerName}] ${name}: producing ${d.records} records (${d.what})…`)
        const topics = d.idlePartitions
          ? [await produce(broker, d, "mixed", `bench-${name}-mixed-${stamp}`), await produce(broker, d, "hot", `bench-${name}-hot-${stamp}`)]
          : [await produce(broker, d, "plain", `bench-${name}-${stamp}`)]
        const bootstrap = d.roundTripMs > 0 ? await broker.addRoundTrip!(d.roundTripMs) : broker.bootstrap
        try {
          const samples = await measure(bootstrap, broker, d, topics)
          const rows: Partial<Record<PeerName, Result>> = {}
          for (const [peer, [main, hot]] of samples) rows[peer] = summarize(main!, payloadBytes(d), hot)
          results[brokerName]![name] = rows
          const t = table(`${brokerName} · ${name}: ${d.records} records, ${d.what}`, rows)
          tables[brokerName]!.push(t)
          console.log(`\n${t}`)
        } finally {
          if (d.roundTripMs > 0) await broker.addRoundTrip!(0)
        }
      }
    } finally {
      await broker.close()
    }
  }
  if (Object.keys(results[brokerName]!).length === 0) delete results[brokerName]
  else write()
}

for (const b of Object.keys(tables)) {
  if (results[b] === undefined) continue
  console.log(`\n${goals(b, results[b]!)}`)
}
if (skipped.length > 0) console.log(`\nNot measured:\n${skipped.map((s) => `- ${s}`).join("\n")}`)
console.log(`\n${setupLines().join("\n")}`)

