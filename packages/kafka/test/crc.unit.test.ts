/**
 * The fetch path's CRC-32C: the native implementation (`@node-rs/crc32`) where it loads, core's
 * JavaScript one otherwise; both give Kafka's CRC-32C, over any range of any buffer.
 */
import { describe, it } from "@effect/vitest"
import { Crc32c } from "@kafka-effect/core"
import { FastCheck } from "effect"
import { expect } from "vitest"
import { crc32c, implementation, nativeCrc32c } from "../src/internal/crc.js"

const ascii = (s: string) => new TextEncoder().encode(s)

// RFC 3720 (iSCSI) B.4 and the usual check value.
const vectors: ReadonlyArray<readonly [string, Uint8Array, number]> = [
  ["123456789", ascii("123456789"), 0xe3069283],
  ["32 zero bytes", new Uint8Array(32), 0x8a9136aa],
  ["32 bytes of 0xff", new Uint8Array(32).fill(0xff), 0x62a8ab43],
  ["0..31", Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
  ["31..0", Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
  ["empty", new Uint8Array(0), 0],
]

describe("fetch path CRC-32C", () => {
  it("uses the native implementation on linux x64 (a broken install fails here, not silently slower)", () => {
    if (process.platform === "linux" && process.arch === "x64") {
      expect(implementation).toBe("native")
      expect(nativeCrc32c).toBeDefined()
    } else {
      expect(["native", "javascript"]).toContain(implementation)
    }
  })

  for (const [name, bytes, expected] of vectors) {
    it(`${name}: ${expected.toString(16)} from the fetch path's, core's JavaScript and the native one`, () => {
      expect(crc32c(bytes)).toBe(expected)
      expect(Crc32c.crc32c(bytes)).toBe(expected)
      if (nativeCrc32c !== undefined) expect(nativeCrc32c(bytes)).toBe(expected)
    })
  }

  it("a range of a larger buffer (offset into its ArrayBuffer too) is the CRC of that range alone", () => {
    const backing = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)
    const view = backing.subarray(5, 60)
    const copy = Uint8Array.from(view.subarray(3, 41))
    expect(crc32c(view, 3, 41)).toBe(Crc32c.crc32c(copy))
  })

  it("native and JavaScript agree on random buffers and ranges", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.uint8Array({ maxLength: 600 }),
        FastCheck.nat(600),
        FastCheck.nat(600),
        FastCheck.nat(7),
        (data, a, b, shift) => {
          // A shifted view, so unaligned starts are covered.
          const backing = new Uint8Array(data.length + shift)
          backing.set(data, shift)
          const bytes = backing.subarray(shift)
          const start = Math.min(a, b, bytes.length)
          const end = Math.min(Math.max(a, b), bytes.length)
          const js = Crc32c.crc32c(bytes, start, end)
          expect(crc32c(bytes, start, end)).toBe(js)
          if (nativeCrc32c !== undefined) expect(nativeCrc32c(bytes, start, end)).toBe(js)
        },
      ),
      { numRuns: 500 },
    )
  })
})
