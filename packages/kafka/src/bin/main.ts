/**
 * The CLI's programs (see cli.ts for the commands and options): loaded once the arguments are valid,
 * so a bad argument answers before kafkajs is loaded.
 */
import { Consumer, type ConsumerRecord, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { type Chunk, Effect, FiberRef, Logger, LogLevel, Option, Ref, Stream } from "effect"
import * as KafkaClient from "../KafkaClient.js"
import { consumeGroup } from "./consumeGroup.js"
import { formatter } from "./format.js"
import type { From, OutputFormat, Progress, ValueFormat } from "./options.js"
import * as Status from "./status.js"

export interface OffsetsArgs {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
}

export interface ConsumeArgs {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  readonly partitions: Option.Option<ReadonlyArray<number>>
  readonly from: From
  readonly max: Option.Option<number>
  /** Consume as a member of this group (partitions from the group, commits, leave on exit). */
  readonly group: Option.Option<string>
  readonly format: OutputFormat
  readonly keyFormat: ValueFormat
  readonly valueFormat: ValueFormat
  readonly progress: Progress
}

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

const printOffsets = (args: OffsetsArgs) =>
  Effect.gen(function* () {
    const client = yield* KafkaClient.KafkaClient
    const lister = yield* OffsetLister.OffsetLister
    const partitions = (yield* client.partitionsFor(args.topic)).map((p) => TopicPartition.make(args.topic, p))
    const [earliest, latest] = yield* Effect.all([lister.list(partitions, "earliest"), lister.list(partitions, "latest")], {
      concurrency: 2,
    })
    let out = ""
    for (const [i, tp] of partitions.entries()) {
      out += `${JSON.stringify({ topic: tp.topic, partition: tp.partition, earliest: String(earliest[i]!.offset), latest: String(latest[i]!.offset) })}\n`
    }
    yield* write(out)
  })

const consume = (args: ConsumeArgs, live: boolean) =>
  Effect.gen(function* () {
    const client = yield* KafkaClient.KafkaClient
    const consumer = yield* Consumer.make({
      config: {
        isolationLevel: client.config.isolationLevel,
        autoOffsetReset: args.from._tag === "Beginning" ? "earliest" : "latest",
      },
    })
    const printed = live ? yield* Status.start(consumer, (t) => process.stderr.write(t)) : undefined
    const line = formatter(args)
    // One write per chunk; a record whose key or value cannot be shown as asked stops the command.
    const print = (chunk: Chunk.Chunk<ConsumerRecord.ConsumerRecord>) =>
      Effect.gen(function* () {
        let out = ""
        for (const r of chunk) out += `${yield* line(r)}\n`
        yield* write(out)
        if (printed !== undefined) yield* Ref.update(printed, (n) => n + chunk.length)
      })
    const max = Option.getOrUndefined(args.max)
    if (Option.isSome(args.group)) {
      return yield* consumeGroup(client, consumer, { ...args, group: args.group.value, max }, print)
    }
    const known = yield* client.partitionsFor(args.topic)
    const chosen = Option.getOrElse(args.partitions, () => known)
    const missing = chosen.filter((p) => !known.includes(p))
    if (missing.length > 0) {
      return yield* Effect.fail(new Error(`--partitions: ${args.topic} has no partition ${missing.join(", ")} (it has ${known.length})`))
    }
    const tps = chosen.map((p) => TopicPartition.make(args.topic, p))
    yield* consumer.assign(tps)
    const from = args.from
    if (from._tag === "Beginning") yield* consumer.seekToBeginning(tps)
    else if (from._tag === "End") yield* consumer.seekToEnd(tps)
    else for (const tp of tps) yield* consumer.seek(tp, from.offset)
    const records = max === undefined ? consumer.records : consumer.records.pipe(Stream.take(max))
    yield* records.pipe(Stream.chunks, Stream.runForEach(print))
  })

/** Everything Effect logs (offset resets, kafkajs warnings) goes to stderr, one logfmt line each. */
const stderrLogger = (live: boolean) =>
  Logger.make((options) => {
    // Over the live line, not after it: it is redrawn at the next tick.
    process.stderr.write(`${live ? Status.clearLine : ""}${Logger.logfmtLogger.log(options)}\n`)
  })

const client = (brokers: ReadonlyArray<string>) => KafkaClient.layer({ brokers, clientId: "kafka-effect-cli", logLevel: "warn" })

// Warnings and up unless `--log-level` (@effect/cli's built-in option) moved the level off its default.
const withLogging = (live: boolean) => <A, E, R>(program: Effect.Effect<A, E, R>) =>
  Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (level) =>
    program.pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger(live))),
      Logger.withMinimumLogLevel(level === LogLevel.Info ? LogLevel.Warning : level),
    ),
  )

export const offsets = (args: OffsetsArgs) => printOffsets(args).pipe(Effect.provide(client(args.brokers)), withLogging(false))

export const consumeCommand = (args: ConsumeArgs) => {
  const live = args.progress === "always" || (args.progress === "auto" && process.stderr.isTTY === true)
  return Effect.scoped(consume(args, live)).pipe(Effect.provide(client(args.brokers)), withLogging(live))
}
