/**
 * `pnpm bench`: consumer throughput and memory, side by side in one run, reported as ratios.
 *
 * Peers: kafkajs 2.2.4's own consumer, kafka-effect's Consumer (over kafkajs's protocol layer), and
 * kcat (librdkafka 2.0.2, native). Brokers: librdkafka's mock cluster (a neutral peer in its own
 * process) and our embedded wire broker (`pnpm broker`, in its own process). Each peer runs in its
 * own process, so its peak RSS is its own; rounds alternate the peers so that drift hits all of them.
 *
 *   pnpm bench [--records 200000] [--partitions 8] [--rounds 3] [--value-bytes 100] [--broker mock|embedded|both]
 *
 * librdkafka 2.0.2's mock cluster stops answering our producer somewhere past 40k records per
 * partition (seen at 60k: the producer waits forever, the mock idles), so on the mock the bench keeps
 * to 40k per partition and says so instead of hanging.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as MockCluster from "../packages/kafka/test/harness/MockCluster.js"
import type { PeerReport } from "./peers/common.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const option = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const RECORDS = Number(option("records", "200000"))
const PARTITIONS = Number(option("partitions", "8"))
const ROUNDS = Number(option("rounds", "3"))
const VALUE_BYTES = Number(option("value-bytes", "100"))
const BROKERS = option("broker", "both")
for (const [name, v] of [["records", RECORDS], ["partitions", PARTITIONS], ["rounds", ROUNDS], ["value-bytes", VALUE_BYTES]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} needs a positive integer, got ${option(name, "")}`)
    process.exit(2)
  }
}
const MOCK_MAX_PER_PARTITION = 40_000
if (BROKERS !== "embedded" && RECORDS / PARTITIONS > MOCK_MAX_PER_PARTITION) {
  console.error(
    `--records ${RECORDS} over --partitions ${PARTITIONS} is more than ${MOCK_MAX_PER_PARTITION} per partition, past what librdkafka's mock answers; add partitions or use --broker embedded`,
  )
  process.exit(2)
}
if (!["mock", "embedded", "both"].includes(BROKERS)) {
  console.error(`--broker needs mock, embedded or both, got ${BROKERS}`)
  process.exit(2)
}

interface Sample extends PeerReport {
  readonly peakRssMB: number
}

/** Runs a command under GNU time; returns its stdout and its peak RSS. */
const measured = (cmd: string, argv: ReadonlyArray<string>): Promise<{ stdout: string; peakRssMB: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/time", ["-f", "__RSS_KB__ %M", cmd, ...argv], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => {
      const m = /__RSS_KB__ (\d+)/.exec(stderr)
      if (code !== 0 || !m) return reject(new Error(`${cmd} ${argv.join(" ")} exited ${code}: ${stderr.slice(-2000)}`))
      resolve({ stdout, peakRssMB: Number(m[1]) / 1024 })
    })
  })

const tsx = path.join(root, "node_modules/.bin/tsx")

const nodePeer = (script: string) => async (bootstrap: string, topic: string): Promise<Sample> => {
  const { stdout, peakRssMB } = await measured(tsx, [path.join(root, "bench/peers", script), bootstrap, topic, String(PARTITIONS), String(RECORDS)])
  const line = stdout.trim().split("\n").pop()!
  return { ...(JSON.parse(line) as PeerReport), peakRssMB }
}

/** kcat has no notion of "first record": its whole run is timed, process start included (a few ms for a C program). */
const kcatPeer = async (bootstrap: string, topic: string): Promise<Sample> => {
  const started = performance.now()
  const { stdout, peakRssMB } = await measured("kcat", ["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o\n"])
  const ms = performance.now() - started
  const offsets = stdout.trim().split("\n")
  let sum = 0n
  for (const o of offsets) sum += BigInt(o)
  return { firstRecordMs: 0, steadyMs: ms, records: offsets.length, offsetSum: sum.toString(), heapUsedMB: 0, loadedRssMB: Number.NaN, peakRssMB }
}

const peers: ReadonlyArray<readonly [string, (bootstrap: string, topic: string) => Promise<Sample>]> = [
  ["kafkajs 2.2.4 consumer", nodePeer("kafkajs.ts")],
  ["kafka-effect Consumer", nodePeer("kafka-effect.ts")],
  ["kcat (librdkafka 2.0.2)", kcatPeer],
]

/** Creates the topic through the broker's own control path, then fills it with kafkajs's producer. */
const produce = async (bootstrap: string, topic: string, createTopic: (topic: string) => Promise<void>): Promise<string> => {
  const kafka = new Kafka({ brokers: bootstrap.split(","), clientId: "bench-producer", logLevel: logLevel.NOTHING })
  await createTopic(topic)
  const producer = kafka.producer()
  await producer.connect()
  const value = Buffer.alloc(VALUE_BYTES, 120)
  const perPartition = Math.ceil(RECORDS / PARTITIONS)
  let expected = 0n
  for (let p = 0; p < PARTITIONS; p++) {
    const count = Math.min(perPartition, RECORDS - p * perPartition)
    for (let i = 0; i < count; i += 5000) {
      const n = Math.min(5000, count - i)
      await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, j) => ({ partition: p, key: `key-${i + j}`, value })) })
      for (let j = 0; j < n; j++) expected += BigInt(i + j)
    }
  }
  await producer.disconnect()
  return expected.toString()
}

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const runOn = async (brokerName: string, bootstrap: string, createTopic: (topic: string) => Promise<void>): Promise<void> => {
  const topic = `bench-${Date.now()}`
  process.stderr.write(`[${brokerName}] producing ${RECORDS} records of ${VALUE_BYTES} bytes into ${PARTITIONS} partitions…\n`)
  const expectedSum = await produce(bootstrap, topic, createTopic)
  const samples = new Map<string, Array<Sample>>(peers.map(([name]) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of peers) {
      const s = await run(bootstrap, topic)
      if (s.records !== RECORDS || s.offsetSum !== expectedSum) {
        throw new Error(`${name} on ${brokerName}: got ${s.records} records (offset sum ${s.offsetSum}), expected ${RECORDS} (${expectedSum})`)
      }
      samples.get(name)!.push(s)
      process.stderr.write(`[${brokerName}] round ${round + 1} ${name}: ${Math.round((RECORDS / s.steadyMs) * 1000)} records/s, ${s.peakRssMB.toFixed(0)} MB\n`)
    }
  }
  const rows = peers.map(([name]) => {
    const xs = samples.get(name)!
    return {
      name,
      rate: (RECORDS / median(xs.map((s) => s.steadyMs))) * 1000,
      first: median(xs.map((s) => s.firstRecordMs)),
      rss: median(xs.map((s) => s.peakRssMB)),
      growth: median(xs.map((s) => s.peakRssMB - s.loadedRssMB)),
    }
  })
  const base = rows[0]!
  console.log(`\n## ${brokerName}: ${RECORDS} records, ${VALUE_BYTES}-byte values, ${PARTITIONS} partitions, median of ${ROUNDS}\n`)
  console.log("| peer | records/s (first→last) | ×kafkajs | time to first record | peak RSS | ×kafkajs | RSS growth while consuming | ×kafkajs |")
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|")
  for (const r of rows) {
    const native = r.name.startsWith("kcat")
    const first = native ? "—" : `${r.first.toFixed(0)} ms`
    const growth = native ? "—" : `${r.growth.toFixed(0)} MB`
    const growthRatio = native ? "—" : (r.growth / base.growth).toFixed(2)
    console.log(
      `| ${r.name} | ${Math.round(r.rate)} | ${(r.rate / base.rate).toFixed(2)} | ${first} | ${r.rss.toFixed(0)} MB | ${(r.rss / base.rss).toFixed(2)} | ${growth} | ${growthRatio} |`,
    )
  }
  console.log("\nRSS growth = peak RSS − RSS once the modules are loaded (the client's working memory, without the cost of its code).")
}

const spawnEmbedded = (): Promise<{ child: ChildProcess; bootstrap: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(tsx, [path.join(root, "packages/testkit/src/bin/broker.ts"), "--port", "0", "--brokers", "1"], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    })
    let out = ""
    child.stdout!.on("data", (d) => {
      out += d
      const m = /^bootstrap: (\S+)/m.exec(out)
      if (m) resolve({ child, bootstrap: m[1]! })
    })
    child.on("error", reject)
    child.on("close", (code) => reject(new Error(`embedded broker exited ${code} before its bootstrap line`)))
  })

if (BROKERS !== "embedded") {
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* Effect.promise(() =>
          runOn("librdkafka mock cluster (1 broker)", mock.bootstrap, (topic) =>
            Effect.runPromise(mock.createTopic(topic, PARTITIONS, 1)),
          ),
        )
      }).pipe(Effect.provide(MockCluster.layer(1))),
    ),
  )
}
if (BROKERS !== "mock") {
  const { child, bootstrap } = await spawnEmbedded()
  try {
    await runOn("embedded wire broker (1 broker)", bootstrap, async (topic) => {
      const admin = new Kafka({ brokers: bootstrap.split(","), logLevel: logLevel.NOTHING }).admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] })
      await admin.disconnect()
    })
  } finally {
    child.kill("SIGTERM")
  }
}
