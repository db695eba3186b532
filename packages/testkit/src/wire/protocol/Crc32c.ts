/** CRC-32C (Castagnoli), the checksum of RecordBatch v2. Slicing-by-4 over a table built once. */

const POLY = 0x82f63b78

const tables: ReadonlyArray<Uint32Array> = (() => {
  const t = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)]
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t[0][i] = c >>> 0
  }
  for (let i = 0; i < 256; i++) {
    t[1][i] = (t[0][t[0][i] & 0xff] ^ (t[0][i] >>> 8)) >>> 0
    t[2][i] = (t[0][t[1][i] & 0xff] ^ (t[1][i] >>> 8)) >>> 0
    t[3][i] = (t[0][t[2][i] & 0xff] ^ (t[2][i] >>> 8)) >>> 0
  }
  return t
})()

/** The CRC-32C of `bytes` (an unsigned 32-bit number). */
export const crc32c = (bytes: Uint8Array): number => {
  const [t0, t1, t2, t3] = tables
  let crc = 0xffffffff
  let i = 0
  const n = bytes.byteLength
  const end4 = n - (n % 4)
  for (; i < end4; i += 4) {
    crc ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
    crc = t3[crc & 0xff] ^ t2[(crc >>> 8) & 0xff] ^ t1[(crc >>> 16) & 0xff] ^ t0[crc >>> 24]
  }
  for (; i < n; i++) crc = t0[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
