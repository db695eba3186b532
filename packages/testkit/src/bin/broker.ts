/**
 * `pnpm broker [--port 9092] [--brokers 3] [--partitions N] [--topic name:partitions]... [--sasl mechanism:user:password]...`
 *
 * A local Kafka without Docker or a JVM: the testkit's embedded wire broker. Prints
 * `bootstrap: 127.0.0.1:PORT[,…]` as its first line, then serves until SIGINT or SIGTERM and shuts
 * down cleanly (listeners closed, connections ended). With `--sasl` every connection must
 * authenticate (SASL_PLAINTEXT): each flag offers its mechanism (plain, scram-sha-256,
 * scram-sha-512) and adds its user, who may then use every mechanism offered.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Logger, LogLevel, Redacted } from "effect"
import * as EmbeddedBroker from "../wire/EmbeddedBroker.js"
import * as Sasl from "../wire/Sasl.js"

const usage = `usage: pnpm broker [--port 9092] [--brokers 3] [--partitions N] [--topic name:partitions]... [--sasl plain|scram-sha-256|scram-sha-512:user:password]... [--verbose]`

interface Args {
  port: number
  brokers: number
  partitions: number
  topics: Record<string, number>
  sasl: { mechanisms: Array<Sasl.Mechanism>; users: Record<string, Redacted.Redacted<string>> } | undefined
  verbose: boolean
}

const parse = (argv: ReadonlyArray<string>): Args => {
  const args: Args = { port: 9092, brokers: 1, partitions: 1, topics: {}, sasl: undefined, verbose: false }
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
      case "--sasl": {
        // mechanism:user:password (the password may itself hold colons)
        const [mechanism = "", user = "", ...rest] = (value() ?? "").split(":")
        const name = mechanism.toUpperCase()
        if (!Sasl.isMechanism(name) || user === "" || rest.length === 0) {
          console.error(`--sasl needs plain|scram-sha-256|scram-sha-512:user:password, got mechanism ${mechanism || "nothing"}\n${usage}`)
          process.exit(2)
        }
        const sasl = args.sasl ?? { mechanisms: [], users: {} }
        if (!sasl.mechanisms.includes(name)) sasl.mechanisms.push(name)
        sasl.users[user] = Redacted.make(rest.join(":"))
        args.sasl = sasl
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
  if (args.sasl !== undefined) {
    console.log(`SASL required: ${args.sasl.mechanisms.join(", ")}; users ${Object.keys(args.sasl.users).join(", ")}`)
  }
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
      ...(args.sasl === undefined ? {} : { sasl: args.sasl }),
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
