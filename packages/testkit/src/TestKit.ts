/**
 * Testing your own service: the in-memory broker and group coordinator in one layer, helpers that
 * drive `TestClock` until something has happened, a log capture, and small stream helpers.
 *
 * ```ts
 * import { Consumer, GroupConsumer } from "@kafka-effect/core"
 * import { TestKit } from "@kafka-effect/testkit"
 *
 * it.scoped("bills every order", () =>
 *   Effect.gen(function* () {
 *     yield* TestKit.produce("orders", 0, ["a", "b"])
 *     const fiber = yield* Effect.fork(myService)          // your service, unchanged
 *     yield* TestKit.until(billed.pipe(Effect.map((n) => n === 2)))
 *   }).pipe(Effect.provide(Consumer.layer().pipe(Layer.provideMerge(TestKit.layer({ topics: { orders: 1 } }))))))
 * ```
 *
 * Everything here runs in memory on Effect's `Clock`: under `it.effect`/`it.scoped` the clock is a
 * `TestClock`, so a fetch's long poll, a heartbeat or a session timeout happen only when the test
 * moves time (`advance`, `until`, `join`, `awaitRecords` do). For the same broker over TCP see
 * `EmbeddedBroker.layer()`; for the live kafkajs-backed ports over it, the kafka package's
 * `Testing.layerEmbedded()` (`@kafka-effect/kafka/Testing`).
 *
 * @since 0.1.0
 */
import {
  type Consumer,
  ConsumerRecord,
  type Fetcher,
  GroupCoordinator,
  type OffsetLister,
  TopicPartition,
} from "@kafka-effect/core"
import {
  type Cause,
  Chunk,
  Data,
  Duration,
  Effect,
  type Fiber,
  HashMap,
  Layer,
  Logger,
  type LogLevel,
  Stream,
  TestClock,
} from "effect"
import * as BrokerModel from "./BrokerModel.js"
import * as InMemoryCoordinator from "./InMemoryCoordinator.js"
import * as TestBroker from "./TestBroker.js"

// ---------------------------------------------------------------------------------------------
// the layer

/**
 * Options of `TestKit.layer`: the in-memory broker's options and the group coordinator's.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options extends BrokerModel.Options {
  /** Options of the in-memory group coordinator (session timeout bounds, …). */
  readonly coordinator?: InMemoryCoordinator.Options
}

/**
 * What `layer` provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Services =
  | TestBroker.TestBroker
  | Fetcher.Fetcher
  | OffsetLister.OffsetLister
  | BrokerModel.BrokerModel
  | InMemoryCoordinator.InMemoryCoordinator
  | GroupCoordinator.GroupCoordinator
  | GroupCoordinator.TopicMetadata

/**
 * A fresh in-memory broker with its group coordinator: everything `Consumer.layer()` and
 * `GroupConsumer.subscribe` need (core's `Fetcher`, `OffsetLister`, `GroupCoordinator`,
 * `TopicMetadata`), plus the controls (`TestBroker`: produce, faults, DeleteRecords, truncation,
 * the request log; `InMemoryCoordinator`: groups, commits, member crashes). No socket is opened.
 * The `GroupCoordinator` is one client named "default"; for several members see `asMember`.
 *
 * @example
 * import { Consumer, TopicPartition } from "@kafka-effect/core"
 * import { TestKit } from "@kafka-effect/testkit"
 * import { Effect, Layer, TestContext } from "effect"
 *
 * // The in-memory broker and group coordinator under a real Consumer, on the TestClock.
 * const kit = Consumer.layer().pipe(Layer.provideMerge(TestKit.layer({ topics: { orders: 1 } })))
 *
 * const test = Effect.gen(function* () {
 *   yield* TestKit.produce("orders", 0, ["a", "b", "c"])
 *   const consumer = yield* Consumer.Consumer
 *   const tp = TopicPartition.make("orders", 0)
 *   yield* consumer.assign([tp])
 *   yield* consumer.seek(tp, 1n)
 *   // moves the TestClock until the records arrived (fails with StillWaiting instead of hanging)
 *   const records = yield* TestKit.awaitRecords(consumer, 2)
 *   assert.deepStrictEqual(TestKit.describe(records), ["orders-0@1=b", "orders-0@2=c"])
 * })
 *
 * Effect.runPromise(test.pipe(Effect.provide(kit), Effect.scoped, Effect.provide(TestContext.TestContext)))
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Services> => {
  const { coordinator, ...model } = options
  return Layer.provideMerge(
    Layer.merge(TestBroker.layerFromModel, InMemoryCoordinator.layerFromModel(coordinator)),
    BrokerModel.layer(model),
  )
}

/**
 * Runs `effect` as the group member `name`: its own coordinator client, so that several members in
 * one test are distinct to the coordinator (and `InMemoryCoordinator.disconnect(name)` crashes one).
 *
 * @since 0.1.0
 * @category broker
 */
export const asMember =
  (name: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, InMemoryCoordinator.InMemoryCoordinator | Exclude<R, GroupCoordinator.GroupCoordinator>> =>
    Effect.flatMap(InMemoryCoordinator.InMemoryCoordinator, (coordinator) =>
      Effect.provideService(effect, GroupCoordinator.GroupCoordinator, coordinator.client(name)),
    )

/**
 * Appends records (a string is a value) to one partition; returns the offset of the first one.
 *
 * @since 0.1.0
 * @category broker
 */
export const produce = (
  topic: string,
  partition: number,
  records: ReadonlyArray<string | TestBroker.ProducedRecord>,
): Effect.Effect<bigint, never, TestBroker.TestBroker> =>
  Effect.flatMap(TestBroker.TestBroker, (broker) =>
    broker.produce(
      topic,
      partition,
      records.map((r) => (typeof r === "string" ? { value: r } : r)),
    ),
  )

/**
 * The group's committed offsets (the next offset to consume) for these partitions, keyed
 * `topic-partition`; `undefined` where the group committed nothing.
 *
 * @since 0.1.0
 * @category broker
 */
export const committed = (
  groupId: string,
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
): Effect.Effect<Readonly<Record<string, bigint | undefined>>, never, InMemoryCoordinator.InMemoryCoordinator> =>
  Effect.gen(function* () {
    const port = (yield* InMemoryCoordinator.InMemoryCoordinator).client("testkit")
    const coordinator = yield* port.findCoordinator(groupId)
    const offsets = yield* port.offsetFetch({ groupId, coordinator, partitions })
    return Object.fromEntries(offsets.map((o) => [TopicPartition.format(o), o.offset]))
  }).pipe(Effect.orDie)

// ---------------------------------------------------------------------------------------------
// driving the TestClock

/**
 * How the TestClock drivers step time: the step, and the most time they advance before giving up.
 *
 * @since 0.1.0
 * @category options
 */
export interface DriveOptions {
  /** How far the TestClock moves between two looks. Default 100 millis. */
  readonly step?: Duration.DurationInput
  /** How much TestClock time may pass before giving up with `StillWaiting`. Default 60 seconds. */
  readonly max?: Duration.DurationInput
}

/**
 * The condition did not hold (or the fiber did not finish) within `max` of TestClock time.
 *
 * @since 0.1.0
 * @category errors
 */
export class StillWaiting extends Data.TaggedError("StillWaiting")<{
  readonly what: string
  readonly waited: Duration.Duration
}> {
  override get message(): string {
    return `still waiting for ${this.what} after ${Duration.format(this.waited)} of TestClock time`
  }
}

// Between two clock steps every fiber that can run gets its turn: fetch loops, heartbeats, timers.
const settle = Effect.repeatN(Effect.yieldNow(), 9)

const drive = <A, E, R>(
  what: string,
  look: Effect.Effect<{ readonly done: false } | { readonly done: true; readonly value: A }, E, R>,
  options: DriveOptions,
): Effect.Effect<A, E | StillWaiting, R> =>
  Effect.gen(function* () {
    const step = Duration.decode(options.step ?? "100 millis")
    const max = Duration.decode(options.max ?? "60 seconds")
    let waited = Duration.zero
    for (;;) {
      yield* settle
      const seen = yield* look
      if (seen.done) return seen.value
      if (Duration.greaterThanOrEqualTo(waited, max)) return yield* new StillWaiting({ what, waited })
      yield* TestClock.adjust(step)
      waited = Duration.sum(waited, step)
    }
  })

/**
 * Moves the TestClock forward by `duration` in steps (default 100 millis), letting every fiber run
 * between steps, so that long polls, heartbeats and timers fire in order as they would in real time.
 *
 * @since 0.1.0
 * @category time
 */
export const advance = (duration: Duration.DurationInput, options: Pick<DriveOptions, "step"> = {}): Effect.Effect<void> =>
  Effect.gen(function* () {
    const total = Duration.decode(duration)
    const step = Duration.decode(options.step ?? "100 millis")
    let moved = Duration.zero
    while (Duration.lessThan(moved, total)) {
      const next = Duration.min(step, Duration.subtract(total, moved))
      yield* settle
      yield* TestClock.adjust(next)
      moved = Duration.sum(moved, next)
    }
    yield* settle
  })

/**
 * Moves the TestClock in steps until `condition` holds; `StillWaiting` after `max`.
 *
 * @since 0.1.0
 * @category time
 */
export const until = <E, R>(
  condition: Effect.Effect<boolean, E, R>,
  options: DriveOptions & { readonly what?: string } = {},
): Effect.Effect<void, E | StillWaiting, R> =>
  drive(
    options.what ?? "the condition",
    Effect.map(condition, (ok) => (ok ? { done: true as const, value: undefined } : { done: false as const })),
    options,
  )

/**
 * Moves the TestClock in steps until the fiber is done, then its result; `StillWaiting` after `max`.
 *
 * @since 0.1.0
 * @category time
 */
export const join = <A, E>(
  fiber: Fiber.Fiber<A, E>,
  options: DriveOptions = {},
): Effect.Effect<A, E | StillWaiting> =>
  Effect.flatten(
    drive(
      `fiber ${fiber.id()}`,
      Effect.map(fiber.poll, (exit) => (exit._tag === "Some" ? { done: true as const, value: exit.value } : { done: false as const })),
      options,
    ),
  )

/**
 * The first `n` records of a stream (a consumer's `records`, a group's `records`), moving the
 * TestClock until they have arrived; `StillWaiting` after `max`.
 *
 * @since 0.1.0
 * @category time
 */
export const awaitRecords = <E, R>(
  records: Stream.Stream<ConsumerRecord.ConsumerRecord, E, R> | { readonly records: Stream.Stream<ConsumerRecord.ConsumerRecord, E, R> },
  n: number,
  options: DriveOptions = {},
): Effect.Effect<ReadonlyArray<ConsumerRecord.ConsumerRecord>, E | StillWaiting, R> =>
  Effect.gen(function* () {
    const stream = "records" in records ? records.records : records
    const fiber = yield* Effect.fork(take(stream, n))
    return yield* join(fiber, options)
  })

// ---------------------------------------------------------------------------------------------
// streams

/**
 * The first `n` elements of a stream, as an array.
 *
 * @since 0.1.0
 * @category streams
 */
export const take = <A, E, R>(stream: Stream.Stream<A, E, R>, n: number): Effect.Effect<ReadonlyArray<A>, E, R> =>
  stream.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

/**
 * The values of records as UTF-8 (null for a tombstone).
 *
 * @since 0.1.0
 * @category streams
 */
export const values = (records: Iterable<ConsumerRecord.ConsumerRecord>): ReadonlyArray<string | null> =>
  Array.from(records, (r) => ConsumerRecord.utf8(r.value))

/**
 * Records as `topic-partition@offset=value` strings, for one `toEqual` over a whole delivery.
 *
 * @since 0.1.0
 * @category streams
 */
export const describe = (records: Iterable<ConsumerRecord.ConsumerRecord>): ReadonlyArray<string> =>
  Array.from(records, (r) => `${r.topic}-${r.partition}@${r.offset}=${ConsumerRecord.utf8(r.value)}`)

/**
 * The consumer's next event (an `OffsetReset`), moving the TestClock until it comes.
 *
 * @since 0.1.0
 * @category broker
 */
export const nextEvent = (
  consumer: Pick<Consumer.Service<unknown>, "subscribeEvents">,
  options: DriveOptions = {},
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const queue = yield* consumer.subscribeEvents
      const fiber = yield* Effect.fork(queue.take)
      return yield* join(fiber, options)
    }),
  )

// ---------------------------------------------------------------------------------------------
// logs

/**
 * One log line as the logger saw it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CapturedLog {
  readonly level: LogLevel.LogLevel["label"]
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  readonly cause: Cause.Cause<unknown>
}

/**
 * Captured log lines and the layer that captures them.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogCapture {
  /** Provide it to what should be captured. */
  readonly layer: Layer.Layer<never>
  /** Every line so far, oldest first. */
  readonly logs: Effect.Effect<ReadonlyArray<CapturedLog>>
  /** The WARN lines so far. */
  readonly warnings: Effect.Effect<ReadonlyArray<CapturedLog>>
  readonly clear: Effect.Effect<void>
}

/**
 * Options of a log capture.
 *
 * @since 0.1.0
 * @category options
 */
export interface CaptureOptions {
  /** Replace the default logger, so nothing is printed. Default false: print as well. */
  readonly quiet?: boolean
  /** Capture from this level up. Default: the fiber's minimum level (Info unless changed). */
  readonly minimumLevel?: LogLevel.LogLevel
}

const textOf = (message: unknown): string => (Array.isArray(message) ? message.map(String).join(" ") : String(message))

/**
 * A logger that keeps every line for assertions: its `layer`, and the lines it saw.
 *
 * @since 0.1.0
 * @category logs
 */
export const makeLogCapture = (options: CaptureOptions = {}): Effect.Effect<LogCapture> =>
  Effect.sync(() => {
    const lines: Array<CapturedLog> = []
    const logger = Logger.make(({ logLevel, message, annotations, cause }) => {
      lines.push({ level: logLevel.label, message: textOf(message), annotations: Object.fromEntries(HashMap.toEntries(annotations)), cause })
    })
    const installed = options.quiet === true ? Logger.replace(Logger.defaultLogger, logger) : Logger.add(logger)
    return {
      layer: options.minimumLevel === undefined ? installed : Layer.merge(installed, Logger.minimumLogLevel(options.minimumLevel)),
      logs: Effect.sync(() => [...lines]),
      warnings: Effect.sync(() => lines.filter((l) => l.level === "WARN")),
      clear: Effect.sync(() => {
        lines.length = 0
      }),
    }
  })

/**
 * Runs `effect` with a log capture: its result and the lines it logged.
 *
 * @since 0.1.0
 * @category logs
 */
export const captureLogs = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: CaptureOptions = {},
): Effect.Effect<readonly [A, ReadonlyArray<CapturedLog>], E, R> =>
  Effect.flatMap(makeLogCapture(options), (capture) =>
    Effect.flatMap(Effect.provide(effect, capture.layer), (a) => Effect.map(capture.logs, (logs) => [a, logs] as const)),
  )
