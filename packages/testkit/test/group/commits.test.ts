import { describe, expect, it } from "@effect/vitest"
import { Consumer, GroupConsumer, GroupCoordinator, TopicPartition } from "@kafka-effect/core"
import { Chunk, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { advance, GROUP, layer, produceEach } from "./helpers.js"

const TOPIC = "t"

/** A member of the group in a scope of its own (closing it commits and leaves). */
const subscribed = (name: string) =>
  Effect.gen(function* () {
    const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
    const scope = yield* Scope.make()
    const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } }).pipe(Scope.extend(scope))
    const sub = yield* GroupConsumer.subscribe(consumer, [TOPIC], { groupId: GROUP, autoCommitInterval: "1 second" }).pipe(
      Scope.extend(scope),
      Effect.provideService(GroupCoordinator.GroupCoordinator, coordinator.client(name)),
    )
    return { scope, sub }
  })

/** One member that takes `n` records and stops; `mark` says whether it marks what it took as processed. */
const takeAndStop = (name: string, n: number, mark: boolean) =>
  Effect.gen(function* () {
    const { scope, sub } = yield* subscribed(name)
    const taken: Array<string> = []
    const fiber = yield* sub.records.pipe(
      Stream.take(n),
      Stream.chunks,
      Stream.runForEach((chunk) =>
        Effect.gen(function* () {
          for (const r of chunk) taken.push(`${r.partition}@${r.offset}`)
          if (mark) yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
        }),
      ),
      Effect.fork,
    )
    yield* advance(3000)
    const done = yield* Fiber.poll(fiber)
    expect(Option.isSome(done) && Exit.isSuccess(done.value)).toBe(true)
    yield* Scope.close(scope, Exit.void)
    return taken
  })

const committed = Effect.gen(function* () {
  const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
  const port = coordinator.client("reader")
  const c = yield* port.findCoordinator(GROUP)
  const offsets = yield* port.offsetFetch({ groupId: GROUP, coordinator: c, partitions: [TopicPartition.make(TOPIC, 0), TopicPartition.make(TOPIC, 1)] })
  return offsets.map((o) => o.offset)
})

describe("what gets committed (TestClock)", () => {
  it.effect("a stream cut by take commits nothing it did not prove processed; markProcessed commits exactly what was taken", () =>
    Effect.gen(function* () {
      yield* produceEach(TOPIC, 2, 5, "a")
      // One fetch brings all ten records, handed out as one chunk per partition (0, then 1); take(3)
      // cuts partition 0's chunk: no later pull proves any of it done.
      const first = yield* takeAndStop("m1", 3, false)
      expect(first).toEqual(["0@0", "0@1", "0@2"])
      expect(yield* committed).toEqual([undefined, undefined])
      // With markProcessed, take(7) across both chunks: exactly the seven are committed (next offsets).
      const second = yield* takeAndStop("m2", 7, true)
      expect(second.slice(0, 3)).toEqual(first)
      expect(second).toHaveLength(7)
      const perPartition = [0, 1].map((p) => BigInt(second.filter((s) => s.startsWith(`${p}@`)).length))
      expect(yield* committed).toEqual(perPartition)
      // A third member starts where the second stopped: the three records not taken, nothing else.
      const third = yield* takeAndStop("m3", 3, true)
      expect([...second, ...third].sort()).toEqual([...Array(5).keys()].flatMap((i) => [`0@${i}`, `1@${i}`]).sort())
      expect(yield* committed).toEqual([5n, 5n])
    }).pipe(Effect.provide(layer({ [TOPIC]: 2 }))),
    30_000,
  )

  it.effect("without markProcessed, a chunk counts as processed when the next one is pulled; auto-commit commits it", () =>
    Effect.gen(function* () {
      const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
      const { scope, sub } = yield* subscribed("m1")
      const seen: Array<bigint> = []
      yield* sub.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => seen.push(r.offset))),
        Effect.fork,
      )
      yield* produceEach(TOPIC, 1, 3, "a")
      yield* advance(3000)
      expect(seen).toEqual([0n, 1n, 2n])
      // The first chunk was handed over, but nothing was pulled after it: not committed.
      expect(yield* committed).toEqual([undefined, undefined])
      yield* produceEach(TOPIC, 1, 2, "b")
      yield* advance(3000)
      expect(seen).toEqual([0n, 1n, 2n, 3n, 4n])
      // Pulling the second chunk proved the first one done: 3 is committed, 5 is not (yet).
      expect(yield* committed).toEqual([3n, undefined])
      const log = yield* coordinator.commitLog(GROUP)
      expect(log.map((c) => c.offset)).toEqual([3n])
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(layer({ [TOPIC]: 2 }))),
    30_000,
  )
})
