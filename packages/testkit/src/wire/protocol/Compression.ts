/**
 * Record batch compression codecs. gzip comes from node:zlib; snappy (raw and xerial-framed) and
 * LZ4 (frame format) are decoded here, as brokers must read what librdkafka produces. zstd needs a
 * newer Node than 20 and is answered UNSUPPORTED_COMPRESSION_TYPE.
 */
import * as Zlib from "node:zlib"
import { Malformed } from "./Codec.js"

export type CompressionType = "none" | "gzip" | "snappy" | "lz4" | "zstd"

/** The codec is known but this broker cannot read it. */
export class UnsupportedCompression extends Error {
  constructor(readonly compression: CompressionType) {
    super(`compression ${compression} is not supported`)
  }
}

/**
 * The most one batch may decompress to (its records are decoded in memory). A batch of at most
 * message.max.bytes can expand about a thousandfold with gzip; past this it is refused as malformed
 * rather than allocated.
 */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024

const tooLarge = (limit: number) => new Malformed(`decompressed batch larger than ${limit} bytes`)

export const decompress = (type: CompressionType, bytes: Uint8Array, limit = MAX_DECOMPRESSED_BYTES): Uint8Array => {
  switch (type) {
    case "none":
      return bytes
    case "gzip":
      try {
        return new Uint8Array(Zlib.gunzipSync(bytes, { maxOutputLength: limit }))
      } catch (cause) {
        if (cause instanceof RangeError) throw tooLarge(limit)
        throw cause
      }
    case "snappy":
      return snappyDecompress(bytes, limit)
    case "lz4":
      return lz4FrameDecompress(bytes, limit)
    case "zstd":
      throw new UnsupportedCompression(type)
  }
}

export const compress = (type: CompressionType, bytes: Uint8Array): Uint8Array => {
  switch (type) {
    case "none":
      return bytes
    case "gzip":
      return new Uint8Array(Zlib.gzipSync(bytes))
    case "snappy":
      return snappyLiteral(bytes)
    default:
      throw new UnsupportedCompression(type)
  }
}

const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]

const isXerial = (b: Uint8Array): boolean => b.byteLength >= 16 && XERIAL_MAGIC.every((m, i) => b[i] === m)

/** Snappy, raw or in xerial's framing (what the Java client writes). */
export const snappyDecompress = (bytes: Uint8Array, limit = MAX_DECOMPRESSED_BYTES): Uint8Array => {
  if (!isXerial(bytes)) return snappyRaw(bytes, limit)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const chunks: Array<Uint8Array> = []
  let total = 0
  let at = 16
  while (at + 4 <= bytes.byteLength) {
    const n = view.getInt32(at)
    at += 4
    if (n < 0 || at + n > bytes.byteLength) throw new Malformed("xerial snappy chunk overruns the input")
    const chunk = snappyRaw(bytes.subarray(at, at + n), limit)
    chunks.push(chunk)
    total += chunk.byteLength
    if (total > limit) throw tooLarge(limit)
    at += n
  }
  return concat(chunks)
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.byteLength
  }
  return out
}

/** At most what raw snappy can expand to: a 3-byte copy writes at most 64 bytes. */
const SNAPPY_MAX_RATIO = 22

const snappyRaw = (src: Uint8Array, limit: number): Uint8Array => {
  let at = 0
  let length = 0
  let shift = 0
  for (;;) {
    if (at >= src.byteLength) throw new Malformed("snappy: truncated length")
    const b = src[at++]
    length |= (b & 0x7f) << shift
    if ((b & 0x80) === 0) break
    shift += 7
    if (shift > 28) throw new Malformed("snappy: length too long")
  }
  // The length is the input's own claim: more than its bytes can expand to is a lie, not a reason to allocate.
  if (length >>> 0 > src.byteLength * SNAPPY_MAX_RATIO) throw new Malformed(`snappy: length ${length >>> 0} from ${src.byteLength} bytes`)
  if (length >>> 0 > limit) throw tooLarge(limit)
  const out = new Uint8Array(length >>> 0)
  let o = 0
  while (at < src.byteLength) {
    const tag = src[at++]
    const kind = tag & 3
    if (kind === 0) {
      let n = tag >>> 2
      if (n >= 60) {
        const extra = n - 59
        n = 0
        for (let i = 0; i < extra; i++) n |= src[at++] << (8 * i)
      }
      n += 1
      if (at + n > src.byteLength || o + n > out.byteLength) throw new Malformed("snappy: literal overruns")
      out.set(src.subarray(at, at + n), o)
      at += n
      o += n
      continue
    }
    let len: number
    let offset: number
    if (kind === 1) {
      len = ((tag >>> 2) & 7) + 4
      offset = ((tag >>> 5) << 8) | src[at++]
    } else if (kind === 2) {
      len = (tag >>> 2) + 1
      offset = src[at] | (src[at + 1] << 8)
      at += 2
    } else {
      len = (tag >>> 2) + 1
      offset = (src[at] | (src[at + 1] << 8) | (src[at + 2] << 16) | (src[at + 3] << 24)) >>> 0
      at += 4
    }
    if (offset === 0 || offset > o || o + len > out.byteLength) throw new Malformed("snappy: bad copy")
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]
  }
  if (o !== out.byteLength) throw new Malformed("snappy: short output")
  return out
}

/** Raw snappy made of literals only: valid, uncompressed, enough for tests. */
const snappyLiteral = (bytes: Uint8Array): Uint8Array => {
  const parts: Array<number> = []
  let n = bytes.byteLength
  while (n >= 0x80) {
    parts.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  parts.push(n)
  const chunks: Array<Uint8Array> = [Uint8Array.from(parts)]
  for (let at = 0; at < bytes.byteLength; at += 65536) {
    const piece = bytes.subarray(at, Math.min(at + 65536, bytes.byteLength))
    const len = piece.byteLength - 1
    chunks.push(Uint8Array.from([61 << 2, len & 0xff, len >>> 8]), piece)
  }
  return concat(chunks)
}

const LZ4_MAGIC = 0x184d2204

/** LZ4 frame format (what Kafka clients write for magic 2). Checksums are not verified. */
export const lz4FrameDecompress = (src: Uint8Array, limit = MAX_DECOMPRESSED_BYTES): Uint8Array => {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength)
  if (src.byteLength < 7 || view.getUint32(0, true) !== LZ4_MAGIC) throw new Malformed("lz4: bad frame magic")
  const flg = src[4]
  let at = 6
  if (flg & 0x08) at += 8 // content size
  if (flg & 0x01) at += 4 // dictionary id
  at += 1 // header checksum
  const blockChecksum = (flg & 0x10) !== 0
  const out: Array<Uint8Array> = []
  let total = 0
  for (;;) {
    if (at + 4 > src.byteLength) throw new Malformed("lz4: truncated block size")
    const size = view.getUint32(at, true)
    at += 4
    if (size === 0) break
    const n = size & 0x7fffffff
    if (at + n > src.byteLength) throw new Malformed("lz4: block overruns the frame")
    const block = src.subarray(at, at + n)
    const plain = (size & 0x80000000) !== 0 ? block : lz4Block(block, limit - total)
    out.push(plain)
    total += plain.byteLength
    if (total > limit) throw tooLarge(limit)
    at += n + (blockChecksum ? 4 : 0)
  }
  return concat(out)
}

const lz4Block = (src: Uint8Array, limit: number): Uint8Array => {
  let out = new Uint8Array(Math.max(64, src.byteLength * 4))
  let o = 0
  const grow = (need: number) => {
    if (o + need <= out.byteLength) return
    if (o + need > limit) throw tooLarge(limit)
    let size = out.byteLength * 2
    while (size < o + need) size *= 2
    const next = new Uint8Array(size)
    next.set(out.subarray(0, o))
    out = next
  }
  let at = 0
  while (at < src.byteLength) {
    const token = src[at++]
    let lit = token >>> 4
    if (lit === 15) {
      let b: number
      do {
        b = src[at++]
        lit += b
      } while (b === 255)
    }
    if (at + lit > src.byteLength) throw new Malformed("lz4: literal overruns")
    grow(lit)
    out.set(src.subarray(at, at + lit), o)
    o += lit
    at += lit
    if (at >= src.byteLength) break
    const offset = src[at] | (src[at + 1] << 8)
    at += 2
    let len = (token & 15) + 4
    if ((token & 15) === 15) {
      let b: number
      do {
        b = src[at++]
        len += b
      } while (b === 255)
    }
    if (offset === 0 || offset > o) throw new Malformed("lz4: bad match offset")
    grow(len)
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]
  }
  return out.subarray(0, o)
}
