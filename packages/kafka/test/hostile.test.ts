/**
 * Hostile input from the network, through the live client (kafkajs's connections with our framed
 * sockets, our Fetch decoder) against `HostileBroker`: a peer that answers ApiVersions, Metadata and
 * ListOffsets correctly and then misbehaves on Fetch. Each case ends in a typed error or a skip with
 * a log line, within the request timeout, and the partitions that were answered well keep their
 * records. Large, many small and dripped responses check the framing (plain TCP and TLS).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, it } from "@effect/vitest"
import { Consumer, type Fetcher, Fetcher as FetcherTag, KafkaError, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { TestKit } from "@kafka-effect/testkit"
import { Cause, Effect, Exit, Layer, Schedule, Stream } from "effect"
import { expect } from "vitest"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Framed from "../src/internal/framedSocket.js"
import * as K from "../src/internal/kafkajs.js"
import { decodeRecordSet } from "../src/internal/recordBatch.js"
import * as HostileBroker from "./harness/HostileBroker.js"

const T = "hostile"

const client = (brokers: ReadonlyArray<string>, options: Partial<KafkaClient.KafkaOptions> = {}) =>
  KafkaClient.make({
    brokers,
    requestTimeout: "1 second",
    connectionTimeout: "1 second",
    retrySchedule: Schedule.recurs(1),
    logLevel: "nothing",
    ...options,
  })

const request = (partitions: ReadonlyArray<{ partition: number; offset: bigint }>, maxBytes = 1_048_576): Fetcher.FetchRequest => ({
  partitions: partitions.map((p) => ({ topic: T, partition: p.partition, offset: p.offset, maxBytes })),
  maxWaitMs: 10,
  minBytes: 1,
  maxBytes,
  isolationLevel: "read_uncommitted",
})

const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString())
const values = (r: Fetcher.PartitionFetchResult | undefined) => (r?._tag === "Records" ? r.records.map((x) => text(x.value)) : r)
const errorOf = (r: Fetcher.PartitionFetchResult | undefined) => (r?._tag === "Error" ? r.error : undefined)
const byPartition = (results: ReadonlyArray<Fetcher.PartitionFetchResult>, partition: number) => results.find((r) => r.partition === partition)

const good = (n: number, prefix = "v") => HostileBroker.batch({ baseOffset: 0n, values: Array.from({ length: n }, (_, i) => `${prefix}${i}`) })

describe("hostile broker: corrupt record batches", () => {
  it.scoped("a batch whose CRC does not match is CorruptRecordBatch for its partition; the other partition keeps its records", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.promise(() => good(3))
      const bad = yield* Effect.promise(() => good(3, "x"))
      bad[bad.lastIndexOf("x2")] = "y".charCodeAt(0) // a value byte: the CRC no longer matches
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0, 0] },
        fetch: () => ({ _tag: "Answer", partitions: [{ topic: T, partition: 0, records: ok }, { topic: T, partition: 1, records: bad }] }),
      })
      const c = yield* client(broker.brokers)
      const results = yield* c.fetch(request([{ partition: 0, offset: 0n }, { partition: 1, offset: 1n }]))
      expect(values(byPartition(results, 0))).toEqual(["v0", "v1", "v2"])
      const error = errorOf(byPartition(results, 1))
      expect(error).toBeInstanceOf(KafkaError.CorruptRecordBatch)
      expect(error).toMatchObject({ topic: T, partition: 1, offset: 1n })
      expect(String(error?.message)).toMatch(/CRC-32C mismatch/)

      // With checkCrcs off the same bytes are delivered as they are (the flipped byte included).
      const unchecked = yield* client(broker.brokers, { checkCrcs: false })
      const delivered = yield* unchecked.fetch(request([{ partition: 1, offset: 0n }]))
      expect(values(byPartition(delivered, 1))).toEqual(["x0", "x1", "y2"])
    }),
  )

  it.scoped("record lengths that are negative or point past the batch (CRC signed again) are CorruptRecordBatch, never a loop or an exception", () =>
    Effect.gen(function* () {
      // The first record's length varint sits right after the 61-byte header.
      const negative = yield* Effect.promise(() => good(3))
      negative[61] = 0x01 // zigzag 1 = -1
      const past = yield* Effect.promise(() => good(3))
      past[61] = 0xfe // zigzag 8191: longer than the rest of the batch
      past[62] = 0x7f
      const count = yield* Effect.promise(() => good(3))
      count.writeInt32BE(1_000_000, 57) // a record count far beyond what the bytes hold
      const answers = [negative, past, count].map(HostileBroker.resign)
      const ok3 = yield* Effect.promise(() => good(2, "ok"))
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0, 0, 0, 0] },
        fetch: () => ({
          _tag: "Answer",
          partitions: [...answers.map((records, partition) => ({ topic: T, partition, records })), { topic: T, partition: 3, records: ok3 }],
        }),
      })
      const c = yield* client(broker.brokers)
      for (const checkCrcs of [true, false]) {
        const cc = checkCrcs ? c : yield* client(broker.brokers, { checkCrcs })
        const results = yield* cc.fetch(request([0, 1, 2, 3].map((partition) => ({ partition, offset: 0n }))))
        for (const partition of [0, 1, 2]) {
          expect(errorOf(byPartition(results, partition))).toMatchObject({ _tag: "CorruptRecordBatch", topic: T, partition, offset: 0n })
        }
        expect(values(byPartition(results, 3))).toEqual(["ok0", "ok1"])
      }
    }),
  )

  it.scoped("negative offsets, batches going backwards, or only batches below the fetch offset: CorruptRecordBatch (no redelivery, no spin)", () =>
    Effect.gen(function* () {
      const negative = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: -5n, values: ["n"] }))
      const first = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: 10n, values: ["a", "b"] }))
      const backwards = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: 5n, values: ["again"] }))
      const below = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: 0n, values: ["old"] }))
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0, 0, 0] },
        fetch: () => ({
          _tag: "Answer",
          partitions: [
            { topic: T, partition: 0, records: negative },
            { topic: T, partition: 1, records: Buffer.concat([first, backwards]) },
            { topic: T, partition: 2, records: below },
          ],
        }),
      })
      const c = yield* client(broker.brokers)
      const results = yield* c.fetch(request([{ partition: 0, offset: 0n }, { partition: 1, offset: 10n }, { partition: 2, offset: 50n }]))
      expect(errorOf(byPartition(results, 0))).toMatchObject({ _tag: "CorruptRecordBatch", partition: 0 })
      // The good batch before the one going backwards is delivered; the next fetch (at 12) reports it.
      expect(values(byPartition(results, 1))).toEqual(["a", "b"])
      expect(errorOf(byPartition(results, 2))).toMatchObject({ _tag: "CorruptRecordBatch", partition: 2, offset: 50n })
    }),
  )

  it.scoped("a partition that was not asked for (or answered twice) is skipped with a warning", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.promise(() => good(2))
      const other = yield* Effect.promise(() => good(1, "intruder"))
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0, 0, 0, 0, 0, 0, 0, 0] },
        fetch: () => ({
          _tag: "Answer",
          partitions: [
            { topic: T, partition: 0, records: ok },
            { topic: T, partition: 7, records: other },
            { topic: "never-asked", partition: 0, records: other },
            { topic: T, partition: 0, records: other },
          ],
        }),
      })
      const logs = yield* TestKit.makeLogCapture({ quiet: true })
      const results = yield* Effect.flatMap(client(broker.brokers), (c) => c.fetch(request([{ partition: 0, offset: 0n }]))).pipe(
        Effect.provide(logs.layer),
      )
      expect(results).toHaveLength(1)
      expect(values(byPartition(results, 0))).toEqual(["v0", "v1"])
      expect((yield* logs.logs).some((l) => (l.level === "WARN" || l.level === "ERROR") && /not asked for; skipped/.test(l.message))).toBe(true)
    }),
  )

  it.scoped("a batch larger than the fetch limit is delivered whole (the consumer makes progress, as with KIP-74 brokers)", () =>
    Effect.gen(function* () {
      const big = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: 0n, values: [Buffer.alloc(200_000, 7), Buffer.alloc(10, 8)] }))
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0] },
        fetch: () => ({ _tag: "Answer", partitions: [{ topic: T, partition: 0, records: big }] }),
      })
      const c = yield* client(broker.brokers)
      const results = yield* c.fetch(request([{ partition: 0, offset: 0n }], 1024))
      const r = byPartition(results, 0)
      expect(r?._tag === "Records" ? r.records.map((x) => x.value?.length) : r).toEqual([200_000, 10])
    }),
  )
})

describe("hostile broker: frames", () => {
  it.scoped("a frame whose length promises more than arrives: FetchError Timeout within the request timeout; the next fetch reconnects and works", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.promise(() => good(2))
      let fetches = 0
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0] },
        fetch: () =>
          ++fetches === 1
            ? { _tag: "Raw", bytes: (id) => HostileBroker.frame(id, Buffer.alloc(100)).subarray(0, 50) }
            : { _tag: "Answer", partitions: [{ topic: T, partition: 0, records: ok }] },
      })
      const c = yield* client(broker.brokers)
      const failed = yield* Effect.exit(c.fetch(request([{ partition: 0, offset: 0n }])))
      expect(failed).toMatchObject({ _tag: "Failure" })
      const error = Exit.isFailure(failed) ? Cause.squash(failed.cause) : undefined
      expect(error).toMatchObject({ _tag: "FetchError", reason: "Timeout", retriable: true })
      const results = yield* c.fetch(request([{ partition: 0, offset: 0n }]))
      expect(values(byPartition(results, 0))).toEqual(["v0", "v1"])
    }),
  )

  it.scoped("a truncated frame and a closed connection, a negative length, a length shorter than a correlation id: FetchError Network, no exception", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.promise(() => good(1))
      const raws: Array<(id: number) => Buffer> = [
        (id) => HostileBroker.frame(id, Buffer.alloc(100)).subarray(0, 30),
        () => Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3, 4]),
        () => Buffer.from([0, 0, 0, 2, 1, 2]),
      ]
      let fetches = 0
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0] },
        fetch: () => {
          const raw = raws[fetches++]
          return raw === undefined ? { _tag: "Answer", partitions: [{ topic: T, partition: 0, records: ok }] } : { _tag: "Raw", bytes: raw, thenClose: fetches === 1 }
        },
      })
      const c = yield* client(broker.brokers)
      for (let i = 0; i < raws.length; i++) {
        const exit = yield* Effect.exit(c.fetch(request([{ partition: 0, offset: 0n }])))
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(error).toMatchObject({ _tag: "FetchError", reason: "Network", retriable: true })
      }
      expect(values(byPartition(yield* c.fetch(request([{ partition: 0, offset: 0n }])), 0))).toEqual(["v0"])
    }),
  )

  it.scoped("a leader that never answers: its partitions get FetchError Timeout while the other leader's partitions keep their records", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.promise(() => good(2))
      const broker = yield* HostileBroker.make({
        nodes: 2,
        topics: { [T]: [0, 1] },
        fetch: (req) => (req.node === 1 ? { _tag: "Silent" } : { _tag: "Answer", partitions: [{ topic: T, partition: 0, records: ok }] }),
      })
      const c = yield* client(broker.brokers)
      const results = yield* c.fetch(request([{ partition: 0, offset: 0n }, { partition: 1, offset: 0n }]))
      expect(values(byPartition(results, 0))).toEqual(["v0", "v1"])
      expect(errorOf(byPartition(results, 1))).toMatchObject({ _tag: "FetchError", reason: "Timeout", brokerId: 1 })
    }),
  )

  it.scoped("the Consumer: a corrupt partition ends the stream with CorruptRecordBatch after the good partition's records", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.promise(() => good(3))
      const bad = yield* Effect.promise(() => good(2, "x"))
      bad[bad.length - 1] ^= 0x01
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0, 0] },
        fetch: (req) => ({
          _tag: "Answer",
          partitions: req.partitions.map((p) => ({ topic: T, partition: p.partition, records: p.partition === 0 ? (p.fetchOffset === 0n ? ok : Buffer.alloc(0)) : bad })),
        }),
      })
      const c = yield* client(broker.brokers)
      const ports = Layer.mergeAll(Layer.succeed(FetcherTag.Fetcher, { fetch: c.fetch, leaders: c.leaders }), Layer.succeed(OffsetLister.OffsetLister, { list: c.listOffsets }))
      const consumer = yield* Consumer.make({ config: { maxWait: "10 millis", autoOffsetReset: "earliest" } }).pipe(Effect.provide(ports))
      yield* consumer.assign([TopicPartition.make(T, 0), TopicPartition.make(T, 1)])
      const seen: Array<string> = []
      const exit = yield* consumer.records.pipe(
        Stream.tap((r) => Effect.sync(() => seen.push(`${r.partition}@${r.offset}=${text(r.value)}`))),
        Stream.runDrain,
        Effect.exit,
      )
      expect(seen).toEqual(["0@0=v0", "0@1=v1", "0@2=v2"])
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      expect(error).toMatchObject({ _tag: "CorruptRecordBatch", topic: T, partition: 1, offset: 0n })
    }),
  )
  it.scoped("the Consumer decodes at hand-out: a record that does not parse (CRC right) delivers the batches before it, then CorruptRecordBatch at its batch, again on the next run, until a seek past it", () =>
    Effect.gen(function* () {
      const before = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: 0n, values: ["a0", "a1", "a2"] }))
      const broken = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: 3n, values: ["x3", "x4"] }))
      broken[61] = 0x01 // the first record's length: zigzag 1 = -1
      HostileBroker.resign(broken)
      const after = yield* Effect.promise(() => HostileBroker.batch({ baseOffset: 5n, values: ["b5", "b6"] }))
      const log: ReadonlyArray<readonly [bigint, Buffer]> = [
        [0n, before],
        [3n, broken],
        [5n, after],
      ]
      const fetchOffsets: Array<bigint> = []
      const broker = yield* HostileBroker.make({
        topics: { [T]: [0] },
        fetch: (req) => ({
          _tag: "Answer",
          partitions: req.partitions.map((p) => {
            fetchOffsets.push(p.fetchOffset)
            // The batches from the one holding the fetch offset (a batch starts at or below it).
            const holding = log.filter(([base]) => base <= p.fetchOffset).length - 1
            return { topic: T, partition: p.partition, records: Buffer.concat(log.slice(Math.max(holding, 0)).map(([, b]) => b)) }
          }),
        }),
      })
      const c = yield* client(broker.brokers)
      const tp = TopicPartition.make(T, 0)

      // Asked to defer, the client checks the batches and leaves the records to decode.
      const [answer] = yield* c.fetch({ ...request([{ partition: 0, offset: 1n }]), deferDecoding: true })
      if (answer?._tag !== "Records" || answer.deferred === undefined) return yield* Effect.die(`not deferred: ${String(answer?._tag)}`)
      expect(answer.records).toEqual([])
      expect({ next: answer.deferred.next, count: answer.deferred.count }).toEqual({ next: 7n, count: 7 })
      const decoded = answer.deferred.decode()
      expect(decoded.records.map((r) => text(r.value))).toEqual(["a1", "a2"])
      expect(decoded.bytes).toBe(decoded.records.reduce((n, r) => n + (r.key?.length ?? 0) + (r.value?.length ?? 0), 0))
      expect(decoded.corrupt).toMatchObject({ _tag: "CorruptRecordBatch", topic: T, partition: 0, offset: 3n })

      const ports = Layer.mergeAll(Layer.succeed(FetcherTag.Fetcher, { fetch: c.fetch, leaders: c.leaders }), Layer.succeed(OffsetLister.OffsetLister, { list: c.listOffsets }))
      const consumer = yield* Consumer.make({ config: { maxWait: "10 millis", autoOffsetReset: "earliest" } }).pipe(Effect.provide(ports))
      yield* consumer.assign([tp])
      const run = Effect.gen(function* () {
        const seen: Array<string> = []
        const exit = yield* consumer.records.pipe(
          Stream.tap((r) => Effect.sync(() => seen.push(`${r.offset}=${text(r.value)}`))),
          Stream.runDrain,
          Effect.exit,
        )
        return { seen, error: Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined, position: yield* consumer.position(tp) }
      })
      const first = yield* run
      expect(first.seen).toEqual(["0=a0", "1=a1", "2=a2"])
      expect(first.error).toMatchObject({ _tag: "CorruptRecordBatch", topic: T, partition: 0, offset: 3n })
      expect(first.position).toBe(3n)
      // Nothing is skipped: the next run fetches that batch again and fails the same way.
      fetchOffsets.length = 0
      const second = yield* run
      expect(second).toMatchObject({ seen: [], error: { _tag: "CorruptRecordBatch", offset: 3n }, position: 3n })
      // (A fetch of the first run still in flight when it ended may land first: it is dropped.)
      expect(fetchOffsets).toContain(3n)
      // Past it, consumption goes on.
      yield* consumer.seek(tp, 5n)
      const rest = yield* consumer.records.pipe(Stream.take(2), Stream.runCollect)
      expect([...rest].map((r) => `${r.offset}=${text(r.value)}`)).toEqual(["5=b5", "6=b6"])
    }),
  )
})

/** A CA-less self-signed certificate for 127.0.0.1, made with openssl. */
const selfSigned = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-effect-hostile-tls-"))
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    { cwd: dir, stdio: "pipe" },
  )
  const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8")
  const pem = { key: read("key.pem"), cert: read("cert.pem") }
  fs.rmSync(dir, { recursive: true, force: true })
  return pem
}

describe("framing: large, many small and dripped responses, over TCP and TLS", () => {
  const pem = selfSigned()
  for (const transport of ["tcp", "tls"] as const) {
    it.scoped(`${transport}: an 8 MiB response, 100 small ones, and responses written a few bytes at a time arrive whole`, () =>
      Effect.gen(function* () {
        const big = yield* Effect.promise(() =>
          HostileBroker.batch({ baseOffset: 0n, values: Array.from({ length: 64 }, (_, i) => Buffer.alloc(128 * 1024, i)) }),
        )
        const small = yield* Effect.promise(() => good(1))
        let mode: "big" | "small" | "drip" = "big"
        const broker = yield* HostileBroker.make({
          topics: { [T]: [0] },
          ...(transport === "tls" ? { tls: pem } : {}),
          fetch: () => {
            const records = mode === "big" ? big : small
            const partitions = [{ topic: T, partition: 0, records }]
            // Pieces of 1..7 bytes: length prefixes split across reads.
            return mode === "drip" ? { _tag: "Drip", partitions, pieces: [1, 3, 2, 7, 5] } : { _tag: "Answer", partitions }
          },
        })
        const c = yield* client(broker.brokers, transport === "tls" ? { ssl: { ca: [pem.cert] } } : {})
        const bigResult = byPartition(yield* c.fetch(request([{ partition: 0, offset: 0n }], 16 * 1024 * 1024)), 0)
        expect(bigResult?._tag === "Records" ? bigResult.records.map((r) => [r.value?.length, r.value?.[0], r.value?.[131071]]) : bigResult).toEqual(
          Array.from({ length: 64 }, (_, i) => [128 * 1024, i, i]),
        )
        mode = "small"
        for (let i = 0; i < 100; i++) expect(values(byPartition(yield* c.fetch(request([{ partition: 0, offset: 0n }])), 0))).toEqual(["v0"])
        mode = "drip"
        for (let i = 0; i < 5; i++) expect(values(byPartition(yield* c.fetch(request([{ partition: 0, offset: 0n }])), 0))).toEqual(["v0"])
      }),
      60_000,
    )
  }
})

describe("hostile batches: decompression", () => {
  it.effect("a gzip batch that inflates beyond the limit is a CorruptBatch (nothing that size is allocated); within it, delivered", () =>
    Effect.promise(async () => {
      const bomb = await HostileBroker.batch({ baseOffset: 0n, values: [Buffer.alloc(4 * 1024 * 1024)], compression: 1 })
      const limited = await decodeRecordSet(bomb, { maxInflatedBytes: 1024 * 1024 })
      expect(limited.batches).toEqual([])
      expect(limited.corrupt?.reason).toMatch(/cannot inflate/)
      const whole = await decodeRecordSet(bomb)
      expect(whole.batches.map((b) => b.body.length > 4 * 1024 * 1024)).toEqual([true])
    }),
  )
})

describe("framing: the socket on its own", () => {
  /** Serves `bytes` in pieces of `piece` bytes to each connection, then ends it. */
  const serve = (bytes: Buffer, piece: number) =>
    Effect.acquireRelease(
      Effect.async<net.Server & { port: number }>((resume) => {
        const server = net.createServer((s) => {
          s.on("error", () => s.destroy())
          const write = (at: number): void => {
            if (at >= bytes.length) return void s.end()
            s.write(bytes.subarray(at, at + piece), () => write(at + piece))
          }
          write(0)
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(Object.assign(server, { port: typeof address === "object" && address !== null ? address.port : 0 })))
        })
      }),
      (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve()))),
    )

  const receive = (port: number, options: Framed.FramingOptions) =>
    Effect.async<{ frames: Array<Buffer>; error: Error | undefined }>((resume) => {
      const frames: Array<Buffer> = []
      const socket = new Framed.FramedSocket({ host: "127.0.0.1", port, ssl: false, onConnect: () => undefined }, options)
      socket.on("data", (f) => frames.push(Buffer.from(f)))
      socket.on("error", (error) => resume(Effect.succeed({ frames, error })))
      socket.on("end", () => resume(Effect.succeed({ frames, error: undefined })))
    })

  it.scoped("frames above the direct limit are gathered in pieces; a frame above the maximum destroys the socket with a FrameError", () =>
    Effect.gen(function* () {
      const frames = [HostileBroker.frame(1, Buffer.alloc(10, 1)), HostileBroker.frame(2, Buffer.alloc(300_000, 2)), HostileBroker.frame(3, Buffer.alloc(3, 3))]
      const server = yield* serve(Buffer.concat(frames), 7_001)
      const got = yield* receive(server.port, { directFrameBytes: 1024 })
      expect(got.error).toBeUndefined()
      expect(got.frames.map((f) => [f.length, f.readInt32BE(4), f[f.length - 1]])).toEqual(frames.map((f) => [f.length, f.readInt32BE(4), f[f.length - 1]]))
      expect(Buffer.concat(got.frames).equals(Buffer.concat(frames))).toBe(true)
      const limited = yield* receive(server.port, { maxFrameBytes: 100_000 })
      expect(limited.frames.map((f) => f.readInt32BE(4))).toEqual([1])
      expect(limited.error).toBeInstanceOf(Framed.FrameError)
      expect(limited.error?.message).toMatch(/length 300004: above the limit of 100000 bytes/)
    }),
  )
})

describe("a connection that disconnects with a request in flight", () => {
  interface QueueInternals {
    readonly inflight: ReadonlyMap<number, unknown>
    waitForPendingRequests: () => Promise<void>
  }
  interface ConnectionInternals {
    readonly connectionStatus: string
    readonly requestQueue: QueueInternals
  }

  it.scopedLive("a request sent while the connection disconnects fails when the socket closes; it does not wait forever, nor does the client's close", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.promise(() => good(1))
      let fetches = 0
      // The first Fetch is answered; the next is never answered (only the socket's end can end it).
      const hostile = yield* HostileBroker.make({
        topics: { [T]: [0] },
        fetch: () => (fetches++ === 0 ? { _tag: "Answer", partitions: [{ topic: T, partition: 0, records: ok }] } : { _tag: "Silent" }),
      })
      const outcome = yield* Effect.promise(async () => {
        const cluster = new K.Cluster({
          logger: K.createLogger({ level: K.LogLevel.NOTHING, logCreator: () => () => undefined }),
          socketFactory: Framed.socketFactory(),
          brokers: hostile.brokers,
          clientId: "disconnect-race",
          ssl: null,
          sasl: null,
          connectionTimeout: 1000,
          authenticationTimeout: 1000,
          // Far beyond the test's bound: a request timeout must not be what ends the wait.
          requestTimeout: 120_000,
          enforceRequestTimeout: true,
          metadataMaxAge: 300_000,
          retry: { retries: 0 },
          allowAutoTopicCreation: false,
          maxInFlightRequests: null,
          isolationLevel: 0,
          offsets: new Map(),
        })
        await cluster.connect()
        await cluster.refreshMetadata()
        const broker = await cluster.findBroker({ nodeId: 0 })
        const fetch = () =>
          K.send(
            broker,
            K.fetchRequest(broker, { replicaId: -1, isolationLevel: 0, maxWaitTime: 10, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: T, partitions: [{ partition: 0, fetchOffset: "0", maxBytes: 1 << 20 }] }] }),
            { decode: (payload) => Promise.resolve(payload.length), parse: (n: number) => Promise.resolve(n) },
          )
        await fetch()
        // kafkajs's window, made wide: a connection that is `disconnecting` still sends requests, and
        // once its wait for the requests in flight is over it stops their timeouts and ends the socket.
        // The first wait of each connection here ends only after a request went out meanwhile.
        const connections = (broker.connectionPool as unknown as { readonly pool: ReadonlyArray<ConnectionInternals> }).pool
        for (const c of connections) {
          const queue = c.requestQueue
          const original = queue.waitForPendingRequests
          queue.waitForPendingRequests = () => {
            queue.waitForPendingRequests = original
            return new Promise<void>((resolve) => {
              const poll = setInterval(() => {
                if (queue.inflight.size > 0) {
                  clearInterval(poll)
                  resolve()
                }
              }, 1)
              setTimeout(() => {
                clearInterval(poll)
                resolve()
              }, 2_000)
            })
          }
        }
        const bound = <A>(p: Promise<A>) => Promise.race([p, new Promise<"no end">((resolve) => setTimeout(() => resolve("no end"), 10_000))])
        const disconnecting = broker.disconnect()
        const sentMeanwhile = bound(fetch().then((n) => `answered ${n}`, (e: Error) => e.name))
        await disconnecting
        const request = await sentMeanwhile
        const close = await bound(cluster.disconnect().then(() => "closed"))
        return { request, close, statuses: connections.map((c) => c.connectionStatus) }
      })
      // Without the fix the request is left in flight ("no end") and the client's close waits for it.
      expect(outcome).toEqual({ request: "KafkaJSConnectionClosedError", close: "closed", statuses: ["disconnected", "disconnected"] })
      expect(fetches).toBe(2)
    }),
    30_000,
  )
})
