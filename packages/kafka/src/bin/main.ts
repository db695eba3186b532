/**
 * The CLI's program (see cli.ts for the arguments): loaded once the arguments are valid.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { Cause, Chunk, Effect, Exit, Logger, LogLevel, Stream } from "effect"
import * as KafkaClient from "../KafkaClient.js"
import { consumeGroup } from "../group/consumeGroup.js"

export type From = { readonly _tag: "Beginning" } | { readonly _tag: "End" } | { readonly _tag: "Offset"; readonly offset: bigint }

export type Args =
  | { readonly command: "offsets"; readonly brokers: ReadonlyArray<string>; readonly topic: string }
  | {
      readonly command: "consume"
      readonly brokers: ReadonlyArray<string>
      readonly topic: string
      readonly partitions: ReadonlyArray<number> | undefined
      readonly from: From
      readonly max: number | undefined
      /** Consume as a member of this group (partitions from the group, commits, leave on exit). */
      readonly group: string | undefined
    }

// Everything Effect logs (offset resets, kafkajs warnings) goes to stderr, one logfmt line each.
const stderrLogger = Logger.make((options) => {
  process.stderr.write(`${Logger.logfmtLogger.log(options)}\n`)
})

const printOffsets = (args: Extract<Args, { command: "offsets" }>) =>
  Effect.gen(function* () {
    const client = yield* KafkaClient.KafkaClient
    const lister = yield* OffsetLister.OffsetLister
    const partitions = (yield* client.partitionsFor(args.topic)).map((p) => TopicPartition.make(args.topic, p))
    const [earliest, latest] = yield* Effect.all([lister.list(partitions, "earliest"), lister.list(partitions, "latest")], {
      concurrency: 2,
    })
    for (const [i, tp] of partitions.entries()) {
      process.stdout.write(
        `${JSON.stringify({ topic: tp.topic, partition: tp.partition, earliest: String(earliest[i]!.offset), latest: String(latest[i]!.offset) })}\n`,
      )
    }
  })

const recordLine = (r: ConsumerRecord.ConsumerRecord): string =>
  JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: String(r.offset),
    key: ConsumerRecord.utf8(r.key),
    value: ConsumerRecord.utf8(r.value),
  })

const consume = (args: Extract<Args, { command: "consume" }>) =>
  Effect.gen(function* () {
    const client = yield* KafkaClient.KafkaClient
    if (args.group !== undefined) {
      return yield* consumeGroup(client, { ...args, group: args.group }, (chunk) => {
        let out = ""
        for (const r of Chunk.toReadonlyArray(chunk)) out += `${recordLine(r)}\n`
        process.stdout.write(out)
      })
    }
    const known = yield* client.partitionsFor(args.topic)
    const chosen = args.partitions ?? known
    const missing = chosen.filter((p) => !known.includes(p))
    if (missing.length > 0) {
      return yield* Effect.fail(new Error(`--partitions: ${args.topic} has no partition ${missing.join(", ")} (it has ${known.length})`))
    }
    const tps = chosen.map((p) => TopicPartition.make(args.topic, p))
    const consumer = yield* Consumer.make({
      config: {
        isolationLevel: client.config.isolationLevel,
        autoOffsetReset: args.from._tag === "Beginning" ? "earliest" : "latest",
      },
    })
    yield* consumer.assign(tps)
    const from = args.from
    if (from._tag === "Beginning") yield* consumer.seekToBeginning(tps)
    else if (from._tag === "End") yield* consumer.seekToEnd(tps)
    else for (const tp of tps) yield* consumer.seek(tp, from.offset)
    const records = args.max === undefined ? consumer.records : consumer.records.pipe(Stream.take(args.max))
    yield* records.pipe(
      Stream.chunks,
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          let out = ""
          for (const r of Chunk.toReadonlyArray(chunk)) out += `${recordLine(r)}\n`
          process.stdout.write(out)
        }),
      ),
    )
  })

const main = (args: Args) => {
  const client = KafkaClient.layer({ brokers: args.brokers, clientId: "kafka-effect-cli", logLevel: "warn" })
  const program = args.command === "offsets" ? printOffsets(args) : Effect.scoped(consume(args))
  return program.pipe(
    Effect.provide(client),
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger)),
    Logger.withMinimumLogLevel(LogLevel.Warning),
  )
}

const oneLine = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!
}

/** Runs the command until it ends, fails (exit 1, one line on stderr) or is interrupted by Ctrl-C (exit 0). */
export const run = (args: Args): void =>
  NodeRuntime.runMain(main(args), {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // Ctrl-C interrupts the program: its scopes close (the connection is released), then exit 0.
    teardown: (exit, onExit) => {
      if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
        process.stderr.write(`kafka-effect: ${oneLine(exit.cause)}\n`)
        onExit(1)
      } else {
        onExit(0)
      }
    },
  })
