/**
 * The broker's answers at the byte level, over a raw socket: what a client gets for versions and
 * APIs the broker does not serve (an error answer, never a dropped connection), ApiVersions v3
 * (flexible) and pipelined requests answered in order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ApiKey } from "../../src/wire/protocol/ApiKeys.js"
import { type Reader, Writer } from "../../src/wire/protocol/Codec.js"
import { encodeBatch } from "../../src/wire/protocol/RecordBatch.js"
import { TestBroker } from "../../src/TestBroker.js"
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import * as EmbeddedBroker from "../../src/wire/EmbeddedBroker.js"
import * as BrokerModel from "../../src/BrokerModel.js"
import { rawClient, request } from "./helpers.js"

const readApiVersionsV0 = (r: Reader) => ({
  errorCode: r.int16(),
  keys: r.array(false, (r) => ({ apiKey: r.int16(), min: r.int16(), max: r.int16() })),
})

describe("protocol answers over a raw socket", () => {
  it.live("ApiVersions above our max: UNSUPPORTED_VERSION with the v0 body, and the connection stays usable", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(request(ApiKey.ApiVersions, 9, 7))
      const r = yield* c.next
      expect(r.int32()).toBe(7)
      const body = readApiVersionsV0(r)
      expect(body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
      expect(body.keys.find((k) => k.apiKey === ApiKey.ApiVersions)).toEqual({ apiKey: 18, min: 0, max: 3 })
      expect(body.keys.find((k) => k.apiKey === ApiKey.Fetch)).toEqual({ apiKey: 1, min: 4, max: 11 })
      expect(r.remaining).toBe(0)

      // The client retries at a version from the list, on the same connection.
      c.send(request(ApiKey.ApiVersions, 0, 8))
      const again = yield* c.next
      expect(again.int32()).toBe(8)
      expect(readApiVersionsV0(again).errorCode).toBe(ErrorCode.NONE)
      expect(c.closed()).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
  )

  it.live("ApiVersions v3 (flexible request header v2, compact body, response header v0)", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(
        request(ApiKey.ApiVersions, 3, 1, (w) => {
          w.compactNullableString("raw-test").compactNullableString("1.0").emptyTags()
        }),
      )
      const r = yield* c.next
      expect(r.int32()).toBe(1)
      expect(r.int16()).toBe(ErrorCode.NONE)
      const keys = r.array(true, (r) => {
        const k = { apiKey: r.int16(), min: r.int16(), max: r.int16() }
        r.taggedFields()
        return k
      })
      expect(keys.length).toBeGreaterThanOrEqual(15)
      expect(r.int32()).toBe(0) // throttle
      r.taggedFields()
      expect(r.remaining).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
  )

  it.live("an unknown API, a too-old Fetch and an old message set get error answers; pipelined requests are answered in order", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(request(999, 0, 1))
      c.send(
        request(ApiKey.Fetch, 3, 2, (w) => {
          w.int32(-1).int32(100).int32(1).int32(1024).int32(0)
        }),
      )
      // Produce v2 with a magic 1 message set (offset, size, crc, magic 1, ...).
      c.send(
        request(ApiKey.Produce, 2, 4, (w) => {
          w.int16(1).int32(1000)
          w.array(false, ["old"], (w, t) => {
            w.string(t).array(false, [0], (w, p) => {
              const set = new Writer()
              set.int64(0n).int32(22).int32(0).int8(1).int8(0).int64(0n).int32(-1).int32(4).raw(new Uint8Array(4))
              w.int32(p).nullableBytes(set.toBytes())
            })
          })
        }),
      )
      c.send(
        request(ApiKey.Metadata, 1, 3, (w) => {
          w.int32(0)
        }),
      )
      const unknown = yield* c.next
      expect(unknown.int32()).toBe(1)
      expect(unknown.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION)
      const fetch = yield* c.next
      expect(fetch.int32()).toBe(2)
      expect(fetch.int32()).toBe(0) // throttle
      expect(fetch.int32()).toBe(0) // no topics
      expect(fetch.remaining).toBe(0)
      const produce = yield* c.next
      expect(produce.int32()).toBe(4)
      const topics = produce.array(false, (r) => ({
        name: r.string(),
        partitions: r.array(false, (r) => ({ index: r.int32(), errorCode: r.int16(), baseOffset: r.int64(), logAppendTime: r.int64() })),
      }))
      expect(topics[0].partitions[0].errorCode).toBe(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT)
      const metadata = yield* c.next
      expect(metadata.int32()).toBe(3)
      const brokers = metadata.array(false, (r) => ({ nodeId: r.int32(), host: r.string(), port: r.int32(), rack: r.nullableString() }))
      expect(brokers).toEqual([{ nodeId: 0, host: "127.0.0.1", port: broker.listeners[0].port, rack: null }])
      expect(c.closed()).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ topics: { old: 1 } }))),
  )

  it.live("a request that cannot be parsed closes the connection (as Kafka does)", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      // Metadata v1 announcing 5 topics and then ending.
      c.send(request(ApiKey.Metadata, 1, 1, (w) => w.int32(5)))
      for (let i = 0; i < 100 && !c.closed(); i++) yield* Effect.sleep("30 millis")
      expect(c.closed()).toBe(true)
      expect(yield* broker.connections).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
  )

  it.live("idempotent produce: a retried batch gets its first offset again and is not appended twice; a sequence gap is refused", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const control = yield* TestBroker
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(request(ApiKey.InitProducerId, 1, 1, (w) => w.nullableString(null).int32(60_000)))
      const init = yield* c.next
      expect(init.int32()).toBe(1)
      expect(init.int32()).toBe(0) // throttle
      expect(init.int16()).toBe(ErrorCode.NONE)
      const producerId = init.int64()
      expect(init.int16()).toBe(0) // epoch
      const produce = (cid: number, baseSequence: number, values: ReadonlyArray<string>) =>
        request(ApiKey.Produce, 7, cid, (w) => {
          const batch = encodeBatch(
            values.map((v, i) => ({ offset: BigInt(i), timestamp: 1_700_000_000_000, key: null, value: new TextEncoder().encode(v), headers: [] })),
            { producerId, producerEpoch: 0, baseSequence },
          )
          w.nullableString(null).int16(-1).int32(1000)
          w.array(false, ["idem"], (w, t) => {
            w.string(t).array(false, [0], (w, p) => {
              w.int32(p).nullableBytes(batch)
            })
          })
        })
      const answer = function* () {
        const r = yield* c.next
        r.int32()
        const [topic] = r.array(false, (r) => ({
          name: r.string(),
          partitions: r.array(false, (r) => {
            r.int32() // partition index
            const errorCode = r.int16()
            const baseOffset = r.int64()
            r.int64() // log append time
            r.int64() // log start offset
            return { errorCode, baseOffset }
          }),
        }))
        return topic.partitions[0]
      }
      c.send(produce(2, 0, ["a", "b"]))
      expect(yield* answer()).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0n })
      c.send(produce(3, 2, ["c"]))
      expect(yield* answer()).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 2n })
      // The same batch again (a retry after a lost answer): first offset again, nothing appended.
      c.send(produce(4, 2, ["c"]))
      expect(yield* answer()).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 2n })
      expect((yield* control.partitionState(TopicPartition.make("idem", 0))).highWatermark).toBe(3n)
      // A gap: sequence 5 when 3 is expected.
      c.send(produce(5, 5, ["f"]))
      expect((yield* answer()).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      // A transactional producer is refused with a non-retriable code.
      c.send(request(ApiKey.InitProducerId, 1, 6, (w) => w.nullableString("tx").int32(60_000)))
      const tx = yield* c.next
      expect(tx.int32()).toBe(6)
      tx.int32()
      expect(tx.int16()).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ topics: { idem: 1 } }))),
  )
})

/**
 * Answers a differential test against real Apache Kafka 4.4 (the kafka package's
 * differential.realkafka.test.ts) found the embedded broker gave differently, kept here at the byte
 * level where no Kafka is needed.
 */
describe("answers as Apache Kafka gives them", () => {
  it.live("Fetch v11: a partition out of range carries no watermarks (-1), the healthy partition next to it does", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const control = yield* TestBroker
      yield* control.produce("f", 0, [{ value: "a" }, { value: "b" }])
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(
        request(ApiKey.Fetch, 11, 1, (w) => {
          w.int32(-1).int32(0).int32(1).int32(1 << 20).int8(1).int32(0).int32(-1)
          w.array(false, ["f"], (w, t) => {
            w.string(t).array(false, [{ p: 0, at: 0n }, { p: 1, at: 5n }], (w, p) => {
              w.int32(p.p).int32(-1).int64(p.at).int64(-1n).int32(1 << 20)
            })
          })
          w.int32(0).string("")
        }),
      )
      const r = yield* c.next
      expect(r.int32()).toBe(1)
      r.int32() // throttle
      expect(r.int16()).toBe(ErrorCode.NONE)
      r.int32() // session id
      const topics = r.array(false, (r) => ({
        topic: r.string(),
        partitions: r.array(false, (r) => {
          const partition = r.int32()
          const errorCode = r.int16()
          const highWatermark = r.int64()
          const lastStableOffset = r.int64()
          const logStartOffset = r.int64()
          r.array(false, (r) => [r.int64(), r.int64()])
          r.int32() // preferred read replica
          r.nullableBytes()
          return { partition, errorCode, highWatermark, lastStableOffset, logStartOffset }
        }),
      }))
      expect(topics).toEqual([
        {
          topic: "f",
          partitions: [
            { partition: 0, errorCode: ErrorCode.NONE, highWatermark: 2n, lastStableOffset: 2n, logStartOffset: 0n },
            { partition: 1, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n },
          ],
        },
      ])
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ topics: { f: 2 } }))),
  )

  it.live("ListOffsets v3: a partition named twice is answered once, INVALID_REQUEST; the others as usual", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const control = yield* TestBroker
      yield* control.produce("l", 1, [{ value: "a" }])
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(
        request(ApiKey.ListOffsets, 3, 1, (w) => {
          w.int32(-1).int8(1)
          w.array(false, ["l"], (w, t) => {
            w.string(t).array(false, [{ p: 0, ts: -2n }, { p: 1, ts: -1n }, { p: 0, ts: -1n }], (w, p) => {
              w.int32(p.p).int64(p.ts)
            })
          })
        }),
      )
      const r = yield* c.next
      expect(r.int32()).toBe(1)
      r.int32() // throttle
      const topics = r.array(false, (r) => ({
        topic: r.string(),
        partitions: r.array(false, (r) => ({ partition: r.int32(), errorCode: r.int16(), timestamp: r.int64(), offset: r.int64() })),
      }))
      expect(topics).toEqual([
        {
          topic: "l",
          partitions: [
            { partition: 0, errorCode: ErrorCode.INVALID_REQUEST, timestamp: -1n, offset: -1n },
            { partition: 1, errorCode: ErrorCode.NONE, timestamp: -1n, offset: 1n },
          ],
        },
      ])
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ topics: { l: 2 } }))),
  )

  it.live("OffsetCommit v5 from outside any group: an unknown partition of a known topic is UNKNOWN_TOPIC_OR_PARTITION, the known one is stored; metadata above 4096 characters is OFFSET_METADATA_TOO_LARGE", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const model = yield* BrokerModel.BrokerModel
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(
        request(ApiKey.OffsetCommit, 5, 1, (w) => {
          w.string("simple").int32(-1).string("")
          w.array(false, ["o"], (w, t) => {
            w.string(t).array(false, [0, 4], (w, p) => {
              w.int32(p).int64(7n).nullableString(null)
            })
          })
        }),
      )
      const r = yield* c.next
      expect(r.int32()).toBe(1)
      r.int32() // throttle
      const topics = r.array(false, (r) => ({ topic: r.string(), partitions: r.array(false, (r) => ({ partition: r.int32(), errorCode: r.int16() })) }))
      expect(topics).toEqual([
        {
          topic: "o",
          partitions: [
            { partition: 0, errorCode: ErrorCode.NONE },
            { partition: 4, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
          ],
        },
      ])
      // metadata above offset.metadata.max.bytes (4096): OFFSET_METADATA_TOO_LARGE, nothing stored
      c.send(
        request(ApiKey.OffsetCommit, 5, 2, (w) => {
          w.string("simple").int32(-1).string("")
          w.array(false, ["o"], (w, t) => {
            w.string(t).array(false, [0], (w, p) => {
              w.int32(p).int64(9n).nullableString("m".repeat(4097))
            })
          })
        }),
      )
      const tooLarge = yield* c.next
      expect(tooLarge.int32()).toBe(2)
      tooLarge.int32() // throttle
      expect(tooLarge.array(false, (r) => ({ topic: r.string(), partitions: r.array(false, (r) => ({ partition: r.int32(), errorCode: r.int16() })) }))).toEqual([
        { topic: "o", partitions: [{ partition: 0, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE }] },
      ])
      const stored = yield* model.committedOffsets("simple", [TopicPartition.make("o", 0)])
      expect(stored.map((o) => o.offset)).toEqual([7n])
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ topics: { o: 1 } }))),
  )

  it.live("JoinGroup v5 with an empty member id: MEMBER_ID_REQUIRED with the id to join with; at v3 a new member joins at once", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      const join = (version: number, correlationId: number, group: string, memberId: string) =>
        request(ApiKey.JoinGroup, version, correlationId, (w) => {
          w.string(group).int32(10_000).int32(10_000).string(memberId)
          if (version >= 5) w.nullableString(null)
          w.string("consumer").array(false, ["range"], (w, name) => {
            w.string(name).nullableBytes(Uint8Array.of(1))
          })
        })
      const answer = (version: number) =>
        Effect.map(c.next, (r) => {
          const correlationId = r.int32()
          r.int32() // throttle
          const errorCode = r.int16()
          const generationId = r.int32()
          r.string() // protocol
          const leader = r.string()
          const memberId = r.string()
          const members = r.array(false, (r) => {
            const id = r.string()
            if (version >= 5) r.nullableString()
            r.nullableBytes()
            return id
          })
          return { correlationId, errorCode, generationId, leader, memberId, members }
        })
      c.send(join(5, 1, "g5", ""))
      const first = yield* answer(5)
      expect(first).toMatchObject({ correlationId: 1, errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1, leader: "", members: [] })
      expect(first.memberId).toMatch(/^raw-test-/)
      c.send(join(5, 2, "g5", first.memberId))
      expect(yield* answer(5)).toEqual({
        correlationId: 2,
        errorCode: ErrorCode.NONE,
        generationId: 1,
        leader: first.memberId,
        memberId: first.memberId,
        members: [first.memberId],
      })
      c.send(join(5, 3, "g5", "raw-test-unknown"))
      expect(yield* answer(5)).toMatchObject({ correlationId: 3, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })
      c.send(join(3, 4, "g3", ""))
      const old = yield* answer(3)
      expect(old).toMatchObject({ correlationId: 4, errorCode: ErrorCode.NONE, generationId: 1 })
      expect(old.leader).toBe(old.memberId)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
  )
})
