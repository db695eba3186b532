/**
 * Properties (FastCheck, from effect) of the epoch bookkeeping behind the fetch loops: any
 * interleaving of claims (several loops, partitions moving between them), fetch answers arriving
 * late and in any order, buffering, delivery, seeks, pauses, resumes, revokes, reassignments and
 * stream restarts. Per partition the delivered records are exactly the offsets from the last seek
 * (or assignment) on, each once, in order: never a record from before a seek, never an offset twice.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ConsumerRecord, type Fetcher, SubscriptionState, TopicPartition } from "@kafka-effect/core"
import { Effect, FastCheck as fc } from "effect"

const partitions = [TopicPartition.make("t", 0), TopicPartition.make("t", 1), TopicPartition.make("u", 0)]

type Op =
  | { readonly _tag: "Claim"; readonly owns: ReadonlyArray<boolean> }
  | { readonly _tag: "Answer"; readonly pick: number; readonly counts: ReadonlyArray<number>; readonly below: number }
  | { readonly _tag: "Deliver"; readonly pick: number }
  | { readonly _tag: "Seek"; readonly p: number; readonly offset: number }
  | { readonly _tag: "Pause"; readonly p: number }
  | { readonly _tag: "Resume"; readonly p: number }
  | { readonly _tag: "Revoke"; readonly p: number }
  | { readonly _tag: "Reassign"; readonly p: number; readonly committed: number }
  | { readonly _tag: "Rewind" }

const p = fc.integer({ min: 0, max: partitions.length - 1 })
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("Claim" as const), owns: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      _tag: fc.constant("Answer" as const),
      pick: fc.nat(),
      counts: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }),
      below: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("Deliver" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Seek" as const), p, offset: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Pause" as const), p }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Resume" as const), p }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Revoke" as const), p }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Reassign" as const), p, committed: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Rewind" as const) }) },
)

const record = (tp: TopicPartition.TopicPartition, offset: bigint): ConsumerRecord.ConsumerRecord => ({
  topic: tp.topic,
  partition: tp.partition,
  offset,
  timestamp: 0,
  key: null,
  value: null,
  headers: [],
})

/** Runs the ops; returns the first violation, or undefined. */
const check = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function* () {
    const state = yield* SubscriptionState.make({ autoOffsetReset: "earliest" })
    // The model: where the next delivered record of each assigned partition must be.
    const expected = new Map<string, bigint>()
    const start = new Map(partitions.map((tp) => [TopicPartition.key(tp), 0n]))
    yield* state.assign(partitions, start)
    for (const tp of partitions) expected.set(TopicPartition.key(tp), 0n)
    const inFlight: Array<ReadonlyArray<SubscriptionState.FetchPosition>> = []
    const buffer: Array<ReadonlyArray<SubscriptionState.Segment>> = []
    const delivered: Array<string> = []
    for (const o of ops) {
      switch (o._tag) {
        case "Claim": {
          const claimed = yield* state.claim((k) => o.owns[partitions.findIndex((tp) => TopicPartition.key(tp) === k)] === true)
          if (claimed.length > 0) inFlight.push(claimed)
          break
        }
        case "Answer": {
          if (inFlight.length === 0) break
          const [sent] = inFlight.splice(o.pick % inFlight.length, 1)
          const results: Array<Fetcher.PartitionFetchResult> = sent!.map((s, i) => {
            const from = s.offset - BigInt(Math.min(o.below, Number(s.offset)))
            const records: Array<ConsumerRecord.ConsumerRecord> = []
            for (let x = from; x < s.offset + BigInt(o.counts[i % 3]!); x++) records.push(record(s, x))
            return { _tag: "Records", topic: s.topic, partition: s.partition, records, highWatermark: 100n, logStartOffset: 0n, nextOffset: undefined }
          })
          const outcome = yield* state.bufferFetch(sent!, results)
          if (outcome.segments.length > 0) buffer.push(outcome.segments)
          yield* state.release(sent!)
          break
        }
        case "Deliver": {
          if (buffer.length === 0) break
          // The buffer is a queue: entries are delivered in the order they were buffered.
          const [segments] = buffer.splice(0, 1)
          for (const s of yield* state.deliver(segments!)) {
            for (const r of s.records) {
              const k = TopicPartition.key(r)
              const want = expected.get(k)
              delivered.push(`${TopicPartition.format(r)}@${r.offset}`)
              if (want === undefined) return `${TopicPartition.format(r)}@${r.offset} delivered while not assigned`
              if (r.offset !== want) return `${TopicPartition.format(r)}@${r.offset} delivered where ${want} was next (${delivered.join(" ")})`
              expected.set(k, want + 1n)
            }
          }
          break
        }
        case "Seek": {
          const tp = partitions[o.p]!
          if (!expected.has(TopicPartition.key(tp))) break
          yield* state.seek(tp, BigInt(o.offset))
          expected.set(TopicPartition.key(tp), BigInt(o.offset))
          break
        }
        case "Pause":
        case "Resume": {
          const tp = partitions[o.p]!
          if (!expected.has(TopicPartition.key(tp))) break
          yield* o._tag === "Pause" ? state.pause([tp]) : state.resume([tp])
          break
        }
        case "Revoke": {
          const tp = partitions[o.p]!
          yield* state.revokePartitions([tp])
          expected.delete(TopicPartition.key(tp))
          break
        }
        case "Reassign": {
          const tp = partitions[o.p]!
          if (expected.has(TopicPartition.key(tp))) break
          yield* state.addPartitions([tp], new Map([[TopicPartition.key(tp), BigInt(o.committed)]]))
          expected.set(TopicPartition.key(tp), BigInt(o.committed))
          break
        }
        case "Rewind": {
          // The stream ends: its buffer goes; the fetches in flight may still answer, late.
          buffer.length = 0
          yield* state.rewind
          break
        }
      }
    }
    // Whatever stayed buffered is delivered now, under the same rule.
    for (const segments of buffer) {
      for (const s of yield* state.deliver(segments)) {
        for (const r of s.records) {
          const k = TopicPartition.key(r)
          if (expected.get(k) !== r.offset) return `${TopicPartition.format(r)}@${r.offset} delivered at the end where ${expected.get(k)} was next`
          expected.set(k, r.offset + 1n)
        }
      }
    }
    // Progress: the late answers come in (dropped or buffered), then one more fetch of every
    // assigned partition brings its next record.
    for (const sent of inFlight) {
      yield* state.bufferFetch(sent, [])
      yield* state.release(sent)
    }
    yield* state.resume([...expected.keys()].map(TopicPartition.fromKey))
    const last = yield* state.claim(() => true)
    if (last.length !== expected.size) return `${last.length} of ${expected.size} partitions could be fetched at the end`
    const outcome = yield* state.bufferFetch(
      last,
      last.map((s) => ({ _tag: "Records", topic: s.topic, partition: s.partition, records: [record(s, s.offset)], highWatermark: 100n, logStartOffset: 0n, nextOffset: undefined })),
    )
    const progressed = yield* state.deliver(outcome.segments)
    for (const s of progressed) {
      for (const r of s.records) {
        const k = TopicPartition.key(r)
        if (expected.get(k) !== r.offset) return `${TopicPartition.format(r)}@${r.offset} fetched at the end where ${expected.get(k)} was next`
        expected.set(k, r.offset + 1n)
      }
    }
    if (progressed.length !== expected.size) return `${progressed.length} of ${expected.size} partitions progressed at the end`
    // A position the user sees is the delivered one.
    for (const [k, want] of expected) {
      const got = (yield* state.get(TopicPartition.fromKey(k))).position
      if (got !== want) return `position of ${k} is ${got}, delivered up to ${want}`
    }
    return undefined
  })

describe("SubscriptionState properties: epochs, fetch and delivered positions", () => {
  it.prop(
    "any interleaving: per partition exactly the offsets from the last seek on, once each, in order",
    [fc.array(op, { minLength: 1, maxLength: 80 })],
    ([ops]) => {
      expect(Effect.runSync(check(ops))).toBeUndefined()
    },
    { fastCheck: { numRuns: 500 } },
  )

  it.prop(
    "without seeks, pauses or revokes, every claimed-and-answered record is delivered (nothing is lost)",
    [fc.array(fc.tuple(fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.nat(), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 })), { minLength: 1, maxLength: 40 })],
    ([steps]) =>
      Effect.runSync(
        Effect.gen(function* () {
          const state = yield* SubscriptionState.make({ autoOffsetReset: "earliest" })
          yield* state.assign(partitions, new Map(partitions.map((tp) => [TopicPartition.key(tp), 0n])))
          const buffer: Array<ReadonlyArray<SubscriptionState.Segment>> = []
          const inFlight: Array<ReadonlyArray<SubscriptionState.FetchPosition>> = []
          let fetched = 0
          for (const [owns, pick, counts] of steps) {
            const claimed = yield* state.claim((k) => owns[partitions.findIndex((tp) => TopicPartition.key(tp) === k)] === true)
            if (claimed.length > 0) inFlight.push(claimed)
            if (inFlight.length === 0) continue
            const [sent] = inFlight.splice(pick % inFlight.length, 1)
            const results: Array<Fetcher.PartitionFetchResult> = sent!.map((s, i) => ({
              _tag: "Records",
              topic: s.topic,
              partition: s.partition,
              records: Array.from({ length: counts[i % 3]! }, (_, j) => record(s, s.offset + BigInt(j))),
              highWatermark: 100n,
              logStartOffset: 0n,
              nextOffset: undefined,
            }))
            const outcome = yield* state.bufferFetch(sent!, results)
            for (const s of outcome.segments) fetched += s.records.length
            if (outcome.segments.length > 0) buffer.push(outcome.segments)
            yield* state.release(sent!)
          }
          let delivered = 0
          for (const segments of buffer) for (const s of yield* state.deliver(segments)) delivered += s.records.length
          expect(delivered).toBe(fetched)
        }),
      ),
    { fastCheck: { numRuns: 300 } },
  )
})
