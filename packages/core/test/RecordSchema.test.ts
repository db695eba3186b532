import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Metric, Ref, Schema, Stream } from "effect"
import * as ConsumerMetrics from "../src/ConsumerMetrics.js"
import type { ConsumerRecord } from "../src/ConsumerRecord.js"
import * as RecordSchema from "../src/RecordSchema.js"
import { makeTestLogger } from "./harness/testLogger.js"

const Order = Schema.Struct({ id: Schema.Number, item: Schema.String })
const encoder = new TextEncoder()

const record = (offset: number, value: string | null, key: string | null = null): ConsumerRecord => ({
  topic: "orders",
  partition: 0,
  offset: BigInt(offset),
  timestamp: 0,
  key: key === null ? null : encoder.encode(key),
  value: value === null ? null : encoder.encode(value),
  headers: [],
})

const good = (id: number) => JSON.stringify({ id, item: `i${id}` })
// Two fetched chunks; the bad record sits in the middle of the first.
const chunks = [
  Chunk.make(record(0, good(0)), record(1, good(1)), record(2, "{not json"), record(3, good(3))),
  Chunk.make(record(4, good(4))),
]
const source = Stream.fromChunks(...chunks)

describe("RecordSchema", () => {
  it.effect("fail: delivers the records before the bad one in its chunk, then fails with the facts", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<number>>([])
      const result = yield* source.pipe(
        RecordSchema.decode({ value: RecordSchema.json(Order) }),
        Stream.runForEach((r) => Ref.update(seen, (s) => [...s, r.value.id])),
        Effect.flip,
      )
      expect(yield* Ref.get(seen)).toEqual([0, 1])
      expect(result).toMatchObject({ _tag: "RecordDecodeError", topic: "orders", partition: 0, offset: 2n, field: "value" })
      expect(result.issue).toContain("JSON")
      expect(result.message).toContain("orders-0@2")
    }))

  it.effect("skip: a warning with the facts and a metric per bad record; the rest goes on, chunk by chunk", () =>
    Effect.gen(function* () {
      const logs = yield* makeTestLogger
      const counter = Metric.tagged(ConsumerMetrics.forTopic(ConsumerMetrics.decodeErrors, "orders"), "policy", "skip")
      const before = (yield* Metric.value(counter)).count
      const out = yield* source.pipe(
        RecordSchema.decode({ value: RecordSchema.json(Order), onError: "skip" }),
        Stream.chunks,
        Stream.runCollect,
        Effect.provide(logs.layer),
      )
      expect([...out].map((c) => [...c].map((r) => r.value.id))).toEqual([[0, 1, 3], [4]])
      const warnings = (yield* logs.lines).filter((l) => l.level === "WARN")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.annotations).toMatchObject({ topic: "orders", partition: 0, offset: "2", field: "value" })
      expect((yield* Metric.value(counter)).count - before).toBe(1)
    }))

  it.effect("a handler gets the error with the raw record before the chunk's good records are delivered", () =>
    Effect.gen(function* () {
      const events = yield* Ref.make<Array<string>>([])
      yield* source.pipe(
        RecordSchema.decode({
          value: RecordSchema.json(Order),
          onError: (e) => Ref.update(events, (s) => [...s, `dead ${e.offset} ${new TextDecoder().decode(e.record.value!)}`]),
        }),
        Stream.runForEach((r) => Ref.update(events, (s) => [...s, `ok ${r.offset}`])),
      )
      expect(yield* Ref.get(events)).toEqual(["dead 2 {not json", "ok 0", "ok 1", "ok 3", "ok 4"])
    }))

  it.effect("a handler's failure fails the stream with the handler's error", () =>
    Effect.gen(function* () {
      const error = yield* source.pipe(
        RecordSchema.decode({ value: RecordSchema.json(Order), onError: (e) => Effect.fail(`no dead letter for ${e.offset}`) }),
        Stream.runDrain,
        Effect.flip,
      )
      expect(error).toBe("no dead letter for 2")
    }))

  it("keys decode too; a tombstone fails a non-null value schema and passes a NullOr one", () => {
      const decode = RecordSchema.decoder({ key: RecordSchema.utf8(Schema.NumberFromString), value: RecordSchema.json(Order) })
      const ok = decode(record(0, good(7), "42"))
      expect(Either.getOrThrow(ok)).toMatchObject({ key: 42, value: { id: 7, item: "i7" }, offset: 0n })
      const badKey = decode(record(1, good(7), "x"))
      expect(Either.isLeft(badKey) && badKey.left.field).toBe("key")
      const tombstone = decode(record(2, null, "1"))
      expect(Either.isLeft(tombstone) && tombstone.left.field).toBe("value")
      const nullable = RecordSchema.decoder({ value: Schema.NullOr(RecordSchema.json(Order)) })
      expect(Either.getOrThrow(nullable(record(3, null))).value).toBeNull()
  })

  it("bytes that are not UTF-8 are a parse issue, not a replacement character", () => {
    const decode = RecordSchema.decoder({ value: RecordSchema.utf8(Schema.String) })
    const bad = decode({ ...record(0, null), value: new Uint8Array([0xff, 0xfe]) })
    expect(Either.isLeft(bad) && bad.left.issue).toContain("not valid UTF-8")
  })

  it.effect("decodeChunks keeps chunks and drops the ones that lose every record", () =>
    Effect.gen(function* () {
      const onlyBad = Stream.make(Chunk.make(record(0, "x")), Chunk.make(record(1, good(1))))
      const out = yield* onlyBad.pipe(
        RecordSchema.decodeChunks({ value: RecordSchema.json(Order), onError: "skip" }),
        Stream.runCollect,
        Effect.provide((yield* makeTestLogger).layer),
      )
      expect([...out].map((c) => [...c].map((r) => r.offset))).toEqual([[1n]])
    }))

  it.effect("the same schema encodes what it decodes", () =>
    Effect.gen(function* () {
      const bytes = yield* Schema.encode(RecordSchema.json(Order))({ id: 1, item: "a" })
      expect(new TextDecoder().decode(bytes)).toBe('{"id":1,"item":"a"}')
    }))
})
