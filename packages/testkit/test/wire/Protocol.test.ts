/**
 * The broker's answers at the byte level, over a raw socket: what a client gets for versions and
 * APIs the broker does not serve (an error answer, never a dropped connection), ApiVersions v3
 * (flexible) and pipelined requests answered in order.
 */
import * as Net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { ApiKey, ErrorCode } from "../../src/wire/protocol/ApiKeys.js"
import { Reader, Writer } from "../../src/wire/protocol/Codec.js"
import { encodeBatch } from "../../src/wire/protocol/RecordBatch.js"
import { TestBroker } from "../../src/TestBroker.js"
import { TopicPartition } from "@kafka-effect/core"
import * as EmbeddedBroker from "../../src/wire/EmbeddedBroker.js"

/** A raw connection that reads size-prefixed answers in order. */
const rawClient = (port: number): Effect.Effect<{ send: (frame: Uint8Array) => void; next: Effect.Effect<Reader>; closed: () => boolean }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ sock: Net.Socket; frames: Array<Uint8Array>; waiters: Array<(f: Uint8Array) => void>; state: { closed: boolean } }>(
      (resume) => {
        const sock = Net.createConnection({ host: "127.0.0.1", port }, () => resume(Effect.succeed(conn)))
        const frames: Array<Uint8Array> = []
        const waiters: Array<(f: Uint8Array) => void> = []
        const state = { closed: false }
        let buf = Buffer.alloc(0)
        sock.on("data", (d: Buffer) => {
          buf = Buffer.concat([buf, d])
          while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
            const f = new Uint8Array(buf.subarray(4, 4 + buf.readInt32BE(0)))
            buf = buf.subarray(4 + buf.readInt32BE(0))
            const w = waiters.shift()
            if (w) w(f)
            else frames.push(f)
          }
        })
        sock.on("close", () => {
          state.closed = true
        })
        const conn = { sock, frames, waiters, state }
      },
    ),
    (c) => Effect.sync(() => c.sock.destroy()),
  ).pipe(
    Effect.map((c) => ({
      send: (frame: Uint8Array) => {
        const size = Buffer.alloc(4)
        size.writeInt32BE(frame.length)
        c.sock.write(Buffer.concat([size, frame]))
      },
      next: Effect.async<Reader>((resume) => {
        const f = c.frames.shift()
        if (f) resume(Effect.succeed(new Reader(f)))
        else c.waiters.push((g) => resume(Effect.succeed(new Reader(g))))
      }).pipe(Effect.timeout("5 seconds"), Effect.orDie),
      closed: () => c.state.closed,
    })),
  )

const request = (apiKey: number, version: number, correlationId: number, body: (w: Writer) => void = () => {}): Uint8Array => {
  const w = new Writer()
  w.int16(apiKey).int16(version).int32(correlationId).nullableString("raw-test")
  if (apiKey === ApiKey.ApiVersions && version >= 3) w.emptyTags()
  body(w)
  return w.toBytes()
}

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
      expect(readApiVersionsV0(again).errorCode).toBe(0)
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
      expect(r.int16()).toBe(0)
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
      expect(init.int16()).toBe(0)
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
      expect(yield* answer()).toEqual({ errorCode: 0, baseOffset: 0n })
      c.send(produce(3, 2, ["c"]))
      expect(yield* answer()).toEqual({ errorCode: 0, baseOffset: 2n })
      // The same batch again (a retry after a lost answer): first offset again, nothing appended.
      c.send(produce(4, 2, ["c"]))
      expect(yield* answer()).toEqual({ errorCode: 0, baseOffset: 2n })
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
