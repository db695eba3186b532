/**
 * A broker that speaks just enough Kafka to be trusted (ApiVersions, Metadata v1, ListOffsets v1,
 * Fetch v4, answered correctly) and then does what a test tells it on Fetch: answer well, answer
 * with corrupt batches or frames, answer partitions it was not asked for, drip bytes, stay silent or
 * hang up. Several nodes (one listener each, the same process) so that a test can keep one leader
 * healthy while another misbehaves; TLS when given a key and certificate.
 */
import * as net from "node:net"
import * as tls from "node:tls"
import { Crc32c } from "@kafka-effect/core"
import { Effect, type Scope } from "effect"
import { encodeRecord, encodeRecordBatch } from "../../src/internal/kafkajs.js"

export interface FetchedPartition {
  readonly topic: string
  readonly partition: number
  readonly fetchOffset: bigint
  readonly maxBytes: number
}

export interface FetchRequest {
  readonly node: number
  readonly maxBytes: number
  readonly partitions: ReadonlyArray<FetchedPartition>
}

export interface PartitionAnswer {
  readonly topic: string
  readonly partition: number
  readonly errorCode?: number
  readonly highWatermark?: bigint
  readonly records?: Buffer
}

/** What the broker does with one Fetch. */
export type FetchAnswer =
  | { readonly _tag: "Answer"; readonly partitions: ReadonlyArray<PartitionAnswer> }
  /** The frame is written in pieces of these sizes (cycled), one per event-loop turn. */
  | { readonly _tag: "Drip"; readonly partitions: ReadonlyArray<PartitionAnswer>; readonly pieces: ReadonlyArray<number> }
  /** These bytes instead of a frame (with `correlationId` the request's). */
  | { readonly _tag: "Raw"; readonly bytes: (correlationId: number) => Buffer; readonly thenClose?: boolean }
  | { readonly _tag: "Silent" }
  | { readonly _tag: "Close" }

export interface Options {
  readonly nodes?: number
  /** Topic → the leader node of each partition (its index is the partition id). */
  readonly topics: Readonly<Record<string, ReadonlyArray<number>>>
  readonly fetch: (request: FetchRequest) => FetchAnswer
  /** Earliest and latest offsets ListOffsets answers. Default 0 and 1000. */
  readonly offsets?: (topic: string, partition: number) => { readonly earliest: bigint; readonly latest: bigint }
  readonly tls?: { readonly key: string; readonly cert: string }
}

export interface HostileBroker {
  readonly brokers: ReadonlyArray<string>
  /** Fetch requests seen, in order. */
  readonly fetches: ReadonlyArray<FetchRequest>
}

const API_VERSIONS = 18
const METADATA = 3
const LIST_OFFSETS = 2
const FETCH = 1
const UNSUPPORTED_VERSION = 35

/** A small big-endian writer. */
class Writer {
  private readonly parts: Array<Buffer> = []
  int8(v: number) {
    const b = Buffer.alloc(1)
    b.writeInt8(v)
    this.parts.push(b)
    return this
  }
  int16(v: number) {
    const b = Buffer.alloc(2)
    b.writeInt16BE(v)
    this.parts.push(b)
    return this
  }
  int32(v: number) {
    const b = Buffer.alloc(4)
    b.writeInt32BE(v)
    this.parts.push(b)
    return this
  }
  int64(v: bigint) {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(v)
    this.parts.push(b)
    return this
  }
  string(s: string | null) {
    if (s === null) return this.int16(-1)
    const b = Buffer.from(s, "utf8")
    this.int16(b.length)
    this.parts.push(b)
    return this
  }
  bytes(b: Buffer | null) {
    if (b === null) return this.int32(-1)
    this.int32(b.length)
    this.parts.push(b)
    return this
  }
  array<A>(items: ReadonlyArray<A>, f: (w: Writer, a: A) => void) {
    this.int32(items.length)
    for (const a of items) f(this, a)
    return this
  }
  build(): Buffer {
    return Buffer.concat(this.parts)
  }
}

class Reader {
  pos = 0
  constructor(readonly buf: Buffer) {}
  private take(n: number): number {
    const at = this.pos
    this.pos += n
    return at
  }
  int8() {
    return this.buf.readInt8(this.take(1))
  }
  int16() {
    return this.buf.readInt16BE(this.take(2))
  }
  int32() {
    return this.buf.readInt32BE(this.take(4))
  }
  int64() {
    return this.buf.readBigInt64BE(this.take(8))
  }
  string() {
    const n = this.int16()
    if (n < 0) return null
    const s = this.buf.toString("utf8", this.pos, this.pos + n)
    this.pos += n
    return s
  }
  array<A>(f: (r: Reader) => A): Array<A> {
    const n = this.int32()
    const out: Array<A> = []
    for (let i = 0; i < n; i++) out.push(f(this))
    return out
  }
}

/** A response frame: length, correlation id, body. */
export const frame = (correlationId: number, body: Buffer): Buffer => {
  const head = Buffer.alloc(8)
  head.writeInt32BE(body.length + 4, 0)
  head.writeInt32BE(correlationId, 4)
  return Buffer.concat([head, body])
}

/** A Fetch response body of version 4..11 (what each version adds, at zero). */
export const fetchResponse = (
  version: number,
  partitions: ReadonlyArray<PartitionAnswer & { readonly aborted?: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> }>,
): Buffer => {
  const byTopic = new Map<string, Array<(typeof partitions)[number]>>()
  for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p])
  const w = new Writer().int32(0)
  if (version >= 7) w.int16(0).int32(0)
  return w
    .array([...byTopic], (w1, [topic, ps]) => {
      w1.string(topic).array(ps, (w2, p) => {
        const hw = p.highWatermark ?? 1000n
        w2.int32(p.partition).int16(p.errorCode ?? 0).int64(hw).int64(hw)
        if (version >= 5) w2.int64(0n)
        if (p.aborted === undefined) w2.int32(-1)
        else w2.array(p.aborted, (w3, a) => w3.int64(a.producerId).int64(a.firstOffset))
        if (version >= 11) w2.int32(-1)
        w2.bytes(p.records ?? null)
      })
    })
    .build()
}

export const fetchResponseV4 = (partitions: ReadonlyArray<PartitionAnswer>): Buffer => fetchResponse(4, partitions)

export interface BatchSpec {
  readonly baseOffset: bigint
  readonly values: ReadonlyArray<string | Buffer>
  readonly compression?: number
  readonly timestamp?: number
  /** One header `h` per record. */
  readonly headers?: boolean
  readonly transactional?: boolean
  readonly producerId?: bigint
}

/** A valid RecordBatch v2 (kafkajs's encoder), one record per value at consecutive offsets. */
export const batch = async (spec: BatchSpec): Promise<Buffer> => {
  const records = spec.values.map((v, i) =>
    encodeRecord({
      offsetDelta: i,
      timestampDelta: i,
      key: i % 3 === 2 ? null : Buffer.from(`k${i}`),
      value: typeof v === "string" ? Buffer.from(v) : v,
      ...(spec.headers === true ? { headers: { h: Buffer.from(`h${i}`) } } : {}),
    }),
  )
  const { buffer } = await encodeRecordBatch({
    firstOffset: spec.baseOffset.toString(),
    firstTimestamp: spec.timestamp ?? 1_700_000_000_000,
    maxTimestamp: (spec.timestamp ?? 1_700_000_000_000) + spec.values.length,
    lastOffsetDelta: Math.max(spec.values.length - 1, 0),
    compression: spec.compression ?? 0,
    ...(spec.transactional === undefined ? {} : { transactional: spec.transactional }),
    ...(spec.producerId === undefined ? {} : { producerId: spec.producerId.toString() }),
    records,
  })
  return Buffer.from(buffer)
}

/** Signs a batch again after a test changed its bytes (the CRC covers attributes to the end). */
export const resign = (b: Buffer): Buffer => {
  b.writeUInt32BE(Crc32c.crc32c(b, 21), 17)
  return b
}

const apiVersions = (version: number): Buffer => {
  const w = new Writer().int16(0).array(
    [
      [FETCH, 4, 4],
      [LIST_OFFSETS, 1, 1],
      [METADATA, 1, 1],
      [API_VERSIONS, 0, 2],
    ] as const,
    (w2, [key, min, max]) => w2.int16(key).int16(min).int16(max),
  )
  if (version >= 1) w.int32(0)
  return w.build()
}

/** Starts the broker in the scope; its listeners close with it. */
export const make = (options: Options): Effect.Effect<HostileBroker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const nodes = options.nodes ?? 1
    const fetches: Array<FetchRequest> = []
    const ports: Array<number> = []
    const sockets = new Set<net.Socket>()
    const offsets = options.offsets ?? (() => ({ earliest: 0n, latest: 1000n }))

    // Partition ids are positions in `topics[name]`, node ids positions in `ports`.
    const metadata = (r: Reader): Buffer => {
      const asked = r.array((x) => x.string() ?? "")
      const names = asked.length === 0 ? Object.keys(options.topics) : asked
      const w = new Writer()
      w.int32(ports.length)
      for (const [i, port] of ports.entries()) w.int32(i).string("127.0.0.1").int32(port).string(null)
      w.int32(0)
      w.int32(names.length)
      for (const name of names) {
        const leaders = options.topics[name]
        w.int16(leaders === undefined ? 3 : 0).string(name).int8(0)
        w.int32(leaders?.length ?? 0)
        for (const [i, leader] of (leaders ?? []).entries()) {
          w.int16(0).int32(i).int32(leader).array([leader], (w3, n) => w3.int32(n)).array([leader], (w3, n) => w3.int32(n))
        }
      }
      return w.build()
    }

    const listOffsets = (r: Reader): Buffer => {
      r.int32() // replica id
      const topics = r.array((x) => ({ topic: x.string() ?? "", partitions: x.array((y) => ({ partition: y.int32(), timestamp: y.int64() })) }))
      return new Writer()
        .array(topics, (w, t) =>
          w.string(t.topic).array(t.partitions, (w2, p) => {
            const o = offsets(t.topic, p.partition)
            w2.int32(p.partition).int16(0).int64(-1n).int64(p.timestamp === -2n ? o.earliest : o.latest)
          }),
        )
        .build()
    }

    const fetchRequest = (node: number, r: Reader): FetchRequest => {
      r.int32() // replica id
      r.int32() // max wait
      r.int32() // min bytes
      const maxBytes = r.int32()
      r.int8() // isolation level
      const partitions = r
        .array((x) => {
          const topic = x.string() ?? ""
          return x.array((y) => ({ topic, partition: y.int32(), fetchOffset: y.int64(), maxBytes: y.int32() }))
        })
        .flat()
      return { node, maxBytes, partitions }
    }

    const serve = (node: number) => (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => socket.destroy())
      let pending = Buffer.alloc(0)
      const write = (bytes: Buffer) => {
        if (!socket.destroyed) socket.write(bytes)
      }
      const drip = (bytes: Buffer, pieces: ReadonlyArray<number>) => {
        let at = 0
        let i = 0
        const next = () => {
          if (at >= bytes.length || socket.destroyed) return
          const n = Math.max(1, pieces[i++ % pieces.length]!)
          write(bytes.subarray(at, at + n))
          at += n
          setImmediate(next)
        }
        next()
      }
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
          const size = pending.readInt32BE(0)
          const r = new Reader(pending.subarray(4, 4 + size))
          pending = pending.subarray(4 + size)
          const apiKey = r.int16()
          const apiVersion = r.int16()
          const correlationId = r.int32()
          r.string() // client id
          switch (apiKey) {
            case API_VERSIONS:
              write(
                frame(
                  correlationId,
                  apiVersion > 2 ? new Writer().int16(UNSUPPORTED_VERSION).array([], () => undefined).build() : apiVersions(apiVersion),
                ),
              )
              break
            case METADATA:
              write(frame(correlationId, metadata(r)))
              break
            case LIST_OFFSETS:
              write(frame(correlationId, listOffsets(r)))
              break
            case FETCH: {
              const request = fetchRequest(node, r)
              fetches.push(request)
              const answer = options.fetch(request)
              switch (answer._tag) {
                case "Answer":
                  write(frame(correlationId, fetchResponseV4(answer.partitions)))
                  break
                case "Drip":
                  drip(frame(correlationId, fetchResponseV4(answer.partitions)), answer.pieces)
                  break
                case "Raw":
                  write(answer.bytes(correlationId))
                  if (answer.thenClose === true) socket.end()
                  break
                case "Silent":
                  break
                case "Close":
                  socket.destroy()
                  break
              }
              break
            }
            default:
              socket.destroy()
          }
        }
      })
    }

    const servers: Array<net.Server> = []
    for (let node = 0; node < nodes; node++) {
      const server =
        options.tls === undefined ? net.createServer(serve(node)) : tls.createServer({ key: options.tls.key, cert: options.tls.cert }, serve(node))
      const port = yield* Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      })
      servers.push(server)
      ports.push(port)
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        for (const s of sockets) s.destroy()
        await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
      }),
    )
    return { brokers: ports.map((p) => `127.0.0.1:${p}`), fetches }
  })
