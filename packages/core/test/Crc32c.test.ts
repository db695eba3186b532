import { describe, expect, it } from "@effect/vitest"
import { Crc32c } from "@kafka-effect/core"

/** Bit by bit, as the definition says (reflected, polynomial 0x82f63b78). */
const reference = (bytes: Uint8Array): number => {
  let crc = 0xffffffff
  for (const b of bytes) {
    crc ^= b
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

describe("Crc32c", () => {
  it("matches the check value and the bitwise definition at every alignment and length, on ranges without copying", () => {
    expect(Crc32c.crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283)
    expect(Crc32c.crc32c(new Uint8Array(0))).toBe(0)
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7919 + 13) & 0xff)
    for (let start = 0; start < 9; start++) {
      for (const end of [start, start + 1, start + 7, start + 8, start + 9, start + 63, 300 - (start % 5)]) {
        expect([start, end, Crc32c.crc32c(data, start, end)]).toEqual([start, end, reference(data.subarray(start, end))])
        // The same bytes in a view that starts at another offset of its buffer.
        const view = new Uint8Array(data.buffer, start, end - start)
        expect(Crc32c.crc32c(view)).toBe(reference(view))
      }
    }
  })
})
