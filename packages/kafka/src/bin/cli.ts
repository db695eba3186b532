#!/usr/bin/env -S npx tsx
/**
 * kafka-effect: a command line for people who operate consumers (`--help` on each command).
 *
 *   offsets  one JSON object per partition: {"topic","partition","earliest","latest"}
 *   consume  the records from --from (beginning|end|<offset>), as JSON or text lines; with --group,
 *            as a member of that group (commits what it printed, leaves the group on exit); a live
 *            line on stderr when stderr is a terminal; exit 0 after --max records or on Ctrl-C
 *   broker   the testkit's embedded wire broker          (needs @kafka-effect/testkit)
 *   kafka    real Apache Kafka from Maven Central's jars  (needs @kafka-effect/testkit)
 *
 * Without --brokers, KAFKA_BROKERS is read. A bad argument: one line naming it, exit 2; a failure:
 * one line, exit 1. `--completions bash|zsh|fish|sh` prints a completion script.
 */
// Modules, not the packages' indexes: the command answers sooner (it loads no HTTP, no workers).
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Data, Effect, Exit, Option } from "effect"
import * as O from "./options.js"

const offsets = Command.make("offsets", { brokers: O.brokers, topic: O.topic }, (args) =>
  Effect.flatMap(
    Effect.promise(() => import("./main.js")),
    (main) => main.offsets(args),
  ),
).pipe(Command.withDescription("The earliest and latest offset of each partition of a topic, one JSON object per partition."))

const consume = Command.make(
  "consume",
  {
    brokers: O.brokers,
    topic: O.topic,
    partitions: O.partitions,
    from: O.from,
    max: O.max,
    group: O.group,
    format: O.format,
    keyFormat: O.keyFormat,
    valueFormat: O.valueFormat,
    progress: O.progress,
  },
  (args) =>
    Effect.gen(function* () {
      if (Option.isSome(args.group) && Option.isSome(args.partitions)) {
        return yield* O.invalid("--partitions: cannot be combined with --group (the group assigns the partitions)")
      }
      const main = yield* Effect.promise(() => import("./main.js"))
      return yield* main.consumeCommand(args)
    }),
).pipe(
  Command.withDescription(
    "Print the records of a topic. Offset resets are logged on stderr; with --group it commits what it printed and leaves the group on exit.",
  ),
)

/** `broker` and `kafka` are the testkit's commands: a dev dependency, so possibly not installed. */
const testkit = await import("@kafka-effect/testkit/bin/commands").then(
  (m) => Option.some(m),
  (e: unknown) => {
    if (e instanceof Error && "code" in e && e.code === "ERR_MODULE_NOT_FOUND") return Option.none()
    throw e
  },
)

class NeedsTestkit extends Data.TaggedError("NeedsTestkit")<{ readonly command: string }> {
  override get message(): string {
    return `${this.command} needs @kafka-effect/testkit beside @kafka-effect/kafka: npm install --save-dev @kafka-effect/testkit`
  }
}

const missing = (name: "broker" | "kafka", description: string) =>
  Command.make(name, {}, () => new NeedsTestkit({ command: name })).pipe(Command.withDescription(`${description} (needs @kafka-effect/testkit)`))

const [broker, kafka] = Option.match(testkit, {
  onSome: (m) => [m.broker, m.kafka] as const,
  onNone: () => [missing("broker", "The embedded wire broker"), missing("kafka", "Real Apache Kafka")] as const,
})

export const root = Command.make("kafka-effect", {}, () =>
  O.invalid("missing command: offsets, consume, broker or kafka (--help for usage)"),
).pipe(
  Command.withDescription("kafka-effect's consumer as a command line, and local brokers to run it against."),
  Command.withSubcommands([offsets, consume, broker, kafka]),
)

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

/** An error as one plain line: @effect/cli's parse errors are coloured help documents. */
const oneLine = (e: unknown): string =>
  (ValidationError.isValidationError(e) ? HelpDoc.toAnsiText(e.error).replace(ansi, "") : e instanceof Error ? e.message : String(e))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(" ")

const commands = ["offsets", "consume", "broker", "kafka"]

const program = Effect.gen(function* () {
  const first = process.argv[2]
  // @effect/cli's own message for this does not name what was typed.
  if (first !== undefined && !first.startsWith("-") && !commands.includes(first)) {
    return yield* O.invalid(`unknown command ${JSON.stringify(first)} (expected ${commands.join(", ")})`)
  }
  if (process.argv.length === 4 && process.argv[2] === "--completions" && process.argv[3] === "bash") {
    // @effect/cli 0.77's bash script names the root `kafka-effect` where its subcommand cases expect
    // `kafka__effect`, so subcommands' options would not complete: the same script, made consistent.
    const lines = yield* Command.getBashCompletions(root, "kafka-effect")
    const script = lines.join("\n").replace('cmd="kafka-effect"', 'cmd="kafka__effect"').replace(/^(\s+)kafka-effect\)$/m, "$1kafka__effect)")
    return yield* Effect.sync(() => void process.stdout.write(`${script}\n`))
  }
  const console = yield* Effect.console
  // @effect/cli prints a parse error before failing with it; the teardown prints it once, on one line.
  return yield* Command.run(root, { name: "kafka-effect", version: "0.0.0" })(process.argv).pipe(
    Effect.withConsole({ ...console, error: () => Effect.void }),
  )
})

NodeRuntime.runMain(program.pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  // Ctrl-C interrupts the program: its scopes close (commits, leave the group, connections released), exit 0.
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return onExit(0)
    const e = Cause.squash(exit.cause)
    process.stderr.write(`kafka-effect: ${oneLine(e)}\n`)
    onExit(ValidationError.isValidationError(e) ? 2 : 1)
  },
})
