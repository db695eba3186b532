/**
 * The embedded wire broker in a process of its own for the bench, with a control channel on stdin:
 *
 *   leader <topic> <partition> <nodeId>   moves a partition's leadership   → ok
 *   latency <ms>                          every request answered after ms   → ok
 *   cpu                                   this process's CPU so far          → cpu <µs>
 *
 * Prints `bootstrap: host:port,…` first, then `nodes: id,…`.
 */
import * as readline from "node:readline"
import { TopicPartition } from "@kafka-effect/core"
import { EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Effect, Logger, LogLevel, Runtime } from "effect"

const brokers = Number(process.argv[2] ?? "1")
const apis: ReadonlyArray<TestBroker.FaultApi> = [
  "ApiVersions", "Metadata", "Produce", "CreateTopics", "Fetch", "ListOffsets",
  "FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat", "LeaveGroup", "OffsetCommit", "OffsetFetch",
]

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
          : Effect.fail(`unknown command ${cmd}`)
    Runtime.runPromise(runtime)(Effect.either(run)).then((r) =>
      process.stdout.write(r._tag === "Right" ? "ok\n" : `error ${String(r.left)}\n`),
    )
  })
  lines.on("close", () => process.exit(0))
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers, port: 0 })), Logger.withMinimumLogLevel(LogLevel.Warning))

Effect.runFork(main)
