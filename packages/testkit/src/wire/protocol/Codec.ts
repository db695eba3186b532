/**
 * Kafka's primitive wire types: big-endian fixed-width integers, zig-zag varints, the classic
 * (int16/int32 length) and the compact (unsigned varint length + 1) strings, bytes and arrays, and
 * tagged-field sections of flexible versions.
 *
 * The reader throws `Truncated` on input that ends early; the server turns that into a tagged error
 * at its boundary. Both sides work on plain arrays: no Effect per field.
 */

/** The input ended before the value it announced. */
export class Truncated extends Error {
  constructor(
    readonly wanted: number,
    readonly available: number,
  ) {
    super(`Truncated input: wanted ${wanted} bytes, ${available} available`)
  }
}

/** A value that cannot be encoded or a length that makes no sense. */
export class Malformed extends Error {}

const utf8Decoder = new TextDecoder()
const utf8Encoder = new TextEncoder()

export class Reader {
  offset: number
  private readonly view: DataView

  constructor(
    readonly buf: Uint8Array,
    offset = 0,
  ) {
    this.offset = offset
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get remaining(): number {
    return this.buf.byteLength - this.offset
  }

  private need(n: number): number {
    const at = this.offset
    if (n < 0 || at + n > this.buf.byteLength) throw new Truncated(n, this.buf.byteLength - at)
    this.offset = at + n
    return at
  }

  int8(): number {
    return this.view.getInt8(this.need(1))
  }
  bool(): boolean {
    return this.int8() !== 0
  }
  int16(): number {
    return this.view.getInt16(this.need(2))
  }
  int32(): number {
    return this.view.getInt32(this.need(4))
  }
  uint32(): number {
    return this.view.getUint32(this.need(4))
  }
  int64(): bigint {
    return this.view.getBigInt64(this.need(8))
  }

  /** Unsigned LEB128, at most 5 bytes (a 32-bit value). */
  uvarint(): number {
    let result = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      const b = this.buf[this.need(1)]
      result |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return result >>> 0
      shift += 7
    }
    throw new Malformed("varint longer than 5 bytes")
  }

  /** Zig-zag varint (int32). */
  varint(): number {
    const u = this.uvarint()
    return (u >>> 1) ^ -(u & 1)
  }

  /** Zig-zag varlong (int64), as bigint. */
  varlong(): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.need(1)]
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return (result >> 1n) ^ -(result & 1n)
      shift += 7n
    }
    throw new Malformed("varlong longer than 10 bytes")
  }

  /** Zig-zag varlong that fits a JS number (record timestamp and offset deltas). */
  varlongNumber(): number {
    return Number(this.varlong())
  }

  raw(n: number): Uint8Array {
    const at = this.need(n)
    return this.buf.subarray(at, at + n)
  }

  private text(n: number): string {
    return utf8Decoder.decode(this.raw(n))
  }

  /** int16 length; -1 is null. */
  nullableString(): string | null {
    const n = this.int16()
    return n < 0 ? null : this.text(n)
  }
  string(): string {
    return this.nullableString() ?? ""
  }
  /** unsigned varint length + 1; 0 is null. */
  compactNullableString(): string | null {
    const n = this.uvarint()
    return n === 0 ? null : this.text(n - 1)
  }
  compactString(): string {
    return this.compactNullableString() ?? ""
  }
  str(flexible: boolean): string {
    return flexible ? this.compactString() : this.string()
  }
  nullableStr(flexible: boolean): string | null {
    return flexible ? this.compactNullableString() : this.nullableString()
  }

  /** int32 length; -1 is null. */
  nullableBytes(): Uint8Array | null {
    const n = this.int32()
    return n < 0 ? null : this.raw(n)
  }
  bytes(): Uint8Array {
    return this.nullableBytes() ?? new Uint8Array(0)
  }
  compactNullableBytes(): Uint8Array | null {
    const n = this.uvarint()
    return n === 0 ? null : this.raw(n - 1)
  }
  byteArray(flexible: boolean): Uint8Array {
    return (flexible ? this.compactNullableBytes() : this.nullableBytes()) ?? new Uint8Array(0)
  }
  nullableByteArray(flexible: boolean): Uint8Array | null {
    return flexible ? this.compactNullableBytes() : this.nullableBytes()
  }

  /** int32 count (or compact uvarint count + 1); null arrays come back as null. */
  nullableArray<A>(flexible: boolean, item: (r: Reader) => A): Array<A> | null {
    const n = flexible ? this.uvarint() - 1 : this.int32()
    if (n < 0) return null
    // Each item takes at least one byte: a count above what is left is a lie, not a reason to allocate.
    if (n > this.remaining) throw new Truncated(n, this.remaining)
    const out = new Array<A>(n)
    for (let i = 0; i < n; i++) out[i] = item(this)
    return out
  }
  array<A>(flexible: boolean, item: (r: Reader) => A): Array<A> {
    return this.nullableArray(flexible, item) ?? []
  }

  /** Skips a tagged-field section (flexible versions); returns the tags seen. */
  taggedFields(): ReadonlyMap<number, Uint8Array> {
    const n = this.uvarint()
    if (n === 0) return emptyTags
    const tags = new Map<number, Uint8Array>()
    for (let i = 0; i < n; i++) {
      const tag = this.uvarint()
      const size = this.uvarint()
      tags.set(tag, this.raw(size))
    }
    return tags
  }
}

const emptyTags: ReadonlyMap<number, Uint8Array> = new Map()

/** A growable big-endian buffer. */
export class Writer {
  private buf: Uint8Array
  private view: DataView
  /** Bytes written into the writer's own buffer (spliced bytes not included). */
  length = 0
  /** Bytes referenced instead of copied, each at a position of the own buffer. */
  private readonly spliced: Array<{ readonly at: number; readonly bytes: Uint8Array }> = []
  private splicedLength = 0

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity)
    this.view = new DataView(this.buf.buffer)
  }

  private ensure(n: number): number {
    const at = this.length
    const needed = at + n
    if (needed > this.buf.byteLength) {
      let size = this.buf.byteLength * 2
      while (size < needed) size *= 2
      const next = new Uint8Array(size)
      next.set(this.buf.subarray(0, at))
      this.buf = next
      this.view = new DataView(next.buffer)
    }
    this.length = needed
    return at
  }

  int8(v: number): this {
    const at = this.ensure(1)
    this.view.setInt8(at, v)
    return this
  }
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0)
  }
  int16(v: number): this {
    const at = this.ensure(2)
    this.view.setInt16(at, v)
    return this
  }
  int32(v: number): this {
    const at = this.ensure(4)
    this.view.setInt32(at, v)
    return this
  }
  uint32(v: number): this {
    const at = this.ensure(4)
    this.view.setUint32(at, v >>> 0)
    return this
  }
  int64(v: bigint): this {
    const at = this.ensure(8)
    this.view.setBigInt64(at, v)
    return this
  }

  uvarint(v: number): this {
    let u = v >>> 0
    while (u >= 0x80) {
      const at = this.ensure(1)
      this.buf[at] = (u & 0x7f) | 0x80
      u >>>= 7
    }
    const at = this.ensure(1)
    this.buf[at] = u
    return this
  }
  varint(v: number): this {
    return this.uvarint((v << 1) ^ (v >> 31))
  }
  varlong(v: bigint): this {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n))
    while (u >= 0x80n) {
      const at = this.ensure(1)
      this.buf[at] = Number(u & 0x7fn) | 0x80
      u >>= 7n
    }
    const at = this.ensure(1)
    this.buf[at] = Number(u)
    return this
  }
  /** Zig-zag varlong of a safe integer without going through bigint (record deltas). */
  varlongNumber(v: number): this {
    if (v >= -0x40000000 && v < 0x40000000) return this.varint(v)
    return this.varlong(BigInt(v))
  }

  raw(bytes: Uint8Array): this {
    const at = this.ensure(bytes.byteLength) // before reading this.buf: ensure may replace it
    this.buf.set(bytes, at)
    return this
  }

  nullableString(v: string | null): this {
    if (v === null) return this.int16(-1)
    const bytes = utf8Encoder.encode(v)
    if (bytes.byteLength > 0x7fff) throw new Malformed(`string of ${bytes.byteLength} bytes`)
    return this.int16(bytes.byteLength).raw(bytes)
  }
  string(v: string): this {
    return this.nullableString(v)
  }
  compactNullableString(v: string | null): this {
    if (v === null) return this.uvarint(0)
    const bytes = utf8Encoder.encode(v)
    return this.uvarint(bytes.byteLength + 1).raw(bytes)
  }
  str(flexible: boolean, v: string): this {
    return flexible ? this.compactNullableString(v) : this.nullableString(v)
  }
  nullableStr(flexible: boolean, v: string | null): this {
    return flexible ? this.compactNullableString(v) : this.nullableString(v)
  }

  nullableBytes(v: Uint8Array | null): this {
    if (v === null) return this.int32(-1)
    return this.int32(v.byteLength).raw(v)
  }
  compactNullableBytes(v: Uint8Array | null): this {
    if (v === null) return this.uvarint(0)
    return this.uvarint(v.byteLength + 1).raw(v)
  }
  byteArray(flexible: boolean, v: Uint8Array | null): this {
    return flexible ? this.compactNullableBytes(v) : this.nullableBytes(v)
  }

  array<A>(flexible: boolean, items: ReadonlyArray<A> | null, item: (w: Writer, a: A) => void): this {
    if (items === null) return flexible ? this.uvarint(0) : this.int32(-1)
    if (flexible) this.uvarint(items.length + 1)
    else this.int32(items.length)
    for (const a of items) item(this, a)
    return this
  }

  /** An empty tagged-field section. */
  emptyTags(): this {
    return this.uvarint(0)
  }
  /** Writes `emptyTags` only in flexible versions. */
  tags(flexible: boolean): this {
    return flexible ? this.uvarint(0) : this
  }

  /** Reserves `n` bytes to fill later with `setInt32At` (lengths, CRCs). */
  reserve(n: number): number {
    const at = this.ensure(n)
    this.buf.fill(0, at, at + n)
    return at
  }
  setInt32At(at: number, v: number): void {
    this.view.setInt32(at, v)
  }
  setUint32At(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0)
  }

  /**
   * Appends `bytes` by reference, not by copy: `chunks()` hands them out as they are (a Fetch answer
   * serves stored batches this way). They must not change until the chunks are written.
   */
  splice(bytes: Uint8Array): this {
    if (bytes.byteLength === 0) return this
    this.spliced.push({ at: this.length, bytes })
    this.splicedLength += bytes.byteLength
    return this
  }
  /** Everything written, spliced bytes included. */
  get totalLength(): number {
    return this.length + this.splicedLength
  }
  /** What was written, in order, as views: the own buffer's pieces around the spliced bytes. */
  chunks(): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    let from = 0
    for (const { at, bytes } of this.spliced) {
      if (at > from) out.push(this.buf.subarray(from, at))
      out.push(bytes)
      from = at
    }
    if (this.length > from || out.length === 0) out.push(this.buf.subarray(from, this.length))
    return out
  }
  /** A view of what was written so far (valid until the next write); joined when bytes were spliced. */
  subarray(): Uint8Array {
    return this.spliced.length === 0 ? this.buf.subarray(0, this.length) : this.toBytes()
  }
  /** A copy of what was written so far. */
  toBytes(): Uint8Array {
    if (this.spliced.length === 0) return this.buf.slice(0, this.length)
    const out = new Uint8Array(this.totalLength)
    let pos = 0
    for (const c of this.chunks()) {
      out.set(c, pos)
      pos += c.byteLength
    }
    return out
  }
}

/** Bytes a zig-zag varint takes (record sizes are computed before writing). */
export const sizeOfVarint = (v: number): number => {
  let u = ((v << 1) ^ (v >> 31)) >>> 0
  let n = 1
  while (u >= 0x80) {
    u >>>= 7
    n++
  }
  return n
}

export const utf8 = (s: string): Uint8Array => utf8Encoder.encode(s)
export const fromUtf8 = (b: Uint8Array): string => utf8Decoder.decode(b)
