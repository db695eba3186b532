/**
 * The embedded wire broker in a process of its own for the bench, with a control channel on stdin:
 *
 *   leader <topic> <partition> <nodeId>   moves a partition's leadership   → ok
 *   latency <ms>                          every request answered after ms   → ok
 *   cpu                                   this process's CPU so far          → cpu <µs>
 *   profile start                         starts the V8 CPU profiler         → ok
 *   profile stop <file>                   writes the profile (.cpuprofile)   → ok
 *
 * Prints `bootstrap: host:port,…` first, then `nodes: id,…`.
 */
import * as fs from "node:fs"
import * as inspector from "node:inspector"
import * as path from "node:path"
import * as readline from "node:readline"
import { TopicPartition } from "@kafka-effect/core"
import { EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Effect, Logger, LogLevel, Runtime } from "effect"

const brokers = Number(process.argv[2] ?? "1")
const apis: ReadonlyArray<TestBroker.FaultApi> = [
  "ApiVersions", "Metadata", "Produce", "CreateTopics", "Fetch", "ListOffsets",
  "FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat", "LeaveGroup", "OffsetCommit", "OffsetFetch",
]

const session = new inspector.Session()
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))))

/** The profiler over the inspector protocol: only what runs between start and stop is sampled. */
const profile = async (what: string, file: string | undefined): Promise<void> => {
  if (what === "start") {
    session.connect()
    await post("Profiler.enable")
    await post("Profiler.start")
    return
  }
  if (what !== "stop" || file === undefined) throw new Error(`profile ${what}: expected start or stop <file>`)
  const result = await post("Profiler.stop")
  session.disconnect()
  const profile = result !== null && typeof result === "object" && "profile" in result ? result.profile : undefined
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, JSON.stringify(profile))
}

const main = Effect.gen(function* () {
  const broker = yield* EmbeddedBroker.EmbeddedBroker
  const control = yield* TestBroker.TestBroker
  const runtime = yield* Effect.runtime<never>()
  process.stdout.write(`bootstrap: ${broker.bootstrap}\nnodes: ${broker.listeners.map((l) => l.nodeId).join(",")}\n`)
  const lines = readline.createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    const [cmd, ...rest] = line.trim().split(/\s+/)
    if (cmd === "cpu") {
      const cpu = process.cpuUsage()
      process.stdout.write(`cpu ${cpu.user + cpu.system}\n`)
      return
    }
    const run: Effect.Effect<void, unknown> =
      cmd === "leader"
        ? broker.moveLeader(TopicPartition.make(rest[0]!, Number(rest[1])), Number(rest[2]))
        : cmd === "latency"
          ? Effect.forEach(apis, (api) => control.setLatency(api, `${Number(rest[0])} millis`), { discard: true })
          : cmd === "profile"
            ? Effect.tryPromise(() => profile(rest[0] ?? "", rest[1]))
            : Effect.fail(`unknown command ${cmd}`)
    Runtime.runPromise(runtime)(Effect.either(run)).then((r) =>
      process.stdout.write(r._tag === "Right" ? "ok\n" : `error ${String(r.left)}\n`),
    )
  })
  lines.on("close", () => process.exit(0))
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers, port: 0 })), Logger.withMinimumLogLevel(LogLevel.Warning))

Effect.runFork(main)
