/**
 * What the fault proxy reads and rewrites in Kafka frames. A frame travels as the list of socket
 * chunks it arrived in (size prefix included): forwarding never joins them, reading walks them, and
 * only frames that are rewritten (Metadata, FindCoordinator, an injected error code) are copied
 * into one buffer.
 */
import type { TopicPartition } from "@kafka-effect/core"
import { ApiKey, isFlexible } from "../wire/protocol/ApiKeys.js"
import { Reader, Truncated, Writer } from "../wire/protocol/Codec.js"
import * as Fetch from "../wire/api/Fetch.js"
import * as ListOffsets from "../wire/api/ListOffsets.js"
import { decodeRequestHeader } from "../wire/protocol/Header.js"

export type Frame = ReadonlyArray<Uint8Array>

/** Splits a byte stream into size-prefixed frames, each as the chunk slices it spans. */
export class FrameSplitter {
  private parts: Array<Uint8Array> = []
  private buffered = 0
  /** Bytes of the frame being collected (prefix included), once its prefix has arrived. */
  private need = -1

  constructor(private readonly maxFrame: number) {}

  /** The frames this chunk completes; "TooLarge" when a frame announces more than `maxFrame` bytes. */
  push(chunk: Uint8Array): Array<Frame> | "TooLarge" {
    this.parts.push(chunk)
    this.buffered += chunk.byteLength
    const frames: Array<Frame> = []
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break
        const size = new PartsReader(this.parts).uint32()
        if (size > this.maxFrame) return "TooLarge"
        this.need = size + 4
      }
      if (this.buffered < this.need) break
      frames.push(this.take(this.need))
      this.need = -1
    }
    return frames
  }

  private take(n: number): Frame {
    const out: Array<Uint8Array> = []
    let left = n
    let whole = 0
    while (left > 0) {
      const head = this.parts[whole]
      if (head.byteLength <= left) {
        out.push(head)
        whole++
        left -= head.byteLength
      } else {
        out.push(head.subarray(0, left))
        this.parts[whole] = head.subarray(left)
        left = 0
      }
    }
    // one splice per frame, not one shift per chunk: a frame of many chunks stays linear
    this.parts.splice(0, whole)
    this.buffered -= n
    return out
  }
}

export const frameLength = (frame: Frame): number => {
  let n = 0
  for (const p of frame) n += p.byteLength
  return n
}

export const concat = (frame: Frame): Uint8Array => {
  if (frame.length === 1) return frame[0]
  const out = new Uint8Array(frameLength(frame))
  let at = 0
  for (const p of frame) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

const utf8 = new TextDecoder()

/** A big-endian reader over a frame's chunks; small values that straddle two chunks are read byte by byte. */
export class PartsReader {
  private part = 0
  private pos = 0
  /** Absolute offset from the start of the frame. */
  offset = 0

  constructor(private readonly parts: Frame) {}

  private byte(): number {
    while (this.part < this.parts.length && this.pos >= this.parts[this.part].byteLength) {
      this.part++
      this.pos = 0
    }
    if (this.part >= this.parts.length) throw new Truncated(1, 0)
    this.offset++
    return this.parts[this.part][this.pos++]
  }

  skip(n: number): void {
    if (n < 0) throw new Truncated(n, 0)
    let left = n
    while (left > 0) {
      if (this.part >= this.parts.length) throw new Truncated(left, 0)
      const avail = this.parts[this.part].byteLength - this.pos
      if (avail > left) {
        this.pos += left
        break
      }
      left -= avail
      this.part++
      this.pos = 0
    }
    this.offset += n
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.byte()
    return out
  }

  uint32(): number {
    return ((this.byte() << 24) | (this.byte() << 16) | (this.byte() << 8) | this.byte()) >>> 0
  }
  int32(): number {
    return this.uint32() | 0
  }
  int16(): number {
    const v = (this.byte() << 8) | this.byte()
    return v >= 0x8000 ? v - 0x10000 : v
  }
  int8(): number {
    const v = this.byte()
    return v >= 0x80 ? v - 0x100 : v
  }
  int64(): bigint {
    const hi = BigInt(this.int32())
    const lo = BigInt(this.uint32())
    return (hi << 32n) | lo
  }
  uvarint(): number {
    let result = 0
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte()
      result |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return result >>> 0
    }
    throw new Truncated(1, 0)
  }
  /** Length of a (compact) string, bytes or array field; -1 is null. */
  length(flexible: boolean, wide: boolean): number {
    if (flexible) return this.uvarint() - 1
    return wide ? this.int32() : this.int16()
  }
  str(flexible: boolean): string | null {
    const n = this.length(flexible, false)
    return n < 0 ? null : utf8.decode(this.bytes(n))
  }
  arrayLength(flexible: boolean): number {
    return flexible ? this.uvarint() - 1 : this.int32()
  }
  tags(flexible: boolean): void {
    if (!flexible) return
    const n = this.uvarint()
    for (let i = 0; i < n; i++) {
      this.uvarint()
      this.skip(this.uvarint())
    }
  }
}

export interface RequestHeader {
  readonly apiKey: number
  readonly apiVersion: number
  readonly correlationId: number
}

export const requestHeader = (frame: Frame): RequestHeader => {
  const r = new PartsReader(frame)
  r.skip(4)
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  return { apiKey, apiVersion, correlationId }
}

export const responseCorrelationId = (frame: Frame): number => {
  const r = new PartsReader(frame)
  r.skip(4)
  return r.int32()
}

export interface RequestPartitions {
  readonly partitions: ReadonlyArray<TopicPartition.TopicPartition>
  /** ListOffsets: the timestamp asked for each partition (-2 earliest, -1 latest). */
  readonly timestamps?: ReadonlyArray<bigint>
}

const none: RequestPartitions = { partitions: [] }

/** The partitions a Fetch or ListOffsets request names (none for other APIs or versions not read). */
export const requestPartitions = (frame: Frame, header: RequestHeader): RequestPartitions => {
  const isFetch = header.apiKey === ApiKey.Fetch && header.apiVersion <= 12
  if (!isFetch && header.apiKey !== ApiKey.ListOffsets) return none
  const r = new Reader(concat(frame), 4)
  decodeRequestHeader(r)
  if (isFetch) {
    return {
      partitions: Fetch.decodeRequest(r, header.apiVersion).topics.flatMap((t) =>
        t.partitions.map((p) => ({ topic: t.topic, partition: p.partition })),
      ),
    }
  }
  const listed = ListOffsets.decodeRequest(r, header.apiVersion).topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, timestamp: p.timestamp })),
  )
  return { partitions: listed.map((p) => ({ topic: p.topic, partition: p.partition })), timestamps: listed.map((p) => p.timestamp) }
}

const skipResponseHeader = (r: PartsReader, apiKey: number, version: number): boolean => {
  const f = isFlexible(apiKey, version)
  r.skip(8) // size, correlation id
  if (apiKey !== ApiKey.ApiVersions) r.tags(f)
  return f
}

export interface PartitionAnswer {
  readonly topic: string
  readonly partition: number
  readonly code: number
  /** Offset of the error code in the frame. */
  readonly errorAt: number
  /** Offset of the records' length field and of the first byte after the records (Fetch only). */
  readonly recordsAt: number
  readonly recordsEnd: number
}

/**
 * The partitions of a Fetch (v4-12) or ListOffsets (v1+) answer, with where their error code and
 * records sit; empty for anything else.
 */
export const answerPartitions = (frame: Frame, apiKey: number, version: number): ReadonlyArray<PartitionAnswer> => {
  const out: Array<PartitionAnswer> = []
  const r = new PartsReader(frame)
  if (apiKey === ApiKey.Fetch && version >= 4 && version <= 12) {
    const f = skipResponseHeader(r, apiKey, version)
    r.skip(4) // throttle
    if (version >= 7) r.skip(6) // error code, session id
    const topics = r.arrayLength(f)
    for (let t = 0; t < topics; t++) {
      const topic = r.str(f) ?? ""
      const partitions = r.arrayLength(f)
      for (let p = 0; p < partitions; p++) {
        const partition = r.int32()
        const errorAt = r.offset
        const code = r.int16()
        r.skip(version >= 5 ? 24 : 16) // high watermark, last stable offset, log start offset
        const aborted = r.arrayLength(f)
        for (let a = 0; a < aborted; a++) {
          r.skip(16)
          r.tags(f)
        }
        if (version >= 11) r.skip(4) // preferred read replica
        const recordsAt = r.offset
        const size = r.length(f, true)
        if (size > 0) r.skip(size)
        const recordsEnd = r.offset
        r.tags(f)
        out.push({ topic, partition, code, errorAt, recordsAt, recordsEnd })
      }
      r.tags(f)
    }
    return out
  }
  if (apiKey === ApiKey.ListOffsets && version >= 1) {
    const f = skipResponseHeader(r, apiKey, version)
    if (version >= 2) r.skip(4)
    const topics = r.arrayLength(f)
    for (let t = 0; t < topics; t++) {
      const topic = r.str(f) ?? ""
      const partitions = r.arrayLength(f)
      for (let p = 0; p < partitions; p++) {
        const partition = r.int32()
        const errorAt = r.offset
        const code = r.int16()
        r.skip(version >= 4 ? 20 : 16) // timestamp, offset, leader epoch
        r.tags(f)
        out.push({ topic, partition, code, errorAt, recordsAt: -1, recordsEnd: -1 })
      }
      r.tags(f)
    }
  }
  return out
}

/**
 * The answer with `code` for the partitions `pick` chooses, as Kafka answers a partition error:
 * Fetch with high watermark, last stable offset and log start offset -1 and no records, ListOffsets
 * with timestamp and offset -1.
 */
export const withErrorCode = (
  frame: Frame,
  apiKey: number,
  version: number,
  code: number,
  pick: (topic: string, partition: number) => boolean,
): Frame => {
  const chosen = answerPartitions(frame, apiKey, version).filter((p) => pick(p.topic, p.partition))
  if (chosen.length === 0) return frame
  const src = concat(frame)
  const out: Array<Uint8Array> = []
  let cursor = 0
  const f = isFlexible(apiKey, version)
  for (const p of chosen) {
    const fixed = new Writer(32).int16(code)
    if (apiKey === ApiKey.Fetch) {
      const offsets = version >= 5 ? 3 : 2
      for (let i = 0; i < offsets; i++) fixed.int64(-1n)
      out.push(src.subarray(cursor, p.errorAt), fixed.toBytes())
      out.push(src.subarray(p.errorAt + 2 + offsets * 8, p.recordsAt))
      out.push(f ? new Writer(1).uvarint(1).toBytes() : new Writer(4).int32(0).toBytes())
      cursor = p.recordsEnd
    } else {
      fixed.int64(-1n).int64(-1n)
      out.push(src.subarray(cursor, p.errorAt), fixed.toBytes())
      cursor = p.errorAt + 18
    }
  }
  out.push(src.subarray(cursor))
  return withSize(out)
}

/** Sets the size prefix of a frame whose first part starts with it. */
const withSize = (parts: Array<Uint8Array>): Frame => {
  const body = concat(parts)
  new DataView(body.buffer, body.byteOffset, body.byteLength).setInt32(0, body.byteLength - 4)
  return [body]
}

export interface Address {
  readonly host: string
  readonly port: number
}

/** An advertised broker address and what clients must be told instead. */
export type Remap = (nodeId: number, advertised: Address) => Address

const writeAddress = (w: Writer, f: boolean, a: Address): void => {
  w.str(f, a.host).int32(a.port)
}

/** The advertised brokers of a Metadata answer (any version), for `remap` to see first. */
export const metadataBrokers = (frame: Frame, version: number): ReadonlyArray<Address & { readonly nodeId: number }> => {
  const r = new PartsReader(frame)
  const f = skipResponseHeader(r, ApiKey.Metadata, version)
  if (version >= 3) r.skip(4)
  const n = r.arrayLength(f)
  const out: Array<Address & { readonly nodeId: number }> = []
  for (let i = 0; i < n; i++) {
    const nodeId = r.int32()
    const host = r.str(f) ?? ""
    const port = r.int32()
    if (version >= 1) r.str(f)
    r.tags(f)
    out.push({ nodeId, host, port })
  }
  return out
}

/** A Metadata answer with every broker's host and port replaced by `remap`'s; the rest is copied as is. */
export const rewriteMetadata = (frame: Frame, version: number, remap: Remap): Frame => {
  const src = concat(frame)
  const r = new PartsReader([src])
  const f = skipResponseHeader(r, ApiKey.Metadata, version)
  if (version >= 3) r.skip(4)
  const out: Array<Uint8Array> = [src.subarray(0, r.offset)]
  const w = new Writer(256)
  const n = r.arrayLength(f)
  if (f) w.uvarint(n + 1)
  else w.int32(n)
  for (let i = 0; i < n; i++) {
    const nodeId = r.int32()
    const host = r.str(f) ?? ""
    const port = r.int32()
    const restAt = r.offset
    if (version >= 1) r.str(f) // rack
    r.tags(f)
    w.int32(nodeId)
    writeAddress(w, f, remap(nodeId, { host, port }))
    w.raw(src.subarray(restAt, r.offset))
  }
  out.push(w.toBytes(), src.subarray(r.offset))
  return withSize(out)
}

/** The coordinator addresses of a FindCoordinator answer (v0-3: one; v4+: one per key). */
export const coordinatorAddresses = (frame: Frame, version: number): ReadonlyArray<Address & { readonly nodeId: number }> => {
  const out: Array<Address & { readonly nodeId: number }> = []
  rewriteFindCoordinator(frame, version, (nodeId, a) => {
    out.push({ nodeId, ...a })
    return a
  })
  return out
}

/** A FindCoordinator answer with the coordinator's address replaced by `remap`'s (not for node -1). */
export const rewriteFindCoordinator = (frame: Frame, version: number, remap: Remap): Frame => {
  const src = concat(frame)
  const r = new PartsReader([src])
  const f = skipResponseHeader(r, ApiKey.FindCoordinator, version)
  const out: Array<Uint8Array> = []
  let cursor = 0
  const address = () => {
    const nodeId = r.int32()
    const at = r.offset
    const host = r.str(f) ?? ""
    const port = r.int32()
    if (nodeId < 0 || port < 0) return
    const w = new Writer(64)
    writeAddress(w, f, remap(nodeId, { host, port }))
    out.push(src.subarray(cursor, at), w.toBytes())
    cursor = r.offset
  }
  if (version >= 1) r.skip(4) // throttle
  if (version <= 3) {
    r.skip(2) // error code
    if (version >= 1) r.str(f) // error message
    address()
  } else {
    const n = r.arrayLength(f)
    for (let i = 0; i < n; i++) {
      r.str(f) // key
      address()
      r.skip(2)
      r.str(f)
      r.tags(f)
    }
  }
  if (cursor === 0) return frame
  out.push(src.subarray(cursor))
  return withSize(out)
}
