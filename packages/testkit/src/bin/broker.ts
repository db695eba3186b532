/**
 * `pnpm broker [--port 9092] [--brokers 3] [--partitions N] [--topic name:partitions]...`
 *
 * A local Kafka without Docker or a JVM: the testkit's embedded wire broker. Prints
 * `bootstrap: 127.0.0.1:PORT[,…]` as its first line, then serves until SIGINT or SIGTERM and shuts
 * down cleanly (listeners closed, connections ended).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Logger, LogLevel } from "effect"
import * as EmbeddedBroker from "../wire/EmbeddedBroker.js"

const usage = `usage: pnpm broker [--port 9092] [--brokers 3] [--partitions N] [--topic name:partitions]... [--verbose]`

interface Args {
  port: number
  brokers: number
  partitions: number
  topics: Record<string, number>
  verbose: boolean
}

const parse = (argv: ReadonlyArray<string>): Args => {
  const args: Args = { port: 9092, brokers: 1, partitions: 1, topics: {}, verbose: false }
  const int = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value)
    if (value === undefined || !Number.isInteger(n) || n < min) {
      console.error(`${flag} needs an integer >= ${min}, got ${value ?? "nothing"}\n${usage}`)
      process.exit(2)
    }
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]
    const value = () => inline ?? argv[++i]
    switch (flag) {
      case "--port":
        args.port = int(flag, value(), 0)
        break
      case "--brokers":
        args.brokers = int(flag, value(), 1)
        break
      case "--partitions":
        args.partitions = int(flag, value(), 1)
        break
      case "--topic": {
        const spec = value() ?? ""
        const [name, count] = spec.split(":")
        if (name === undefined || name === "") {
          console.error(`--topic needs name[:partitions]\n${usage}`)
          process.exit(2)
        }
        args.topics[name] = count === undefined ? args.partitions : int("--topic", count, 1)
        break
      }
      case "--verbose":
        args.verbose = true
        break
      case "--":
        break
      case "-h":
      case "--help":
        console.log(usage)
        process.exit(0)
        break
      default:
        console.error(`unknown argument ${a}\n${usage}`)
        process.exit(2)
    }
  }
  return args
}

const args = parse(process.argv.slice(2))

const main = Effect.gen(function* () {
  const broker = yield* EmbeddedBroker.EmbeddedBroker
  console.log(`bootstrap: ${broker.bootstrap}`)
  console.log(
    `${args.brokers} broker(s), topics auto-created with ${args.partitions} partition(s); Ctrl-C to stop`,
  )
  yield* Effect.addFinalizer(() => Effect.sync(() => console.log("broker stopped")))
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(
    EmbeddedBroker.layer({
      port: args.port,
      brokers: args.brokers,
      partitions: args.partitions,
      topics: args.topics,
    }),
  ),
  Effect.catchTag("SocketServerError", (e) =>
    Effect.sync(() => {
      console.error(`cannot listen on port ${args.port}: ${String(e.cause)}`)
      process.exitCode = 1
    }),
  ),
  Logger.withMinimumLogLevel(args.verbose ? LogLevel.Debug : LogLevel.Info),
)

// Logs go to stderr: stdout starts with the bootstrap line, for scripts that read it.
const stderrLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

NodeRuntime.runMain(main.pipe(Effect.provide(stderrLogger)), { disablePrettyLogger: true })
