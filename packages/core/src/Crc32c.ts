/**
 * CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2 (magic 2): it covers the batch from
 * its attributes to its end. Slicing-by-8 over eight tables built once (8 KiB), reading eight bytes
 * per step; shared by the kafka package (checking fetched batches) and the testkit (writing them).
 *
 * @since 0.1.0
 */

const POLY = 0x82f63b78

// Eight 256-entry tables in one array: table k at [k * 256, k * 256 + 256).
const T: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t[i] = c >>> 0
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + i]!
      t[k * 256 + i] = (t[prev & 0xff]! ^ (prev >>> 8)) >>> 0
    }
  }
  return t
})()

/** Whether this machine stores words little-endian (then eight bytes are read as two words). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** Eight bytes (`lo` already xored with the running CRC, `hi`) through the eight tables. */
const step = (lo: number, hi: number): number =>
  T[1792 + (lo & 0xff)]! ^
  T[1536 + ((lo >>> 8) & 0xff)]! ^
  T[1280 + ((lo >>> 16) & 0xff)]! ^
  T[1024 + (lo >>> 24)]! ^
  T[768 + (hi & 0xff)]! ^
  T[512 + ((hi >>> 8) & 0xff)]! ^
  T[256 + ((hi >>> 16) & 0xff)]! ^
  T[hi >>> 24]!

/**
 * The CRC-32C of `bytes[start, end)` (an unsigned 32-bit number), without copying the range.
 *
 * @since 0.1.0
 * @category checksums
 * @example
 * import { Crc32c } from "@kafka-effect/core"
 *
 * Crc32c.crc32c(new TextEncoder().encode("123456789")) // 0xe3069283
 */
export const crc32c = (bytes: Uint8Array, start = 0, end: number = bytes.length): number => {
  let crc = 0xffffffff
  let i = start
  if (LITTLE_ENDIAN) {
    // Up to a 4-byte boundary, then eight bytes per step as two words read through one view.
    while (i < end && ((bytes.byteOffset + i) & 3) !== 0) crc = T[(crc ^ bytes[i++]!) & 0xff]! ^ (crc >>> 8)
    const steps = (end - i) >>> 3
    if (steps > 0) {
      const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, steps * 2)
      for (let j = 0; j < words.length; j += 2) crc = step(crc ^ words[j]!, words[j + 1]!)
      i += steps * 8
    }
  } else {
    for (const end8 = end - ((end - i) & 7); i < end8; i += 8) {
      const lo = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))
      crc = step(lo, bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24))
    }
  }
  for (; i < end; i++) crc = T[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
