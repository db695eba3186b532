/**
 * The testkit's commands, `broker` (the embedded wire broker) and `kafka` (real Apache Kafka), as
 * `@effect/cli` commands: run on their own by `pnpm broker` / `pnpm kafka` (broker.ts, kafka.ts), and
 * as subcommands of the kafka package's `kafka-effect` when the testkit is installed beside it.
 * The brokers' modules load only when a command runs, so listing the commands costs nothing.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { Config, Console, Data, Effect, Logger, LogLevel, Option, Redacted } from "effect"
import * as Sasl from "../wire/Sasl.js"

const invalid = (message: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message)))

/** An integer option in `[min, max]`; the message names the option and the value given. */
const integer = (name: string, min: number, max: number, what: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.mapEffect((raw) => {
      const n = Number(raw)
      return /^\d+$/.test(raw) && n >= min && n <= max ? Effect.succeed(n) : invalid(`--${name}: expected ${what}, got ${JSON.stringify(raw)}`)
    }),
  )

/** One of `values`; the message names the option and the value given. */
const oneOf = <const A extends string>(name: string, values: ReadonlyArray<A>) =>
  Options.text(name).pipe(
    Options.withPseudoName(values.join("|")),
    Options.mapEffect((raw) => {
      const found = values.find((v) => v === raw)
      return found === undefined ? invalid(`--${name}: expected ${values.join(", ")}, got ${JSON.stringify(raw)}`) : Effect.succeed(found)
    }),
  )

const port = integer("port", 0, 65535, "a port number 0-65535")

/** `name` or `name:partitions`. */
const topicSpec = (spec: string) => {
  const [name = "", count, ...rest] = spec.split(":")
  const partitions = count === undefined ? undefined : Number(count)
  if (name === "" || rest.length > 0 || (partitions !== undefined && !(Number.isSafeInteger(partitions) && partitions >= 1))) {
    return invalid(`--topic: expected name[:partitions], got ${JSON.stringify(spec)}`)
  }
  return Effect.succeed({ name, partitions })
}

/** `mechanism:user:password` (the password may itself hold colons); the message never shows the password. */
const saslSpec = (spec: string) => {
  const [mechanism = "", user = "", ...rest] = spec.split(":")
  const name = mechanism.toUpperCase()
  return Sasl.isMechanism(name) && user !== "" && rest.length > 0
    ? Effect.succeed({ mechanism: name, user, password: Redacted.make(rest.join(":")) })
    : invalid(`--sasl needs plain|scram-sha-256|scram-sha-512:user:password, got mechanism ${mechanism || "nothing"}`)
}

const brokerOptions = {
  port: port.pipe(Options.withDescription("the first listener's port (0: any free port for each broker)"), Options.withDefault(9092)),
  brokers: integer("brokers", 1, 1000, "a broker count >= 1").pipe(
    Options.withDescription("how many brokers (listeners on consecutive ports; partition leaders spread over them)"),
    Options.withDefault(1),
  ),
  partitions: integer("partitions", 1, 1_000_000, "a partition count >= 1").pipe(
    Options.withDescription("partitions of a topic created on first use, and of --topic without a count"),
    Options.withDefault(1),
  ),
  topics: Options.text("topic").pipe(
    Options.withDescription("a topic to create at start, name[:partitions]; may be repeated"),
    Options.repeated,
    Options.mapEffect((specs) => Effect.forEach(specs, topicSpec)),
  ),
  sasl: Options.text("sasl").pipe(
    Options.withPseudoName("plain|scram-sha-256|scram-sha-512:user:password"),
    Options.withDescription("require SASL (SASL_PLAINTEXT): offer the mechanism and add the user; may be repeated"),
    Options.repeated,
    Options.mapEffect((specs) => Effect.forEach(specs, saslSpec)),
  ),
  verbose: Options.boolean("verbose").pipe(Options.withDescription("log every request on stderr")),
}

/** Logs go to stderr: stdout starts with the bootstrap line, for scripts that read it. */
const stderrLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

/**
 * The `broker` command: the embedded Kafka broker on a port, until interrupted.
 *
 * @since 0.1.0
 * @category utils
 */
export const broker = Command.make("broker", brokerOptions, (args) =>
  Effect.gen(function* () {
    const { EmbeddedBroker } = yield* Effect.promise(() => import("../index.js"))
    const topics = Object.fromEntries(args.topics.map((t) => [t.name, t.partitions ?? args.partitions]))
    const mechanisms = [...new Set(args.sasl.map((s) => s.mechanism))]
    const users = Object.fromEntries(args.sasl.map((s) => [s.user, s.password]))
    const sasl = mechanisms.length === 0 ? {} : { sasl: { mechanisms, users } }
    yield* Effect.gen(function* () {
      const embedded = yield* EmbeddedBroker.EmbeddedBroker
      yield* Console.log(`bootstrap: ${embedded.bootstrap}`)
      yield* Console.log(`${args.brokers} broker(s), topics auto-created with ${args.partitions} partition(s); Ctrl-C to stop`)
      if (mechanisms.length > 0) yield* Console.log(`SASL required: ${mechanisms.join(", ")}; users ${Object.keys(users).join(", ")}`)
      yield* Effect.addFinalizer(() => Console.log("broker stopped"))
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      Effect.provide(EmbeddedBroker.layer({ port: args.port, brokers: args.brokers, partitions: args.partitions, topics, ...sasl })),
      Effect.catchTag("SocketServerError", (e) => Effect.fail(new CommandFailed({ message: `cannot listen on port ${args.port}: ${String(e.cause)}` }))),
      Logger.withMinimumLogLevel(args.verbose ? LogLevel.Debug : LogLevel.Info),
      Effect.provide(stderrLogger),
    )
  }),
).pipe(Command.withDescription("A local Kafka without Docker or a JVM: the testkit's embedded wire broker, in memory, until Ctrl-C."))

const kafkaOptions = {
  nodes: oneOf("nodes", ["1", "3"]).pipe(
    Options.withDescription("one combined broker+controller node, or three (replication factor 3, min.insync.replicas 2)"),
    Options.withDefault("1"),
  ),
  port: port.pipe(Options.withDescription("the first node's port (default: a free one)"), Options.optional),
  // Not --version nor --log-level: those are @effect/cli's built-in options.
  version: Options.text("kafka-version").pipe(
    Options.withDescription("the Apache Kafka release, fetched from Maven Central once"),
    Options.withFallbackConfig(Config.string("KAFKA_VERSION")),
    Options.optional,
  ),
  logLevel: oneOf("kafka-log-level", ["ERROR", "WARN", "INFO", "DEBUG"]).pipe(
    Options.withDescription("Kafka's own log level (its server.log)"),
    Options.optional,
  ),
}

/**
 * The `kafka` command: real Apache Kafka from the cached jars, until interrupted.
 *
 * @since 0.1.0
 * @category utils
 */
export const kafka = Command.make("kafka", kafkaOptions, (args) =>
  Effect.gen(function* () {
    const { ApacheKafka } = yield* Effect.promise(() => import("../index.js"))
    const cluster = yield* ApacheKafka.make({
      nodes: args.nodes === "3" ? 3 : 1,
      ...Option.match(args.port, { onNone: () => ({}), onSome: (port) => ({ port }) }),
      ...Option.match(args.version, { onNone: () => ({}), onSome: (version) => ({ version }) }),
      ...Option.match(args.logLevel, { onNone: () => ({}), onSome: (logLevel) => ({ logLevel }) }),
    })
    yield* Console.log(`bootstrap: ${cluster.bootstrap}`)
    yield* Console.error(
      `Apache Kafka ${cluster.version}, ${cluster.nodes.length} node(s); logs: ${cluster.nodes.map((n) => `${n.dir}/server.log`).join(" ")}`,
    )
    yield* Effect.addFinalizer(() => Console.error("stopping Kafka"))
    return yield* Effect.never
  }).pipe(Effect.scoped),
).pipe(
  Command.withDescription(
    "Real Apache Kafka on this machine without Docker (jars from Maven Central, cached in ~/.cache/kafka-effect); Ctrl-C stops it and removes its data.",
  ),
)

/**
 * A command that could not do its work: one line on stderr, exit 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly message: string }> {}
