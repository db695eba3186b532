/**
 * The conformance suite (offset-out-of-range recovery and seeking) as a function of a
 * broker layer. It runs against every implementation of the ports: the in-memory model
 * (`TestBroker.layer`, on `TestClock`), librdkafka's mock cluster and the embedded wire broker (real
 * time: `{ live: true }`).
 *
 * Scenarios say which `TestBroker.capabilities` they need; those the broker lacks are not
 * registered, and one test lists them with the reason. Each scenario uses its own topics, so a
 * layer that shares one broker between tests is fine (faults are always scoped to the scenario's
 * partitions).
 *
 * @since 0.1.0
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Consumer,
  type ConsumerEvent,
  ConsumerRecord,
  ErrorCode,
  type Fetcher,
  type KafkaError,
  type OffsetLister,
  OffsetRecovery,
  TopicPartition,
} from "@kafka-effect/core"
import {
  Chunk,
  Duration,
  Effect,
  Fiber,
  type Layer,
  Predicate,
  Queue,
  Schedule,
  type Scope,
  Stream,
  TestClock,
} from "effect"
import { type Capabilities, type RequestLogEntry, TestBroker } from "./TestBroker.js"
import * as TestKit from "./TestKit.js"

type Ports = Fetcher.Fetcher | OffsetLister.OffsetLister | TestBroker

/**
 * Options of the conformance suite: live clock or TestClock, what the broker under test supports, the
 * timeout of a scenario, and whether it is a wire broker.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /**
   * The broker runs on real time (a real network peer): tests use the live Clock with short real
   * durations instead of `TestClock`.
   */
  readonly live?: boolean
  /** Skip building the layer once to read its capabilities. */
  readonly capabilities?: Capabilities
  /** Per-test timeout in milliseconds (vitest's), default 20s live, 5s otherwise. */
  readonly timeout?: number
  /**
   * The ports speak the Kafka protocol over TCP to the broker whose request log the scenarios read
   * (the embedded wire broker): the request-log scenarios also check that every request they count
   * was served over the wire (addressed to a broker, `brokerId` set), not by in-memory ports.
   */
  readonly wire?: boolean
}

/**
 * What a scenario gets: the broker, the clock, and a consumer builder.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly broker: TestBroker["Type"]
  readonly live: boolean
  /** The ports reach the broker over the wire (see `Options.wire`). */
  readonly wire: boolean
  /** Broker long-poll time the consumers use. */
  readonly maxWaitMs: number
  /** The delay of the ListOffsets retry schedule scenarios use. */
  readonly retryDelay: Duration.Duration
  /** A topic with `partitions` partitions, named after the scenario. */
  readonly topic: (name: string, partitions?: number) => Effect.Effect<string>
  /** Lets time pass: `TestClock.adjust` or a real sleep. */
  readonly advance: (d: Duration.DurationInput) => Effect.Effect<void>
  /** Waits for a fiber, moving the TestClock on in steps while it runs. */
  readonly join: <A, E>(fiber: Fiber.RuntimeFiber<A, E>) => Effect.Effect<A, E>
  readonly consumer: <E = never>(options?: Consumer.MakeOptions<E>) => Effect.Effect<Consumer.Service<E>, KafkaError.InvalidConfig, Scope.Scope | Ports>
  /** A logger capturing lines for the rest of the scenario. */
  readonly captureLogs: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<readonly [A, ReadonlyArray<TestKit.CapturedLog>], E, R>
  /** The requests served since the last `clearRequests`, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>>
}

/**
 * One scenario of the conformance suite: its id and title, the broker capabilities it needs, and the
 * Effect that runs it against the ports.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scenario {
  readonly id: string
  readonly title: string
  readonly requires: ReadonlyArray<keyof Capabilities>
  readonly run: (ctx: Context) => Effect.Effect<void, unknown, Scope.Scope | Ports>
}

const values = (records: Iterable<ConsumerRecord.ConsumerRecord>) =>
  [...records].map((r) => `${r.topic}/${r.partition}@${r.offset}=${ConsumerRecord.utf8(r.value)}`)

const offsets = (records: Iterable<ConsumerRecord.ConsumerRecord>) => [...records].map((r) => r.offset)

const produceValues = (ctx: Context, topic: string, partition: number, vs: ReadonlyArray<string>) =>
  ctx.broker.produce(
    topic,
    partition,
    vs.map((value) => ({ value })),
  )

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

/** Takes `n` records in a fiber. */
const takeFork = <E>(consumer: { readonly records: Stream.Stream<ConsumerRecord.ConsumerRecord, E> }, n: number) =>
  Effect.fork(consumer.records.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray)))

const nextEvent = (events: Queue.Dequeue<ConsumerEvent.ConsumerEvent>) => Queue.take(events)

/** The requests between the first Fetch answered out of range and the next Fetch, inclusive. */
const afterReset = (log: ReadonlyArray<RequestLogEntry>) => {
  const first = log.findIndex((e) => e.api === "ListOffsets")
  const next = log.findIndex((e, i) => i > first && e.api === "Fetch")
  return { before: log.slice(0, first), lists: log.slice(first, next < 0 ? undefined : next), next: next < 0 ? undefined : log[next] }
}

const tp = TopicPartition.make

/** Under `wire`, every request counted must have reached a broker over TCP. */
const expectServedOverWire = (ctx: Context, entries: ReadonlyArray<RequestLogEntry>) => {
  if (!ctx.wire) return
  expect(entries.length).toBeGreaterThan(0)
  expect(entries.filter((e) => e.brokerId === undefined).map((e) => e.api)).toEqual([])
}

/** The answer's error code for `topic`'s partition 0 in a log entry, if any. */
const errorCode = (entry: RequestLogEntry | undefined, topic: string) =>
  entry?.errors?.find((e) => e.topic === topic && e.partition === 0)?.code

/**
 * Every scenario of the conformance suite, in order.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const scenarios: ReadonlyArray<Scenario> = [
  {
    id: "1",
    title: "requested < earliest: resets to earliest and delivers from there, no error reaches the user",
    requires: ["deleteRecords"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("below-start")
        yield* produceValues(ctx, t, 0, range("v", 3))
        const consumer = yield* ctx.consumer()
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 0n)
        const first = yield* ctx.join(yield* takeFork(consumer, 3))
        expect(offsets(first)).toEqual([0n, 1n, 2n])
        yield* produceValues(ctx, t, 0, range("v", 10).slice(3))
        // retention moves the log start past the consumer (at 3)
        yield* ctx.broker.deleteRecords(tp(t, 0), 6n)
        const rest = yield* ctx.join(yield* takeFork(consumer, 4))
        expect(values(rest)).toEqual([6, 7, 8, 9].map((i) => `${t}/0@${i}=v${i}`))
        expect(yield* consumer.position(tp(t, 0))).toBe(10n)
        const event = yield* nextEvent(events)
        expect(event).toMatchObject({ requestedOffset: 3n, earliest: 6n, latest: 10n, newOffset: 6n, skipped: 3n })
      }),
  },
  {
    id: "2",
    title: "requested > latest: resets to latest and delivers the next record produced",
    requires: [],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("past-end")
        yield* produceValues(ctx, t, 0, range("v", 3))
        const consumer = yield* ctx.consumer()
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 50n)
        const fiber = yield* takeFork(consumer, 1)
        const event = yield* nextEvent(events)
        expect(event).toMatchObject({ topic: t, partition: 0, requestedOffset: 50n, earliest: 0n, latest: 3n, newOffset: 3n, skipped: 0n })
        yield* produceValues(ctx, t, 0, ["next"])
        expect(values(yield* ctx.join(fiber))).toEqual([`${t}/0@3=next`])
      }),
  },
  {
    id: "2b",
    title: "after a truncation (unclean leader election) the consumer resets to the new end",
    requires: ["truncate"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("truncated")
        yield* produceValues(ctx, t, 0, range("v", 8))
        const consumer = yield* ctx.consumer()
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seekToBeginning()
        expect(offsets(yield* ctx.join(yield* takeFork(consumer, 8)))).toEqual(range("", 8).map(BigInt))
        yield* ctx.broker.truncate(tp(t, 0), 5n)
        const fiber = yield* takeFork(consumer, 1)
        const event = yield* nextEvent(events)
        expect(event).toMatchObject({ requestedOffset: 8n, latest: 5n, newOffset: 5n, skipped: 0n })
        yield* produceValues(ctx, t, 0, ["after"])
        expect(values(yield* ctx.join(fiber))).toEqual([`${t}/0@5=after`])
      }),
  },
  {
    id: "3",
    title: "the reset is logged as a warning with the facts, published as an event, and counted",
    requires: [],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("warning")
        yield* produceValues(ctx, t, 0, range("v", 4))
        const consumer = yield* ctx.consumer()
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 9n)
        const [, logs] = yield* ctx.captureLogs(
          Effect.gen(function* () {
            const fiber = yield* takeFork(consumer, 1)
            yield* nextEvent(events)
            yield* produceValues(ctx, t, 0, ["next"])
            yield* ctx.join(fiber)
          }),
        )
        const warnings = logs.filter((l) => l.level === "WARN")
        expect(warnings).toHaveLength(1)
        expect(warnings[0]!.message).toMatch(/^Offset out of range, resetting to 4/)
        expect(warnings[0]!.annotations).toMatchObject({
          topic: t,
          partition: 0,
          requestedOffset: "9",
          earliest: "0",
          latest: "4",
          newOffset: "4",
          skipped: "0",
        })
      }),
  },
  {
    id: "4",
    title: "after a reset the next fetch goes out at once: ListOffsets (one round trip), then Fetch",
    requires: ["requestLog"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("at-once")
        yield* produceValues(ctx, t, 0, range("v", 3))
        const consumer = yield* ctx.consumer()
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 50n)
        yield* ctx.broker.clearRequests
        const fiber = yield* takeFork(consumer, 1)
        yield* nextEvent(events)
        yield* produceValues(ctx, t, 0, ["next"])
        expect(values(yield* ctx.join(fiber))).toEqual([`${t}/0@3=next`])
        // the data path only: a wire client also sends ApiVersions/Metadata when it connects
        const log = (yield* ctx.requests).filter((e) => e.api === "Fetch" || e.api === "ListOffsets")
        expectServedOverWire(ctx, log)
        const { before, lists, next } = afterReset(log)
        expect(before.map((e) => e.api)).toEqual(["Fetch"])
        // that Fetch was answered OFFSET_OUT_OF_RANGE (1) by the broker, and the next one was not
        expect(errorCode(before[0], t)).toBe(1)
        expect(errorCode(next, t)).toBeUndefined()
        // one round trip: earliest and latest go out together (at most one request per spec)
        expect(lists.length).toBeGreaterThanOrEqual(1)
        expect(lists.length).toBeLessThanOrEqual(2)
        expect(lists.every((e) => e.api === "ListOffsets")).toBe(true)
        expect(next?.api).toBe("Fetch")
        const slack = ctx.live ? 200 : 0
        const times = [...lists, next!].map((e) => e.at)
        expect(Math.max(...times) - Math.min(...times)).toBeLessThanOrEqual(slack)
        expect(times[0]! - before[0]!.at).toBeLessThanOrEqual(slack)
      }),
  },
  {
    id: "5",
    title: "empty topic: resets to 0 and waits for data, with a bounded request count while idle",
    requires: ["requestLog"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("empty")
        const consumer = yield* ctx.consumer()
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 7n)
        yield* ctx.broker.clearRequests
        const fiber = yield* takeFork(consumer, 1)
        const event = yield* nextEvent(events)
        expect(event).toMatchObject({ requestedOffset: 7n, earliest: 0n, latest: 0n, newOffset: 0n })
        const idle = ctx.maxWaitMs * 10
        yield* ctx.advance(idle)
        const log = yield* ctx.requests
        expectServedOverWire(
          ctx,
          log.filter((e) => e.api === "Fetch" || e.api === "ListOffsets"),
        )
        // the first Fetch is the one answered out of range
        expect(errorCode(log.find((e) => e.api === "Fetch"), t)).toBe(1)
        const fetches = log.filter((e) => e.api === "Fetch").length
        const lists = log.filter((e) => e.api === "ListOffsets").length
        expect(lists).toBeLessThanOrEqual(2)
        // the out-of-range fetch, then one long poll per maxWait
        expect(fetches).toBeLessThanOrEqual(1 + idle / ctx.maxWaitMs + 2)
        expect(yield* consumer.position(tp(t, 0))).toBe(0n)
        yield* produceValues(ctx, t, 0, ["first"])
        expect(values(yield* ctx.join(fiber))).toEqual([`${t}/0@0=first`])
      }),
  },
  {
    id: "6",
    title: "ListOffsets network failures are retried on the schedule; past it the stream fails with ListOffsetsError carrying the facts",
    requires: ["faults"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("list-retry")
        yield* produceValues(ctx, t, 0, range("v", 3))
        const schedule = Schedule.spaced(ctx.retryDelay).pipe(Schedule.intersect(Schedule.recurs(3)))
        const consumer = yield* ctx.consumer({ recovery: OffsetRecovery.nearest({ listOffsetsRetry: schedule }) })
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 50n)
        // a round trip is two requests (earliest, latest): in the model both fail in the first
        // one; over the wire the second may also die with the first one's closed connection and
        // leave a fault for the next round trip: one or two round trips fail, within the schedule
        yield* ctx.broker.failNext("ListOffsets", 2, { _tag: "Network" }, [tp(t, 0)])
        const fiber = yield* takeFork(consumer, 1)
        if (!ctx.live) {
          yield* Effect.yieldNow().pipe(Effect.repeatN(20))
          expect(yield* Queue.size(events)).toBe(0)
          yield* ctx.advance(ctx.retryDelay)
        }
        const event = yield* nextEvent(events)
        expect(event).toMatchObject({ requestedOffset: 50n, newOffset: 3n })
        yield* produceValues(ctx, t, 0, ["next"])
        expect(values(yield* ctx.join(fiber))).toEqual([`${t}/0@3=next`])

        // past the schedule
        const u = yield* ctx.topic("list-exhausted")
        yield* produceValues(ctx, u, 0, range("v", 3))
        const failing = yield* ctx.consumer({
          recovery: OffsetRecovery.nearest({
            listOffsetsRetry: Schedule.spaced(ctx.retryDelay).pipe(Schedule.intersect(Schedule.recurs(2))),
          }),
        })
        yield* failing.assign([tp(u, 0)])
        yield* failing.seek(tp(u, 0), 50n)
        yield* ctx.broker.failNext("ListOffsets", Number.POSITIVE_INFINITY, { _tag: "Network" }, [tp(u, 0)])
        const error = yield* ctx.join(yield* Effect.fork(Effect.flip(takeFork(failing, 1).pipe(Effect.flatMap(Fiber.join)))))
        expect(error._tag).toBe("ListOffsetsError")
        if (error._tag === "ListOffsetsError") {
          expect(error.retriable).toBe(true)
          expect(error.outOfRange).toMatchObject({ _tag: "OffsetOutOfRange", topic: u, partition: 0, requestedOffset: 50n })
        }
      }),
  },
  {
    id: "7",
    title: "TopicAuthorizationFailed from Fetch or from ListOffsets reaches the caller with its own tag",
    requires: ["faults"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("auth-fetch")
        yield* produceValues(ctx, t, 0, range("v", 3))
        const consumer = yield* ctx.consumer()
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 0n)
        yield* ctx.broker.failNext("Fetch", 1, { _tag: "ErrorCode", code: ErrorCode.TOPIC_AUTHORIZATION_FAILED }, [tp(t, 0)])
        const fromFetch = yield* ctx.join(yield* Effect.fork(Effect.flip(Effect.flatMap(takeFork(consumer, 1), Fiber.join))))
        expect(fromFetch).toMatchObject({ _tag: "TopicAuthorizationFailed", topic: t, api: "Fetch" })

        const u = yield* ctx.topic("auth-list")
        yield* produceValues(ctx, u, 0, range("v", 3))
        const other = yield* ctx.consumer()
        yield* other.assign([tp(u, 0)])
        yield* other.seek(tp(u, 0), 50n)
        yield* ctx.broker.failNext("ListOffsets", 2, { _tag: "ErrorCode", code: ErrorCode.TOPIC_AUTHORIZATION_FAILED }, [tp(u, 0)])
        const fromList = yield* ctx.join(yield* Effect.fork(Effect.flip(Effect.flatMap(takeFork(other, 1), Fiber.join))))
        expect(fromList).toMatchObject({ _tag: "TopicAuthorizationFailed", topic: u, api: "ListOffsets" })
      }),
  },
  {
    id: "8",
    title: "autoOffsetReset=latest does not change the nearest outcome; policy fail delivers OffsetOutOfRange",
    requires: ["deleteRecords"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("policy")
        yield* produceValues(ctx, t, 0, range("v", 10))
        yield* ctx.broker.deleteRecords(tp(t, 0), 5n)
        const healing = yield* ctx.consumer({ config: { autoOffsetReset: "latest" } })
        yield* healing.assign([tp(t, 0)])
        yield* healing.seek(tp(t, 0), 2n)
        expect(offsets(yield* ctx.join(yield* takeFork(healing, 2)))).toEqual([5n, 6n])

        const strict = yield* ctx.consumer({ recovery: OffsetRecovery.fail() })
        // the type: `fail` puts OffsetOutOfRange in the stream's error channel
        const typed: Stream.Stream<ConsumerRecord.ConsumerRecord, Consumer.ConsumerError | KafkaError.OffsetOutOfRange> =
          strict.records
        yield* strict.assign([tp(t, 0)])
        yield* strict.seek(tp(t, 0), 2n)
        const error = yield* ctx.join(yield* Effect.fork(Effect.flip(Stream.runDrain(Stream.take(typed, 1)))))
        expect(error).toMatchObject({ _tag: "OffsetOutOfRange", topic: t, partition: 0, requestedOffset: 2n })
      }),
  },
  {
    id: "9",
    title: "compaction holes inside the range: records after the hole arrive, no reset, no warning",
    requires: ["compact"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("compacted")
        const keys = ["a", "b", "a", "c", "b", "a", "d"]
        yield* ctx.broker.produce(
          t,
          0,
          keys.map((key, i) => ({ key, value: `v${i}` })),
        )
        yield* ctx.broker.compact(tp(t, 0))
        const state = yield* ctx.broker.partitionState(tp(t, 0))
        expect(state.logStartOffset).toBe(0n)
        const consumer = yield* ctx.consumer()
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 1n) // a hole
        const [got, logs] = yield* ctx.captureLogs(
          Effect.flatMap(takeFork(consumer, state.offsets.filter((o) => o >= 1n).length), ctx.join),
        )
        expect(offsets(got)).toEqual(state.offsets.filter((o) => o >= 1n))
        expect(offsets(got)).toEqual([3n, 4n, 5n, 6n])
        expect(logs.filter((l) => l.level === "WARN")).toEqual([])
        expect(yield* Queue.size(events)).toBe(0)
        expect(yield* consumer.position(tp(t, 0))).toBe(7n)
      }),
  },
  {
    id: "10a",
    title: "seekToBeginning / seekToEnd across several partitions and topics, with one ListOffsets per spec",
    requires: [],
    run: (ctx) =>
      Effect.gen(function* () {
        const a = yield* ctx.topic("seek-a", 2)
        const b = yield* ctx.topic("seek-b", 1)
        yield* produceValues(ctx, a, 0, range("a0-", 3))
        yield* produceValues(ctx, a, 1, range("a1-", 2))
        yield* produceValues(ctx, b, 0, range("b0-", 4))
        const all = [tp(a, 0), tp(a, 1), tp(b, 0)]
        const consumer = yield* ctx.consumer()
        yield* consumer.assign(all)
        yield* consumer.seekToBeginning()
        const first = yield* ctx.join(yield* takeFork(consumer, 9))
        expect(first.length).toBe(9)
        yield* consumer.seekToBeginning([tp(a, 1), tp(b, 0)])
        yield* consumer.seekToEnd([tp(a, 0)])
        yield* ctx.broker.clearRequests
        const positions = yield* Effect.forEach(all, consumer.position)
        expect(positions).toEqual([3n, 0n, 0n])
        if (ctx.broker.capabilities.requestLog) {
          // one batched ListOffsets per spec (per leader): every partition in exactly one request
          const lists = (yield* ctx.requests).filter((e) => e.api === "ListOffsets")
          const covered = lists.flatMap((e) => e.partitions.map(TopicPartition.key)).sort()
          expect(covered).toEqual(all.map(TopicPartition.key).sort())
          // at most one request per spec to each leader (several leaders: one per spec each)
          const perBroker = new Map<number | undefined, number>()
          for (const e of lists) perBroker.set(e.brokerId, (perBroker.get(e.brokerId) ?? 0) + 1)
          expect([...perBroker.values()].every((n) => n <= 2)).toBe(true)
          expect(lists.length).toBeLessThanOrEqual(2 * perBroker.size)
        }
        const again = yield* ctx.join(yield* takeFork(consumer, 6))
        expect(new Set(values(again))).toEqual(new Set([...values(first)].filter((v) => !v.startsWith(`${a}/0@`))))
        yield* consumer.seekToEnd()
        expect(yield* Effect.forEach(all, consumer.position)).toEqual([3n, 2n, 4n])
      }),
  },
  {
    id: "10b",
    title: "seekToBeginning / seekToEnd on an empty topic: begin = end = 0, no error",
    requires: [],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("seek-empty", 2)
        const consumer = yield* ctx.consumer()
        yield* consumer.assign([tp(t, 0), tp(t, 1)])
        yield* consumer.seekToBeginning()
        expect(yield* consumer.position(tp(t, 0))).toBe(0n)
        yield* consumer.seekToEnd()
        expect(yield* Effect.forEach([tp(t, 0), tp(t, 1)], consumer.position)).toEqual([0n, 0n])
        const fiber = yield* takeFork(consumer, 1)
        yield* ctx.advance(ctx.maxWaitMs * 2)
        yield* produceValues(ctx, t, 1, ["x"])
        expect(values(yield* ctx.join(fiber))).toEqual([`${t}/1@0=x`])
      }),
  },
  {
    id: "10c",
    title: "seeks before the assignment are kept and applied when partitions are assigned",
    requires: [],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("seek-before", 2)
        yield* produceValues(ctx, t, 0, range("v", 5))
        yield* produceValues(ctx, t, 1, range("w", 5))
        const consumer = yield* ctx.consumer({ config: { autoOffsetReset: "earliest" } })
        yield* consumer.seekToEnd()
        yield* consumer.seek(tp(t, 1), 3n)
        yield* consumer.assign([tp(t, 0), tp(t, 1)])
        expect(yield* consumer.position(tp(t, 0))).toBe(5n)
        expect(yield* consumer.position(tp(t, 1))).toBe(3n)
        const got = yield* ctx.join(yield* takeFork(consumer, 2))
        expect(values(got)).toEqual([`${t}/1@3=w3`, `${t}/1@4=w4`])
      }),
  },
  {
    id: "10d",
    title: "seek in the middle of consumption: no record from before the seek is delivered after it",
    requires: [],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("seek-middle")
        yield* produceValues(ctx, t, 0, range("v", 5))
        const consumer = yield* ctx.consumer()
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 0n)
        // chunks are the unit of delivery: seek after the first one
        const seen: Array<bigint> = []
        const fiber = yield* Effect.fork(
          consumer.chunks.pipe(
            Stream.mapEffect((chunk) =>
              Effect.gen(function* () {
                const first = seen.length === 0
                seen.push(...offsets(chunk))
                if (first) {
                  yield* produceValues(ctx, t, 0, range("late", 3))
                  yield* consumer.seekToBeginning()
                }
              }),
            ),
            Stream.takeUntil(() => seen.length >= 13),
            Stream.runDrain,
          ),
        )
        yield* ctx.join(fiber)
        expect(seen).toEqual([...range("", 5), ...range("", 8)].map(BigInt))
      }),
  },
  {
    id: "10e",
    title: "a seek while a fetch is in flight: that fetch's records are dropped",
    requires: ["latency"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("seek-in-flight")
        yield* produceValues(ctx, t, 0, range("v", 6))
        const latency = Duration.times(ctx.retryDelay, 4)
        yield* ctx.broker.setLatency("Fetch", latency)
        const consumer = yield* ctx.consumer()
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 0n)
        const fiber = yield* takeFork(consumer, 2)
        yield* Effect.yieldNow().pipe(Effect.repeatN(20))
        yield* ctx.advance(Duration.times(ctx.retryDelay, 2))
        yield* consumer.seek(tp(t, 0), 4n)
        const got = yield* ctx.join(fiber)
        yield* ctx.broker.setLatency("Fetch", 0)
        expect(values(got)).toEqual([`${t}/0@4=v4`, `${t}/0@5=v5`])
      }),
  },
  {
    id: "10f",
    title: "an explicit unassigned partition is PartitionNotAssigned; a consumer that never seeks behaves as before",
    requires: [],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("unassigned", 2)
        yield* produceValues(ctx, t, 0, range("v", 3))
        const consumer = yield* ctx.consumer({ config: { autoOffsetReset: "earliest" } })
        yield* consumer.assign([tp(t, 0)])
        const errors = yield* Effect.all([
          Effect.flip(consumer.seek(tp(t, 1), 0n)),
          Effect.flip(consumer.seekToBeginning([tp(t, 1)])),
          Effect.flip(consumer.seekToEnd([tp(t, 0), tp(t, 1)])),
        ])
        expect(errors.map((e) => (e._tag === "PartitionNotAssigned" ? [e._tag, e.topic, e.partition, e.operation] : [e._tag]))).toEqual([
          ["PartitionNotAssigned", t, 1, "seek"],
          ["PartitionNotAssigned", t, 1, "seekToBeginning"],
          ["PartitionNotAssigned", t, 1, "seekToEnd"],
        ])
        // nothing moved: a consumer that never seeks starts where autoOffsetReset says
        const got = yield* ctx.join(yield* takeFork(consumer, 3))
        expect(values(got)).toEqual([0, 1, 2].map((i) => `${t}/0@${i}=v${i}`))
      }),
  },
  {
    id: "11",
    title: "a broker that keeps answering out of range inside the listed range: typed error after bounded attempts",
    requires: ["faults"],
    run: (ctx) =>
      Effect.gen(function* () {
        const t = yield* ctx.topic("stuck")
        yield* produceValues(ctx, t, 0, range("v", 3))
        const consumer = yield* ctx.consumer({ config: { maxRecoveryAttempts: 3 } })
        yield* consumer.assign([tp(t, 0)])
        yield* consumer.seek(tp(t, 0), 1n)
        yield* ctx.broker.failNext("Fetch", Number.POSITIVE_INFINITY, { _tag: "ErrorCode", code: ErrorCode.OFFSET_OUT_OF_RANGE }, [tp(t, 0)])
        yield* ctx.broker.clearRequests
        const error = yield* ctx.join(yield* Effect.fork(Effect.flip(Effect.flatMap(takeFork(consumer, 1), Fiber.join))))
        expect(error).toMatchObject({
          _tag: "OffsetRecoveryExhausted",
          topic: t,
          partition: 0,
          requestedOffset: 1n,
          earliest: 0n,
          latest: 3n,
          attempts: 3,
        })
        if (ctx.broker.capabilities.requestLog) {
          const log = (yield* ctx.requests).filter((e) => e.partitions.some((p) => p.topic === t))
          expect(log.filter((e) => e.api === "Fetch").length).toBe(3)
          expect(log.filter((e) => e.api === "ListOffsets").length).toBeLessThanOrEqual(6)
        }
      }),
  },
]

const runId = Math.random().toString(36).slice(2, 8)

const makeContext = (broker: TestBroker["Type"], live: boolean, wire: boolean, scenario: Scenario): Context => {
  const maxWaitMs = live ? 100 : 500
  const step = Duration.millis(live ? 20 : 100)
  let topics = 0
  const advance = (d: Duration.DurationInput) => (live ? Effect.sleep(d) : TestClock.adjust(d))
  const join = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Effect.Effect<A, E> =>
    live
      ? Fiber.join(fiber)
      : TestKit.join(fiber, { step, max: "60 seconds" }).pipe(
          Effect.catchIf(
            (e): e is TestKit.StillWaiting => Predicate.isTagged(e, "StillWaiting"),
            () => Effect.dieMessage(`scenario ${scenario.id}: still running after 60s of TestClock time`),
          ),
        )
  return {
    broker,
    live,
    wire,
    maxWaitMs,
    retryDelay: Duration.millis(live ? 100 : 1000),
    topic: (name, partitions = 1) =>
      Effect.gen(function* () {
        // unique per run: a real broker keeps topics (and their records) from earlier runs
        const topic = `s${scenario.id}-${name}-${++topics}-${runId}`
        yield* broker.createTopic(topic, partitions)
        return topic
      }),
    advance,
    join,
    consumer: <E = never>(options: Consumer.MakeOptions<E> = {}) =>
      Consumer.make<E>({ ...options, config: { maxWait: maxWaitMs, ...options.config } }),
    captureLogs: (effect) => TestKit.captureLogs(effect),
    requests: broker.requests,
  }
}

const readCapabilities = <E>(layer: Layer.Layer<Ports, E>) =>
  Effect.runPromise(Effect.scoped(Effect.map(Effect.provide(TestBroker, layer), (b) => b.capabilities)))

/**
 * Registers the scenarios against `layer` (a fresh layer per test: `Effect.provide` builds it for
 * each). Scenarios needing a capability the broker lacks are listed by one test instead.
 *
 * @since 0.1.0
 * @category suite
 */
export const conformance = <E>(name: string, layer: Layer.Layer<Ports, E>, options: Options = {}): void => {
  const live = options.live ?? false
  const timeout = options.timeout ?? (live ? 20_000 : 5_000)
  describe(name, async () => {
    const capabilities = options.capabilities ?? (await readCapabilities(layer))
    const missing = (s: Scenario) => s.requires.filter((c) => !capabilities[c])
    const leftOut = scenarios.filter((s) => missing(s).length > 0)
    const test = live ? it.scopedLive : it.scoped
    for (const scenario of scenarios) {
      if (missing(scenario).length > 0) continue
      test(
        `${scenario.id}. ${scenario.title}`,
        () =>
          Effect.gen(function* () {
            const broker = yield* TestBroker
            yield* scenario.run(makeContext(broker, live, options.wire ?? false, scenario))
          }).pipe(Effect.provide(layer)),
        timeout,
      )
    }
    const summary = leftOut.map((s) => `${s.id} (needs ${missing(s).join(", ")})`)
    it(`left out: ${summary.length === 0 ? "none" : summary.join("; ")}`, () => {
      for (const s of leftOut) {
        for (const c of missing(s)) expect(capabilities[c]).toBe(false)
      }
      expect(leftOut.length + scenarios.filter((s) => missing(s).length === 0).length).toBe(scenarios.length)
    })
  })
}
