/**
 * The brokers the bench runs against, each as a handle: its bootstrap, its node ids, topic creation
 * with chosen partition leaders, and an added round trip where the broker can add one itself.
 *
 * - `kafka`: real Apache Kafka; `--kafka host:port` (or KAFKA_EFFECT_BENCH_KAFKA) for a running one,
 *   default the development broker at 127.0.0.1:19092 (one node).
 * - `mock`: librdkafka's mock cluster (its own process), 1 or 3 brokers.
 * - `embedded`: our embedded wire broker (its own process, bench/embedded-broker.ts), 1 or 3 brokers.
 * - `external`: whatever KAFKA_BROKERS names.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import { ApacheKafka } from "@kafka-effect/testkit"
import { Kafka, logLevel } from "kafkajs"
import * as MockCluster from "../packages/kafka/test/harness/MockCluster.js"
import * as DelayProxy from "./delay-proxy.js"

export type BrokerName = "kafka" | "mock" | "embedded" | "external"

export interface BrokerHandle {
  readonly name: BrokerName
  readonly bootstrap: string
  readonly nodeIds: ReadonlyArray<number>
  /** Creates a topic; `leaders[p]` is the node id that leads partition p (where the broker lets us choose). */
  readonly createTopic: (topic: string, partitions: number, leaders?: ReadonlyArray<number>) => Promise<void>
  /**
   * Adds `ms` to every round trip (0 removes it) and gives the bootstrap that peers must use to see
   * it; undefined where this broker cannot.
   */
  readonly addRoundTrip: ((ms: number) => Promise<string>) | undefined
  /**
   * CPU (user + system, µs) the broker's processes have used so far, read before and after each
   * peer; undefined for a broker that is not our child (`--kafka`, `external`).
   */
  readonly cpuUs: (() => Promise<number>) | undefined
  /** The broker's CPU profile over one peer's run (the embedded broker only). */
  readonly profile?: { readonly start: () => Promise<void>; readonly stop: (file: string) => Promise<void> }
  readonly close: () => Promise<void>
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100

/** Processes whose parent is this one (read from /proc). */
const childPids = (): Set<number> => {
  const out = new Set<number>()
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ")"
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid === process.pid) out.add(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** utime + stime of the processes, in µs (10 ms steps); a process that has exited counts 0. */
const procCpuUs = (pids: ReadonlyArray<number>): number => {
  let ticks = 0
  for (const pid of pids) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const rest = fields.slice(fields.lastIndexOf(")") + 2).split(" ")
      // fields 14 and 15 (utime, stime) of the whole line are rest[11] and rest[12]
      ticks += Number(rest[11]) + Number(rest[12])
    } catch {
      // exited
    }
  }
  return (ticks / USER_HZ) * 1e6
}

/** Runs `start`, and gives the CPU reader of the child processes it started (the broker's own). */
const withChildCpu = async <A extends { readonly cpuUs: (() => Promise<number>) | undefined }>(start: () => Promise<A>): Promise<A> => {
  const before = childPids()
  const handle = await start()
  const pids = [...childPids()].filter((p) => !before.has(p))
  return { ...handle, cpuUs: async () => procCpuUs(pids) }
}

const admin = async <A>(bootstrap: string, f: (a: ReturnType<Kafka["admin"]>) => Promise<A>): Promise<A> => {
  const a = new Kafka({ brokers: bootstrap.split(","), clientId: "bench-admin", logLevel: logLevel.NOTHING }).admin()
  await a.connect()
  try {
    return await f(a)
  } finally {
    await a.disconnect()
  }
}

/** A cluster reached over the wire only: topics by CreateTopics (leaders by replica assignment). */
export const remote = async (name: BrokerName, bootstrap: string): Promise<BrokerHandle> => {
  const nodeIds = await admin(bootstrap, async (a) => (await a.describeCluster()).brokers.map((b) => b.nodeId).sort((x, y) => x - y))
  return {
    name,
    bootstrap,
    nodeIds,
    createTopic: (topic, partitions, leaders) =>
      admin(bootstrap, async (a) => {
        await a.createTopics({
          waitForLeaders: true,
          topics: [
            leaders === undefined
              ? { topic, numPartitions: partitions, replicationFactor: 1 }
              : {
                  topic,
                  // The preferred leader is the first replica; every node holds a replica.
                  replicaAssignment: leaders.map((leader, partition) => ({
                    partition,
                    replicas: [leader, ...nodeIds.filter((n) => n !== leader)],
                  })),
                },
          ],
        })
      }),
    addRoundTrip: undefined,
    cpuUs: undefined,
    close: async () => {},
  }
}

export const mock = (brokers: 1 | 3): Promise<BrokerHandle> => withChildCpu(() => mockUnmeasured(brokers))

const mockUnmeasured = async (brokers: 1 | 3): Promise<BrokerHandle> => {
  const scope = Effect.runSync(Scope.make())
  const cluster = await Effect.runPromise(MockCluster.make(brokers).pipe(Scope.extend(scope), Effect.provide(NodeContext.layer)))
  const nodeIds = Array.from({ length: brokers }, (_, i) => i + 1)
  const run = (e: Effect.Effect<void, MockCluster.MockClusterError>) => Effect.runPromise(e)
  return {
    name: "mock",
    bootstrap: cluster.bootstrap,
    nodeIds,
    createTopic: async (topic, partitions, leaders) => {
      await run(cluster.createTopic(topic, partitions, 1))
      if (leaders !== undefined) {
        for (const [p, leader] of leaders.entries()) await run(cluster.setLeader(topic, p, leader))
      }
    },
    addRoundTrip: async (ms) => {
      for (const b of nodeIds) await run(cluster.command(`rtt ${b} ${ms}`))
      return cluster.bootstrap
    },
    cpuUs: undefined,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}

export const embedded = async (root: string, brokers: 1 | 3): Promise<BrokerHandle> => {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/embedded-broker.ts"), String(brokers)], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  })
  const lines: Array<string> = []
  const waiting: Array<(line: string) => void> = []
  let buffered = ""
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString()
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      const line = buffered.slice(0, i)
      buffered = buffered.slice(i + 1)
      const w = waiting.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  const exited = new Promise<string>((resolve) => child.on("close", (code) => resolve(`embedded broker exited ${code}`)))
  const next = (): Promise<string> =>
    Promise.race([
      new Promise<string>((resolve) => {
        const l = lines.shift()
        if (l !== undefined) resolve(l)
        else waiting.push(resolve)
      }),
      exited.then((why) => Promise.reject(new Error(why))),
    ])
  const bootstrap = /^bootstrap: (\S+)/.exec(await next())?.[1]
  const nodes = /^nodes: (\S+)/.exec(await next())?.[1]
  if (bootstrap === undefined || nodes === undefined) throw new Error("embedded broker: no bootstrap line")
  const ask = async (line: string, expect: RegExp): Promise<RegExpExecArray> => {
    child.stdin!.write(`${line}\n`)
    const answer = await next()
    const m = expect.exec(answer)
    if (m === null) throw new Error(`embedded broker: ${line}: ${answer}`)
    return m
  }
  const command = async (line: string) => {
    await ask(line, /^ok$/)
  }
  const nodeIds = nodes.split(",").map(Number)
  return {
    name: "embedded",
    bootstrap,
    nodeIds,
    createTopic: async (topic, partitions, leaders) => {
      await admin(bootstrap, (a) => a.createTopics({ topics: [{ topic, numPartitions: partitions }] }))
      if (leaders !== undefined) {
        for (const [p, leader] of leaders.entries()) await command(`leader ${topic} ${p} ${leader}`)
      }
    },
    addRoundTrip: async (ms) => {
      await command(`latency ${ms}`)
      return bootstrap
    },
    // process.cpuUsage in the broker's process: µs, not /proc's 10 ms steps
    cpuUs: async () => Number((await ask("cpu", /^cpu (\d+)$/))[1]),
    profile: {
      start: () => command("profile start"),
      stop: (file) => command(`profile stop ${file}`),
    },
    close: async () => {
      child.stdin!.end()
      child.kill("SIGTERM")
      await exited
    },
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = address !== null && typeof address !== "string" ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/**
 * Real Apache Kafka started for the bench (the testkit's ApacheKafka; the JVM in its server profile for measurements).
 * One node also gets a second plain listener advertised at a delaying proxy (bench/delay-proxy.ts):
 * clients that bootstrap there stay behind the proxy, so the added round trip needs no rewriting.
 */
export const apacheKafka = (nodes: 1 | 3, jvm: "test" | "server"): Promise<BrokerHandle> =>
  withChildCpu(() => apacheKafkaUnmeasured(nodes, jvm))

const apacheKafkaUnmeasured = async (nodes: 1 | 3, jvm: "test" | "server"): Promise<BrokerHandle> => {
  if (nodes === 3) {
    const { cluster, close } = await ApacheKafka.start({ nodes: 3, jvm, logLevel: "WARN" })
    return { ...(await remote("kafka", cluster.bootstrap)), close }
  }
  const port = await freePort()
  const proxy = await DelayProxy.start()
  const { cluster, close } = await ApacheKafka.start({
    nodes: 1,
    port,
    jvm,
    logLevel: "WARN",
    security: {},
    config: {
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:PLAINTEXT",
      "advertised.listeners": `PLAINTEXT://127.0.0.1:${port},SECURE://127.0.0.1:${proxy.port}`,
    },
  })
  const secure = cluster.nodes[0]?.securePort
  if (secure === undefined) throw new Error("Apache Kafka: no second listener for the delaying proxy")
  proxy.setUpstream("127.0.0.1", secure)
  return {
    ...(await remote("kafka", cluster.bootstrap)),
    addRoundTrip: async (ms) => {
      proxy.setDelay(ms / 2)
      return ms === 0 ? cluster.bootstrap : `127.0.0.1:${proxy.port}`
    },
    close: async () => {
      await proxy.close()
      await close()
    },
  }
}
