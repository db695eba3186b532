/**
 * Hostile requests over real TCP: valid requests of every API the embedded broker serves, at every
 * version it serves, mutated by a seeded generator (bit flips, truncations, length and count fields
 * set to huge or negative values, wrong API keys and versions, inserted and deleted bytes, frame
 * sizes above the limit or negative). Each input is followed on the same connection by an
 * ApiVersions probe, so what the broker did with the input is read without waiting on a clock:
 *
 * - a request whose header or body cannot be read: the connection closes;
 * - an API or version not served: an answer with the request's correlation id and UNSUPPORTED_VERSION;
 * - any other request: an answer with its correlation id (none for acks=0 Produce), then the probe's;
 * - a frame size above the limit or negative: the connection closes.
 *
 * A long-poll Fetch (max wait above a second) is sent but not waited for. Nothing may log an error
 * (a handler defect), and after each batch a separate connection still gets correct answers:
 * Metadata, then a Produce and a Fetch of the record it produced. On a listener that requires SASL,
 * mutated SaslHandshake / SaslAuthenticate pairs end in an answer to the probe or a close, and a
 * separate connection still authenticates. `FUZZ_SEED` and `FUZZ_INPUTS` replay another run.
 */
import { ErrorCode } from "@kafka-effect/core"
import { describe, expect, it } from "@effect/vitest"
import * as Net from "node:net"
import { Effect, LogLevel, Redacted, type Scope } from "effect"
import { makeLogCapture } from "../../src/TestKit.js"
import * as ApiVersions from "../../src/wire/api/ApiVersions.js"
import * as CreateTopics from "../../src/wire/api/CreateTopics.js"
import * as DeleteRecords from "../../src/wire/api/DeleteRecords.js"
import * as DeleteTopics from "../../src/wire/api/DeleteTopics.js"
import * as DescribeGroups from "../../src/wire/api/DescribeGroups.js"
import * as Fetch from "../../src/wire/api/Fetch.js"
import * as FindCoordinator from "../../src/wire/api/FindCoordinator.js"
import * as Heartbeat from "../../src/wire/api/Heartbeat.js"
import * as InitProducerId from "../../src/wire/api/InitProducerId.js"
import * as JoinGroup from "../../src/wire/api/JoinGroup.js"
import * as LeaveGroup from "../../src/wire/api/LeaveGroup.js"
import * as ListOffsets from "../../src/wire/api/ListOffsets.js"
import * as Metadata from "../../src/wire/api/Metadata.js"
import * as OffsetCommit from "../../src/wire/api/OffsetCommit.js"
import * as OffsetFetch from "../../src/wire/api/OffsetFetch.js"
import * as Produce from "../../src/wire/api/Produce.js"
import * as SaslAuthenticate from "../../src/wire/api/SaslAuthenticate.js"
import * as SaslHandshake from "../../src/wire/api/SaslHandshake.js"
import * as SyncGroup from "../../src/wire/api/SyncGroup.js"
import * as EmbeddedBroker from "../../src/wire/EmbeddedBroker.js"
import * as BrokerModel from "../../src/BrokerModel.js"
import { type RawClient, rawClient, request } from "./helpers.js"
import { ApiKey, isFlexible, isSupported, supported } from "../../src/wire/protocol/ApiKeys.js"
import { Malformed, Reader, Truncated, Writer } from "../../src/wire/protocol/Codec.js"
import { decodeRequestHeader } from "../../src/wire/protocol/Header.js"
import { BATCH_HEADER_SIZE, decodeRecords, encodeBatch, splitBatches } from "../../src/wire/protocol/RecordBatch.js"
import { crc32c } from "../../src/wire/protocol/Crc32c.js"

const SEED = Number(process.env.FUZZ_SEED ?? 20261202)
/** Inputs per run (`FUZZ_INPUTS` for a longer one), in batches each followed by the health check. */
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 4000)
const BATCHES = 8
const PER_BATCH = Math.ceil(INPUTS / BATCHES)
const LANES = 2
const MAX_REQUEST_BYTES = 1024 * 1024
/** How long one input may go unanswered before it counts as a hang. */
const BOUND = "5 seconds"

/** mulberry32: a small seeded generator, the same sequence for the same seed. */
const generator = (seed: number) => {
  let s = seed >>> 0
  const next = (): number => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]
  return { next, int, pick }
}
type Rng = ReturnType<typeof generator>

// ---------------------------------------------------------------------------------------------
// Valid requests, with the places of their length, count and integer fields

interface Seed {
  readonly bytes: Uint8Array
  /** Where the body begins (after the header). */
  readonly bodyAt: number
  /** Offsets of int16/int32 length, count and integer fields (mutation targets). */
  readonly fields: ReadonlyArray<{ readonly at: number; readonly width: 2 | 4 }>
  /** Where a Produce's record batch lies (mutated with its CRC made right again). */
  readonly batch: { readonly at: number; readonly length: number } | undefined
}

class Builder {
  readonly w = new Writer()
  readonly fields: Array<{ at: number; width: 2 | 4 }> = []
  batch: { at: number; length: number } | undefined
  i16(v: number): this {
    this.fields.push({ at: this.w.length, width: 2 })
    this.w.int16(v)
    return this
  }
  i32(v: number): this {
    this.fields.push({ at: this.w.length, width: 4 })
    this.w.int32(v)
    return this
  }
  i8(v: number): this {
    this.w.int8(v)
    return this
  }
  i64(v: bigint): this {
    this.w.int64(v)
    return this
  }
  bool(v: boolean): this {
    this.w.bool(v)
    return this
  }
  str(v: string | null): this {
    const bytes = v === null ? null : new TextEncoder().encode(v)
    this.i16(bytes === null ? -1 : bytes.byteLength)
    if (bytes !== null) this.w.raw(bytes)
    return this
  }
  bytes(v: Uint8Array | null): this {
    this.i32(v === null ? -1 : v.byteLength)
    if (v !== null) this.w.raw(v)
    return this
  }
  compactStr(v: string): this {
    this.w.compactNullableString(v)
    return this
  }
  array<A>(items: ReadonlyArray<A> | null, item: (b: this, a: A) => void): this {
    this.i32(items === null ? -1 : items.length)
    for (const a of items ?? []) item(this, a)
    return this
  }
}

const text = (s: string) => new TextEncoder().encode(s)
const FUZZ = "fuzz"
const HEALTHY = "healthy"

const batch = (value: string) =>
  encodeBatch([{ offset: 0n, timestamp: 1_700_000_000_000, key: null, value: text(value), headers: [] }])

/** The body of a valid request of `apiKey` at version `v`; `n` makes names unique per input. */
const bodies: ReadonlyMap<number, (b: Builder, v: number, n: number) => void> = new Map<number, (b: Builder, v: number, n: number) => void>([
  [
    ApiKey.Produce,
    (b, v, n) => {
      if (v >= 3) b.str(null)
      b.i16(-1).i32(1000)
      const records = batch(`value-${n}`)
      b.array([FUZZ], (b, t) =>
        b.str(t).array([n % 2], (b, p) => {
          b.i32(p)
          b.batch = { at: b.w.length + 4, length: records.byteLength }
          b.bytes(records)
        }),
      )
    },
  ],
  [
    ApiKey.Fetch,
    (b, v) => {
      b.i32(-1).i32(10).i32(1)
      if (v >= 3) b.i32(1 << 20)
      if (v >= 4) b.i8(0)
      if (v >= 7) b.i32(0).i32(-1)
      b.array([FUZZ], (b, t) =>
        b.str(t).array([0, 1], (b, p) => {
          b.i32(p)
          if (v >= 9) b.i32(-1)
          b.i64(0n)
          if (v >= 5) b.i64(-1n)
          b.i32(1 << 16)
        }),
      )
      if (v >= 7) b.array([], () => {})
      if (v >= 11) b.str("")
    },
  ],
  [
    ApiKey.ListOffsets,
    (b, v) => {
      b.i32(-1)
      if (v >= 2) b.i8(0)
      b.array([FUZZ], (b, t) =>
        b.str(t).array([0, 1], (b, p) => {
          b.i32(p)
          if (v >= 4) b.i32(-1)
          b.i64(-1n)
          if (v === 0) b.i32(1)
        }),
      )
    },
  ],
  [
    ApiKey.Metadata,
    (b, v, n) => {
      b.array([FUZZ, `auto-${n}`], (b, t) => b.str(t))
      if (v >= 4) b.bool(n % 3 === 0)
      if (v >= 8) b.bool(false).bool(false)
    },
  ],
  [
    ApiKey.OffsetCommit,
    (b, v, n) => {
      b.str(`group-${n}`)
      if (v >= 1) b.i32(-1).str("")
      if (v >= 7) b.str(null)
      if (v >= 2 && v <= 4) b.i64(-1n)
      b.array([FUZZ], (b, t) =>
        b.str(t).array([0], (b, p) => {
          b.i32(p).i64(1n)
          if (v >= 6) b.i32(-1)
          if (v === 1) b.i64(-1n)
          b.str("meta")
        }),
      )
    },
  ],
  [ApiKey.OffsetFetch, (b, _, n) => b.str(`group-${n}`).array([FUZZ], (b, t) => b.str(t).array([0, 1], (b, p) => b.i32(p)))],
  [
    ApiKey.FindCoordinator,
    (b, v, n) => {
      b.str(`group-${n}`)
      if (v >= 1) b.i8(0)
    },
  ],
  [
    ApiKey.JoinGroup,
    (b, v, n) => {
      b.str(`group-${n}`).i32(10_000)
      if (v >= 1) b.i32(10_000)
      b.str("")
      if (v >= 5) b.str(null)
      b.str("consumer").array(["range"], (b, name) => b.str(name).bytes(Uint8Array.of(0, 1, 0, 0, 0, 0)))
    },
  ],
  [
    ApiKey.Heartbeat,
    (b, v, n) => {
      b.str(`group-${n}`).i32(1).str("member")
      if (v >= 3) b.str(null)
    },
  ],
  [
    ApiKey.LeaveGroup,
    (b, v, n) => {
      b.str(`group-${n}`)
      if (v <= 2) b.str("member")
      else b.array(["member"], (b, m) => b.str(m).str(null))
    },
  ],
  [
    ApiKey.SyncGroup,
    (b, v, n) => {
      b.str(`group-${n}`).i32(1).str("member")
      if (v >= 3) b.str(null)
      b.array(["member"], (b, m) => b.str(m).bytes(Uint8Array.of(0, 1)))
    },
  ],
  [
    ApiKey.DescribeGroups,
    (b, v, n) => {
      b.array([`group-${n}`], (b, g) => b.str(g))
      if (v >= 3) b.bool(false)
    },
  ],
  [ApiKey.ListGroups, () => {}],
  [ApiKey.SaslHandshake, (b) => b.str("PLAIN")],
  [
    ApiKey.ApiVersions,
    (b, v) => {
      if (v >= 3) b.compactStr("fuzz").compactStr("1.0").w.emptyTags()
    },
  ],
  [
    ApiKey.CreateTopics,
    (b, v, n) => {
      b.array([`created-${n}`], (b, t) =>
        b
          .str(t)
          .i32(2)
          .i16(1)
          .array([], () => {})
          .array([{ name: "cleanup.policy", value: "delete" }], (b, c) => b.str(c.name).str(c.value)),
      )
      b.i32(1000)
      if (v >= 1) b.bool(n % 2 === 0)
    },
  ],
  [
    ApiKey.DeleteTopics,
    (b, _, n) => {
      b.array([`created-${n - 1}`], (b, t) => b.str(t)).i32(1000)
    },
  ],
  [ApiKey.DeleteRecords, (b) => b.array([FUZZ], (b, t) => b.str(t).array([0], (b, p) => b.i32(p).i64(0n))).i32(1000)],
  [ApiKey.InitProducerId, (b) => b.str(null).i32(60_000)],
  [
    ApiKey.SaslAuthenticate,
    (b, v) => {
      const token = text("\u0000alice\u0000secret")
      if (isFlexible(ApiKey.SaslAuthenticate, v)) b.w.compactNullableBytes(token).emptyTags()
      else b.bytes(token)
    },
  ],
])

const seedRequest = (apiKey: number, v: number, correlationId: number, n: number): Seed => {
  const b = new Builder()
  b.i16(apiKey).i16(v)
  b.w.int32(correlationId)
  b.str("fuzzer")
  if (isFlexible(apiKey, v)) b.w.emptyTags()
  const bodyAt = b.w.length
  const body = bodies.get(apiKey)
  if (body === undefined) throw new Error(`no request body for API ${apiKey}`)
  body(b, v, n)
  return { bytes: b.w.toBytes(), bodyAt, fields: b.fields, batch: b.batch }
}

/** Every API and version the broker serves. */
const served: ReadonlyArray<{ readonly apiKey: number; readonly v: number }> = Array.from(supported).flatMap(([apiKey, range]) =>
  Array.from({ length: range.max - range.min + 1 }, (_, i) => ({ apiKey, v: range.min + i })),
)

// ---------------------------------------------------------------------------------------------
// Mutations

/** The CRC covers a batch from its attributes (offset 21) on; it is the 4 bytes before. */
const CRC_START = 21

const interesting16 = [-1, -2, -32768, 32767, 0, 1, 0x7ff0]
const interesting32 = [-1, -2, -2147483648, 2147483647, 0, 1, 10_001, 100_000, 0x10000000, 65_536]

type Input =
  | { readonly _tag: "Frame"; readonly bytes: Uint8Array; readonly mutations: ReadonlyArray<string> }
  /** A size prefix above the limit or negative, then some bytes. */
  | { readonly _tag: "BadSize"; readonly size: number; readonly mutations: ReadonlyArray<string> }

/**
 * One mutation. Most land in the body (past `bodyAt`), so that most inputs reach an API's decoder
 * and handler; the header's key and version are changed by their own mutations.
 */
const mutateOnce = (rng: Rng, bytes: Uint8Array, seed: Seed): { bytes: Uint8Array; name: string } => {
  const out = bytes.slice()
  const view = new DataView(out.buffer)
  const from = rng.int(10) === 0 || seed.bodyAt >= out.length ? 0 : seed.bodyAt
  const position = (): number => from + rng.int(out.length - from)
  const fields = seed.fields
  switch (out.length < 4 ? rng.int(2) : rng.pick([0, 0, 1, 2, 2, 3, 3, 4, 5, 6, 6, 7, 8, 8, 9, 9])) {
    case 0: {
      const n = 1 + rng.int(4)
      for (let i = 0; i < n; i++) out[position()] ^= 1 + rng.int(255)
      return { bytes: out, name: "flip" }
    }
    case 1:
      return { bytes: out.slice(0, position()), name: "truncate" }
    case 2:
    case 3: {
      const f = rng.pick(fields.filter((f) => f.at + f.width <= out.length))
      if (f === undefined) return { bytes: out, name: "field(none)" }
      if (f.width === 2) view.setInt16(f.at, rng.pick(interesting16))
      else view.setInt32(f.at, rng.pick(interesting32))
      return { bytes: out, name: `field@${f.at}` }
    }
    case 4: {
      const range = supported.get(view.getInt16(0))
      const versions = [-1, 0, 1, 12, 32767, -32768, rng.int(20), ...(range === undefined ? [] : [range.min - 1, range.max + 1])]
      view.setInt16(2, rng.pick(versions))
      return { bytes: out, name: "version" }
    }
    case 5: {
      view.setInt16(0, rng.pick([...supported.keys(), 4, 5, 6, 7, 23, 37, 60, 999, -1, 32767]))
      return { bytes: out, name: "apiKey" }
    }
    case 6: {
      const at = position()
      const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.pick([0, 0xff, 0x80, 0x7f, rng.int(256)]))
      const grown = new Uint8Array(out.length + extra.length)
      grown.set(out.subarray(0, at), 0)
      grown.set(extra, at)
      grown.set(out.subarray(at), at + extra.length)
      return { bytes: grown, name: "insert" }
    }
    case 7: {
      const at = position()
      const n = 1 + rng.int(Math.min(16, out.length - at))
      const shrunk = new Uint8Array(out.length - n)
      shrunk.set(out.subarray(0, at), 0)
      shrunk.set(out.subarray(at + n), at)
      return { bytes: shrunk, name: "delete" }
    }
    case 9: {
      // Inside the record batch, past its CRC (record count, lengths, varints), then the CRC made right:
      // what the broker reads from a batch it cannot refuse for its checksum.
      const b = seed.batch
      if (b === undefined || b.at + b.length > out.length) return { bytes: out, name: "batch(none)" }
      const at = b.at + CRC_START + rng.int(b.length - CRC_START)
      if (rng.int(2) === 0 && b.length >= BATCH_HEADER_SIZE) view.setInt32(b.at + BATCH_HEADER_SIZE - 4, rng.pick(interesting32))
      else out[at] = rng.pick([0, 0xff, 0x80, 0x7f, rng.int(256)])
      view.setUint32(b.at + CRC_START - 4, crc32c(out.subarray(b.at + CRC_START, b.at + b.length)))
      return { bytes: out, name: "batch" }
    }
    default: {
      for (let i = 0; i < 1 + rng.int(3); i++) out[position()] = rng.pick([0, 0xff, 0x80, 0x7f])
      return { bytes: out, name: "overwrite" }
    }
  }
}

const makeInput = (rng: Rng, i: number): { input: Input; correlationId: number } => {
  const { apiKey, v } = rng.pick(served)
  const correlationId = i
  if (rng.int(100) === 0) {
    const size = rng.pick([MAX_REQUEST_BYTES + 1, 0x7fffffff, -1, -2147483648])
    return { input: { _tag: "BadSize", size, mutations: [`size ${size}`] }, correlationId }
  }
  const seed = seedRequest(apiKey, v, correlationId, i)
  let bytes = seed.bytes
  const mutations: Array<string> = [`${apiKey}v${v}`]
  const rounds = 1 + rng.int(3)
  for (let k = 0; k < rounds && bytes.length > 0; k++) {
    const m = mutateOnce(rng, bytes, seed)
    bytes = m.bytes
    mutations.push(m.name)
  }
  return { input: { _tag: "Frame", bytes, mutations }, correlationId }
}

// ---------------------------------------------------------------------------------------------
// What the broker must do with an input, read from the request with the broker's own decoders

const decoders: ReadonlyMap<number, (r: Reader, v: number) => unknown> = new Map<number, (r: Reader, v: number) => unknown>([
  [ApiKey.Produce, Produce.decodeRequest],
  [ApiKey.Fetch, Fetch.decodeRequest],
  [ApiKey.ListOffsets, ListOffsets.decodeRequest],
  [ApiKey.Metadata, Metadata.decodeRequest],
  [ApiKey.OffsetCommit, OffsetCommit.decodeRequest],
  [ApiKey.OffsetFetch, OffsetFetch.decodeRequest],
  [ApiKey.FindCoordinator, FindCoordinator.decodeRequest],
  [ApiKey.JoinGroup, JoinGroup.decodeRequest],
  [ApiKey.Heartbeat, Heartbeat.decodeRequest],
  [ApiKey.LeaveGroup, LeaveGroup.decodeRequest],
  [ApiKey.SyncGroup, SyncGroup.decodeRequest],
  [ApiKey.DescribeGroups, DescribeGroups.decodeRequest],
  [ApiKey.ListGroups, () => undefined],
  [ApiKey.SaslHandshake, SaslHandshake.decodeRequest],
  [ApiKey.ApiVersions, ApiVersions.decodeRequest],
  [ApiKey.CreateTopics, CreateTopics.decodeRequest],
  [ApiKey.DeleteTopics, DeleteTopics.decodeRequest],
  [ApiKey.DeleteRecords, DeleteRecords.decodeRequest],
  [ApiKey.InitProducerId, InitProducerId.decodeRequest],
  [ApiKey.SaslAuthenticate, SaslAuthenticate.decodeRequest],
])

type Expected =
  | { readonly _tag: "Close" }
  | { readonly _tag: "Unsupported"; readonly correlationId: number; readonly apiKey: number }
  | { readonly _tag: "Answer"; readonly correlationId: number }
  | { readonly _tag: "NoAnswer" }
  /** A long poll: sent, not waited for. */
  | { readonly _tag: "LongPoll" }

const unreadable = (cause: unknown): boolean => cause instanceof Truncated || cause instanceof Malformed

const expectation = (input: Input): Expected => {
  if (input._tag === "BadSize") return { _tag: "Close" }
  const r = new Reader(input.bytes)
  let header: ReturnType<typeof decodeRequestHeader>
  try {
    header = decodeRequestHeader(r)
  } catch (cause) {
    if (unreadable(cause)) return { _tag: "Close" }
    throw cause
  }
  const decode = decoders.get(header.apiKey)
  if (decode === undefined || !isSupported(header.apiKey, header.apiVersion)) {
    return { _tag: "Unsupported", correlationId: header.correlationId, apiKey: header.apiKey }
  }
  try {
    if (header.apiKey === ApiKey.Produce) {
      if (Produce.decodeRequest(r, header.apiVersion).acks === 0) return { _tag: "NoAnswer" }
    } else if (header.apiKey === ApiKey.Fetch) {
      if (Fetch.decodeRequest(r, header.apiVersion).maxWaitMs > 1000) return { _tag: "LongPoll" }
    } else {
      decode(r, header.apiVersion)
    }
  } catch (cause) {
    if (unreadable(cause)) return { _tag: "Close" }
    throw cause
  }
  return { _tag: "Answer", correlationId: header.correlationId }
}

// ---------------------------------------------------------------------------------------------
// A raw connection: frames in order, or the broker's close

interface Connection {
  readonly write: (bytes: Uint8Array) => void
  /** The next frame, or "closed"; "timeout" after `BOUND`. */
  readonly next: Effect.Effect<Reader | "closed" | "timeout">
  readonly destroy: () => void
}

const connect = (port: number): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Connection>((resume) => {
      const sock = Net.createConnection({ host: "127.0.0.1", port })
      sock.setNoDelay(true)
      const frames: Array<Uint8Array> = []
      let waiter: (() => void) | undefined
      let closed = false
      let buf = Buffer.alloc(0)
      const wake = () => {
        const w = waiter
        waiter = undefined
        w?.()
      }
      sock.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d])
        while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
          const size = buf.readInt32BE(0)
          frames.push(new Uint8Array(buf.subarray(4, 4 + size)))
          buf = buf.subarray(4 + size)
        }
        wake()
      })
      sock.on("close", () => {
        closed = true
        wake()
      })
      sock.on("error", () => {})
      const next: Connection["next"] = Effect.async<Reader | "closed">((resume) => {
        const take = () => {
          const f = frames.shift()
          if (f !== undefined) resume(Effect.succeed(new Reader(f)))
          else if (closed) resume(Effect.succeed("closed"))
          else waiter = take
        }
        take()
        return Effect.sync(() => {
          waiter = undefined
        })
      }).pipe(Effect.timeoutTo({ duration: BOUND, onTimeout: (): "timeout" => "timeout", onSuccess: (a) => a }))
      sock.on("connect", () =>
        resume(
          Effect.succeed({
            write: (bytes) => {
              if (!closed) sock.write(bytes)
            },
            next,
            destroy: () => sock.destroy(),
          }),
        ),
      )
    }),
    (c) => Effect.sync(() => c.destroy()),
  )

const sized = (frame: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + frame.length)
  new DataView(out.buffer).setInt32(0, frame.length)
  out.set(frame, 4)
  return out
}

const probe = (correlationId: number): Uint8Array => {
  const w = new Writer()
  w.int16(ApiKey.ApiVersions).int16(0).int32(correlationId).nullableString("probe")
  return sized(w.toBytes())
}

interface Tally {
  tried: number
  closed: number
  answered: number
  unsupported: number
  noAnswer: number
  longPolls: number
}

/** Sends one input on the lane's connection (opening one when needed); fails with what went wrong. */
const tryInput = (
  port: number,
  lane: { conn: Connection | undefined },
  input: Input,
  tally: Tally,
): Effect.Effect<void, string, Scope.Scope> =>
  Effect.gen(function* () {
    const expected = expectation(input)
    const conn = lane.conn ?? (yield* connect(port))
    lane.conn = conn
    tally.tried += 1
    const probeId = expected._tag === "Answer" || expected._tag === "Unsupported" ? expected.correlationId ^ 0x40000000 : -7
    if (input._tag === "BadSize") {
      const prefix = new Uint8Array(8)
      new DataView(prefix.buffer).setInt32(0, input.size)
      conn.write(prefix)
    } else if (expected._tag === "LongPoll") {
      conn.write(sized(input.bytes))
      tally.longPolls += 1
      conn.destroy()
      lane.conn = undefined
      return
    } else {
      // The input and the probe in one write: two small writes would wait on Nagle's algorithm.
      conn.write(Buffer.concat([sized(input.bytes), probe(probeId)]))
    }
    const first = yield* conn.next
    if (first === "timeout") return yield* Effect.fail(`no answer and no close (expected ${expected._tag})`)
    if (expected._tag === "Close") {
      if (first !== "closed") return yield* Effect.fail("an answer where the connection should close")
      tally.closed += 1
      lane.conn = undefined
      return
    }
    if (first === "closed") return yield* Effect.fail(`the connection closed (expected ${expected._tag})`)
    const cid = first.int32()
    if (expected._tag === "NoAnswer") {
      if (cid !== probeId) return yield* Effect.fail(`an answer (correlation id ${cid}) to acks=0`)
      tally.noAnswer += 1
      return
    }
    if (expected._tag === "LongPoll") return
    if (cid !== expected.correlationId) return yield* Effect.fail(`correlation id ${cid}, expected ${expected.correlationId}`)
    if (expected._tag === "Unsupported") {
      if (expected.apiKey !== ApiKey.Fetch) {
        const code = first.int16()
        if (code !== ErrorCode.UNSUPPORTED_VERSION) return yield* Effect.fail(`error code ${code} for an unsupported version`)
      }
      tally.unsupported += 1
    } else {
      tally.answered += 1
    }
    const second = yield* conn.next
    if (second === "timeout" || second === "closed") return yield* Effect.fail(`probe after the answer: ${second}`)
    const probeCid = second.int32()
    if (probeCid !== probeId) return yield* Effect.fail(`probe correlation id ${probeCid}, expected ${probeId}`)
  })

// ---------------------------------------------------------------------------------------------
// The healthy connection

const healthCheck = (port: number, round: number) =>
  Effect.gen(function* () {
    const c = yield* connect(port)
    const send = (apiKey: number, v: number, cid: number, body: (w: Writer) => void) => {
      const w = new Writer()
      w.int16(apiKey).int16(v).int32(cid).nullableString("healthy")
      body(w)
      c.write(sized(w.toBytes()))
    }
    const answer = Effect.flatMap(c.next, (r) => (r instanceof Reader ? Effect.succeed(r) : Effect.die(`healthy connection: ${r}`)))

    send(ApiKey.Metadata, 1, 1, (w) => w.int32(1).string(HEALTHY))
    const meta = yield* answer
    expect(meta.int32()).toBe(1)
    const brokers = meta.array(false, (r) => ({ nodeId: r.int32(), host: r.string(), port: r.int32(), rack: r.nullableString() }))
    expect(brokers.map((b) => b.port)).toEqual([port])
    meta.int32() // controller
    const topics = meta.array(false, (r) => ({
      errorCode: r.int16(),
      name: r.string(),
      internal: r.bool(),
      partitions: r.array(false, (r) => ({
        errorCode: r.int16(),
        partition: r.int32(),
        leader: r.int32(),
        replicas: r.array(false, (r) => r.int32()),
        isr: r.array(false, (r) => r.int32()),
      })),
    }))
    expect(topics).toEqual([
      { errorCode: ErrorCode.NONE, name: HEALTHY, internal: false, partitions: [{ errorCode: ErrorCode.NONE, partition: 0, leader: 0, replicas: [0], isr: [0] }] },
    ])

    const value = `round-${round}`
    send(ApiKey.Produce, 3, 2, (w) => {
      const records = batch(value)
      w.nullableString(null).int16(-1).int32(1000)
      w.int32(1).string(HEALTHY).int32(1).int32(0).int32(records.byteLength).raw(records)
    })
    const produced = yield* answer
    expect(produced.int32()).toBe(2)
    const [topic] = produced.array(false, (r) => ({
      name: r.string(),
      partitions: r.array(false, (r) => ({ partition: r.int32(), errorCode: r.int16(), baseOffset: r.int64(), appendTime: r.int64() })),
    }))
    expect(topic.name).toBe(HEALTHY)
    expect(topic.partitions[0]).toMatchObject({ partition: 0, errorCode: ErrorCode.NONE, baseOffset: BigInt(round) })

    send(ApiKey.Fetch, 4, 3, (w) => {
      w.int32(-1).int32(100).int32(1).int32(1 << 20).int8(0)
      w.int32(1).string(HEALTHY).int32(1).int32(0).int64(BigInt(round)).int32(1 << 20)
    })
    const fetched = yield* answer
    expect(fetched.int32()).toBe(3)
    fetched.int32() // throttle
    const [ft] = fetched.array(false, (r) => ({
      topic: r.string(),
      partitions: r.array(false, (r) => ({
        partition: r.int32(),
        errorCode: r.int16(),
        highWatermark: r.int64(),
        lastStable: r.int64(),
        aborted: r.array(false, (r) => [r.int64(), r.int64()]),
        records: r.bytes(),
      })),
    }))
    expect(ft.partitions[0]).toMatchObject({ partition: 0, errorCode: ErrorCode.NONE, highWatermark: BigInt(round + 1) })
    const values = splitBatches(ft.partitions[0].records).flatMap((b) =>
      decodeRecords(b).records.map((r) => ({ offset: r.offset, value: new TextDecoder().decode(r.value ?? new Uint8Array(0)) })),
    )
    expect(values).toEqual([{ offset: BigInt(round), value }])
    c.destroy()
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------

describe("what the fuzzer found", () => {
  const createTopics = (c: RawClient, correlationId: number, topics: ReadonlyArray<readonly [string, number, number]>) =>
    Effect.gen(function* () {
      c.send(
        request(ApiKey.CreateTopics, 1, correlationId, (w) => {
          w.array(false, topics, (w, [name, partitions, replicationFactor]) => {
            w.string(name).int32(partitions).int16(replicationFactor).int32(0).int32(0)
          })
          w.int32(1000).bool(false)
        }),
      )
      const r = yield* c.next
      expect(r.int32()).toBe(correlationId)
      return r.array(false, (r) => ({ name: r.string(), errorCode: r.int16(), errorMessage: r.nullableString() }))
    })

  it.live("CreateTopics over 10,000 partitions in one request: POLICY_VIOLATION for every topic and nothing created, as Kafka", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const model = yield* BrokerModel.BrokerModel
      const c = yield* rawClient(broker.listeners[0].port)
      const errorMessage = "Excessively large number of partitions per request."
      expect(yield* createTopics(c, 1, [["huge", 2147483647, 1]])).toEqual([
        { name: "huge", errorCode: ErrorCode.POLICY_VIOLATION, errorMessage },
      ])
      expect(yield* createTopics(c, 2, [["a", 10_000, 1], ["b", 1, 1]])).toEqual([
        { name: "a", errorCode: ErrorCode.POLICY_VIOLATION, errorMessage },
        { name: "b", errorCode: ErrorCode.POLICY_VIOLATION, errorMessage },
      ])
      expect(yield* model.metadata(["huge", "a", "b"])).toEqual([])
      // At the cap it is created.
      expect(yield* createTopics(c, 3, [["a", 9_999, 1], ["b", 1, 1]])).toEqual([
        { name: "a", errorCode: ErrorCode.NONE, errorMessage: null },
        { name: "b", errorCode: ErrorCode.NONE, errorMessage: null },
      ])
      expect((yield* model.metadata(["a"]))[0].partitions.length).toBe(9_999)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
  )

  it.live("CreateTopics with no partitions or no replicas: INVALID_PARTITIONS and INVALID_REPLICATION_FACTOR; -1 takes the defaults", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      const noPartitions = "Number of partitions was set to an invalid non-positive value."
      const noReplicas = "Replication factor must be larger than 0, or -1 to use the default value."
      expect(
        yield* createTopics(c, 1, [
          ["zero", 0, 1],
          ["minus-two", -2, 1],
          ["no-replicas", 1, 0],
          ["defaults", -1, -1],
        ]),
      ).toEqual([
        { name: "zero", errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: noPartitions },
        { name: "minus-two", errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: noPartitions },
        { name: "no-replicas", errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, errorMessage: noReplicas },
        { name: "defaults", errorCode: ErrorCode.NONE, errorMessage: null },
      ])
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ partitions: 3 }))),
  )
})

describe("fuzzed requests over TCP", () => {
  it.live(
    `seed ${SEED}: ${BATCHES * PER_BATCH} mutated requests of every API and version are answered or close their connection; the broker keeps serving`,
    () =>
      Effect.gen(function* () {
        // Quiet: every closed connection logs a warning. Errors (a handler defect) fail the test.
        const capture = yield* makeLogCapture({ quiet: true, minimumLevel: LogLevel.Warning })
        const cpu0 = process.cpuUsage()
        const tally = yield* fuzz.pipe(
          Effect.provide(EmbeddedBroker.layer({ topics: { [FUZZ]: 2, [HEALTHY]: 1 }, maxRequestBytes: MAX_REQUEST_BYTES })),
          Effect.provide(capture.layer),
        )
        const cpu = process.cpuUsage(cpu0)
        console.log(JSON.stringify({ fuzz: "embedded broker", seed: SEED, ...tally, cpuMs: Math.round((cpu.user + cpu.system) / 1000) }))
        const errors = (yield* capture.logs).filter((l) => l.level === "ERROR" || l.level === "FATAL")
        expect(errors.map((l) => `${l.message} ${JSON.stringify(l.annotations)}`)).toEqual([])
      }),
    120_000,
  )
})

const fuzz = Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const port = broker.listeners[0].port
        const rng = generator(SEED)
        const tally: Tally = { tried: 0, closed: 0, answered: 0, unsupported: 0, noAnswer: 0, longPolls: 0 }
        const failures: Array<string> = []
        for (let round = 0; round < BATCHES; round++) {
          const inputs = Array.from({ length: PER_BATCH }, (_, k) => makeInput(rng, round * PER_BATCH + k + 1))
          yield* Effect.forEach(
            Array.from({ length: LANES }, (_, lane) => inputs.filter((_, k) => k % LANES === lane)),
            (share) =>
              Effect.gen(function* () {
                const lane: { conn: Connection | undefined } = { conn: undefined }
                for (const { input } of share) {
                  yield* tryInput(port, lane, input, tally).pipe(
                    Effect.catchAll((problem) =>
                      Effect.sync(() => {
                        failures.push(`${problem}: ${input.mutations.join(" ")}`)
                        lane.conn?.destroy()
                        lane.conn = undefined
                      }),
                    ),
                  )
                }
              }).pipe(Effect.scoped),
            { concurrency: LANES, discard: true },
          )
          yield* healthCheck(port, round)
        }
        expect(failures.slice(0, 20)).toEqual([])
        expect(tally.tried).toBe(BATCHES * PER_BATCH)
        // Every kind of outcome was exercised.
        expect(tally.closed).toBeGreaterThan(0)
        expect(tally.answered).toBeGreaterThan(0)
        expect(tally.unsupported).toBeGreaterThan(0)
        return tally
      })

// ---------------------------------------------------------------------------------------------
// A listener that requires SASL: the handshake and the authentication, mutated

const SASL_INPUTS = Math.ceil(INPUTS / 8)

/** A SaslHandshake v1 for PLAIN, a SaslAuthenticate with alice's token, one or both mutated; then the probe. */
const saslInput = (rng: Rng, i: number) => {
  const handshake = seedRequest(ApiKey.SaslHandshake, 1, 4 * i + 1, i)
  const auth = seedRequest(ApiKey.SaslAuthenticate, rng.int(3), 4 * i + 2, i)
  const which = rng.int(3)
  const mutations: Array<string> = [`sasl ${which}`]
  const mutated = (seed: Seed, on: boolean): Uint8Array => {
    if (!on) return seed.bytes
    const m = mutateOnce(rng, seed.bytes, seed)
    mutations.push(m.name)
    return m.bytes
  }
  const frames = [mutated(handshake, which !== 1), mutated(auth, which !== 0)]
  return { frames, probeId: 4 * i + 3, mutations }
}

/** Sends one SASL input on a fresh connection: it must end with the probe's answer or a close. */
const trySasl = (port: number, input: ReturnType<typeof saslInput>, tally: { closed: number; authenticated: number }) =>
  Effect.gen(function* () {
    const conn = yield* connect(port)
    conn.write(Buffer.concat([...input.frames.map(sized), probe(input.probeId)]))
    for (let k = 0; k < 4; k++) {
      const f = yield* conn.next
      if (f === "timeout") return yield* Effect.fail("neither the probe's answer nor a close")
      if (f === "closed") {
        tally.closed += 1
        return
      }
      // After a SaslHandshake v0, answers are bare tokens (no correlation id).
      if (f.remaining >= 4 && f.int32() === input.probeId) {
        tally.authenticated += 1
        return
      }
    }
    return yield* Effect.fail("more answers than requests")
  }).pipe(Effect.scoped)

/** A separate connection authenticates with PLAIN and gets Metadata. */
const saslHealthCheck = (port: number) =>
  Effect.gen(function* () {
    const c = yield* connect(port)
    const answer = Effect.flatMap(c.next, (r) => (r instanceof Reader ? Effect.succeed(r) : Effect.die(`healthy connection: ${r}`)))
    c.write(sized(seedRequest(ApiKey.SaslHandshake, 1, 1, 0).bytes))
    const handshake = yield* answer
    expect([handshake.int32(), handshake.int16()]).toEqual([1, ErrorCode.NONE])
    c.write(sized(seedRequest(ApiKey.SaslAuthenticate, 1, 2, 0).bytes))
    const auth = yield* answer
    expect([auth.int32(), auth.int16()]).toEqual([2, ErrorCode.NONE])
    const w = new Writer()
    w.int16(ApiKey.Metadata).int16(1).int32(3).nullableString("healthy").int32(1).string(HEALTHY)
    c.write(sized(w.toBytes()))
    const meta = yield* answer
    expect(meta.int32()).toBe(3)
    meta.array(false, (r) => [r.int32(), r.string(), r.int32(), r.nullableString()])
    meta.int32() // controller
    expect(meta.array(false, (r) => ({ errorCode: r.int16(), name: r.string() }))[0]).toEqual({ errorCode: ErrorCode.NONE, name: HEALTHY })
    c.destroy()
  }).pipe(Effect.scoped)

describe("fuzzed SASL over TCP", () => {
  it.live(`seed ${SEED + 1}: ${SASL_INPUTS} mutated handshakes and authentications end in an answer or a close; the listener keeps authenticating`, () =>
    Effect.gen(function* () {
      const capture = yield* makeLogCapture({ quiet: true, minimumLevel: LogLevel.Warning })
      const tally = { closed: 0, authenticated: 0 }
      const failures: Array<string> = []
      yield* Effect.gen(function* () {
        const port = (yield* EmbeddedBroker.EmbeddedBroker).listeners[0].port
        const rng = generator(SEED + 1)
        for (let round = 0; round < 4; round++) {
          const inputs = Array.from({ length: Math.ceil(SASL_INPUTS / 4) }, (_, k) => saslInput(rng, round * SASL_INPUTS + k + 1))
          yield* Effect.forEach(
            inputs,
            (input) =>
              trySasl(port, input, tally).pipe(
                Effect.catchAll((problem) => Effect.sync(() => failures.push(`${problem}: ${input.mutations.join(" ")}`))),
              ),
            { concurrency: LANES, discard: true },
          )
          yield* saslHealthCheck(port)
        }
      }).pipe(
        Effect.provide(
          EmbeddedBroker.layer({
            topics: { [HEALTHY]: 1 },
            maxRequestBytes: MAX_REQUEST_BYTES,
            sasl: { users: { alice: Redacted.make("secret") }, mechanisms: ["PLAIN"] },
          }),
        ),
        Effect.provide(capture.layer),
      )
      console.log(JSON.stringify({ fuzz: "embedded broker, SASL", seed: SEED + 1, ...tally }))
      expect(failures.slice(0, 20)).toEqual([])
      expect(tally.closed).toBeGreaterThan(0)
      expect(tally.authenticated).toBeGreaterThan(0)
      const errors = (yield* capture.logs).filter((l) => l.level === "ERROR" || l.level === "FATAL")
      expect(errors.map((l) => `${l.message} ${JSON.stringify(l.annotations)}`)).toEqual([])
    }),
    60_000,
  )
})
