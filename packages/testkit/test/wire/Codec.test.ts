import { ErrorCode } from "@kafka-effect/core"
import { describe, expect, it } from "@effect/vitest"
import { ApiKey, isFlexible, isSupported } from "../../src/wire/protocol/ApiKeys.js"
import { Malformed, Reader, Truncated, Writer } from "../../src/wire/protocol/Codec.js"
import { compress, decompress, lz4FrameDecompress, snappyDecompress } from "../../src/wire/protocol/Compression.js"
import { crc32c } from "../../src/wire/protocol/Crc32c.js"
import * as ApiVersions from "../../src/wire/api/ApiVersions.js"
import * as Fetch from "../../src/wire/api/Fetch.js"
import { decodeRequestHeader } from "../../src/wire/protocol/Header.js"
import {
  crcValid,
  decodeRecords,
  encodeBatch,
  readHeader,
  splitBatches,
  withBaseOffset,
} from "../../src/wire/protocol/RecordBatch.js"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
const bytes = (s: string) => new TextEncoder().encode(s)

describe("CRC-32C", () => {
  // Known vectors: RFC 3720 appendix B.4 and the "123456789" check value of CRC-32C.
  it("matches the published check values", () => {
    expect(crc32c(bytes("123456789"))).toBe(0xe3069283)
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c)
    expect(crc32c(new Uint8Array(0))).toBe(0)
  })
  it("gives the same answer for every alignment of the tail", () => {
    const data = Uint8Array.from({ length: 37 }, (_, i) => (i * 7 + 3) & 0xff)
    let slow = 0xffffffff
    for (const b of data) {
      slow ^= b
      for (let k = 0; k < 8; k++) slow = slow & 1 ? (slow >>> 1) ^ 0x82f63b78 : slow >>> 1
    }
    expect(crc32c(data)).toBe((slow ^ 0xffffffff) >>> 0)
  })
})

describe("varints", () => {
  it("encodes zig-zag varints as Kafka does", () => {
    const cases: Array<[number, string]> = [
      [0, "00"],
      [-1, "01"],
      [1, "02"],
      [-64, "7f"],
      [64, "8001"],
      [300, "d804"],
      [2147483647, "feffffff0f"],
      [-2147483648, "ffffffff0f"],
    ]
    for (const [n, expected] of cases) {
      const w = new Writer()
      w.varint(n)
      expect(hex(w.toBytes())).toBe(expected)
      expect(new Reader(w.toBytes()).varint()).toBe(n)
    }
  })
  it("round-trips varlongs across the int64 range", () => {
    const values = [0n, -1n, 1n, 1n << 40n, -(1n << 40n), 9223372036854775807n, -9223372036854775808n]
    for (const v of values) {
      const w = new Writer()
      w.varlong(v)
      expect(new Reader(w.toBytes()).varlong()).toBe(v)
    }
    const w = new Writer()
    w.varlongNumber(1_700_000_000_000)
    expect(new Reader(w.toBytes()).varlongNumber()).toBe(1_700_000_000_000)
  })
  it("unsigned varints are LEB128", () => {
    const w = new Writer()
    w.uvarint(0).uvarint(127).uvarint(128).uvarint(16384)
    expect(hex(w.toBytes())).toBe("007f8001808001")
  })
})

describe("strings, arrays and tagged fields", () => {
  it("round-trips classic and compact forms, null included", () => {
    const w = new Writer(4)
    w.nullableString("héllo").nullableString(null).compactNullableString("x").compactNullableString(null)
    w.array(false, [1, 2], (w, n) => w.int32(n)).array(true, [3], (w, n) => w.int32(n)).array(true, null, () => {})
    w.nullableBytes(bytes("ab")).compactNullableBytes(null).emptyTags()
    const r = new Reader(w.toBytes())
    expect(r.nullableString()).toBe("héllo")
    expect(r.nullableString()).toBe(null)
    expect(r.compactNullableString()).toBe("x")
    expect(r.compactNullableString()).toBe(null)
    expect(r.array(false, (r) => r.int32())).toEqual([1, 2])
    expect(r.array(true, (r) => r.int32())).toEqual([3])
    expect(r.nullableArray(true, (r) => r.int32())).toBe(null)
    expect(hex(r.nullableBytes() ?? new Uint8Array())).toBe("6162")
    expect(r.compactNullableBytes()).toBe(null)
    expect(r.taggedFields().size).toBe(0)
    expect(r.remaining).toBe(0)
  })
  it("skips unknown tagged fields", () => {
    const w = new Writer()
    w.uvarint(2).uvarint(0).uvarint(2).int16(7).uvarint(5).uvarint(1).int8(1).int32(42)
    const r = new Reader(w.toBytes())
    const tags = r.taggedFields()
    expect([...tags.keys()]).toEqual([0, 5])
    expect(r.int32()).toBe(42)
  })
  it("throws Truncated on short input, also for lying array counts", () => {
    expect(() => new Reader(Uint8Array.of(0, 5, 65)).string()).toThrow(Truncated)
    expect(() => new Reader(Uint8Array.of(0x7f, 0xff, 0xff, 0xff)).array(false, (r) => r.int8())).toThrow(Truncated)
  })
})

describe("request header", () => {
  it("reads v1 and the flexible v2 header (ApiVersions v3)", () => {
    const w = new Writer()
    w.int16(ApiKey.ApiVersions).int16(3).int32(99).nullableString("rdkafka").emptyTags()
    w.compactNullableString("librdkafka").compactNullableString("2.0.2").emptyTags()
    const r = new Reader(w.toBytes())
    const header = decodeRequestHeader(r)
    expect(header).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 99, clientId: "rdkafka" })
    expect(ApiVersions.decodeRequest(r, 3)).toEqual({
      clientSoftwareName: "librdkafka",
      clientSoftwareVersion: "2.0.2",
    })
    expect(r.remaining).toBe(0)
  })
  it("knows which versions are flexible and supported", () => {
    expect(isFlexible(ApiKey.ApiVersions, 3)).toBe(true)
    expect(isFlexible(ApiKey.Fetch, 11)).toBe(false)
    expect(isSupported(ApiKey.Fetch, 11)).toBe(true)
    expect(isSupported(ApiKey.Fetch, 12)).toBe(false)
    expect(isSupported(ApiKey.Fetch, 3)).toBe(false)
    expect(isSupported(ApiKey.Produce, 0)).toBe(true)
    expect(isSupported(999, 0)).toBe(false)
  })
})

describe("ApiVersions response", () => {
  const resp = { errorCode: ErrorCode.NONE, throttleTimeMs: 0, apiKeys: [{ apiKey: 1, minVersion: 4, maxVersion: 11 }] }
  it("v0 is error code + int32 array, v3 compact with tags", () => {
    const v0 = new Writer()
    ApiVersions.encodeResponse(v0, 0, resp)
    expect(hex(v0.toBytes())).toBe("0000" + "00000001" + "0001" + "0004" + "000b")
    const v3 = new Writer()
    ApiVersions.encodeResponse(v3, 3, resp)
    expect(hex(v3.toBytes())).toBe("0000" + "02" + "0001" + "0004" + "000b" + "00" + "00000000" + "00")
  })
})

describe("Fetch request/response", () => {
  it("decodes what a v11 client sends", () => {
    const w = new Writer()
    w.int32(-1).int32(500).int32(1).int32(52428800).int8(0).int32(0).int32(-1)
    w.array(false, ["t"], (w, t) => {
      w.string(t).array(false, [0], (w, p) => {
        w.int32(p).int32(-1).int64(42n).int64(-1n).int32(1048576)
      })
    })
    w.array(false, [], () => {}).string("")
    const req = Fetch.decodeRequest(new Reader(w.toBytes()), 11)
    expect(req.maxWaitMs).toBe(500)
    expect(req.topics[0].partitions[0]).toEqual({
      partition: 0,
      currentLeaderEpoch: -1,
      fetchOffset: 42n,
      logStartOffset: -1n,
      partitionMaxBytes: 1048576,
    })
  })
})

describe("RecordBatch v2", () => {
  const records = [
    { offset: 0n, timestamp: 1_700_000_000_000, key: bytes("k1"), value: bytes("v1"), headers: [{ key: "h", value: bytes("x") }] },
    { offset: 1n, timestamp: 1_700_000_000_005, key: null, value: null, headers: [] },
    { offset: 5n, timestamp: 1_699_999_999_999, key: bytes("k2"), value: bytes("v".repeat(300)), headers: [] },
  ]
  for (const compression of ["none", "gzip", "snappy"] as const) {
    it(`round-trips records with gaps (${compression}) and a valid CRC`, () => {
      const batch = encodeBatch(records, { compression })
      expect(crcValid(batch)).toBe(true)
      const header = readHeader(batch)
      expect(header.lastOffsetDelta).toBe(5)
      expect(header.recordCount).toBe(3)
      expect(header.baseTimestamp).toBe(1_699_999_999_999n)
      expect(header.maxTimestamp).toBe(1_700_000_000_005n)
      const moved = withBaseOffset(batch, 100n)
      expect(crcValid(moved)).toBe(true)
      const decoded = decodeRecords(moved).records
      expect(decoded.map((r) => r.offset)).toEqual([100n, 101n, 105n])
      expect(decoded.map((r) => r.timestamp)).toEqual(records.map((r) => r.timestamp))
      expect(decoded[0].headers[0].key).toBe("h")
      expect(decoded[1].key).toBe(null)
      expect(new TextDecoder().decode(decoded[2].value ?? new Uint8Array())).toBe("v".repeat(300))
    })
  }
  it("detects a flipped bit with the CRC", () => {
    const batch = encodeBatch(records)
    batch[batch.length - 1] ^= 1
    expect(crcValid(batch)).toBe(false)
  })
  it("splits a records field and drops a trailing partial batch", () => {
    const a = encodeBatch(records.slice(0, 1))
    const b = encodeBatch(records.slice(1))
    const joined = new Uint8Array(a.length + b.length)
    joined.set(a)
    joined.set(b, a.length)
    expect(splitBatches(joined).length).toBe(2)
    expect(splitBatches(joined.subarray(0, a.length + 20)).length).toBe(1)
  })
})

describe("compression codecs", () => {
  const text = bytes("abcabcabcabcabcabcabc hello hello hello hello")
  it("gzip and literal snappy round-trip", () => {
    expect(decompress("gzip", compress("gzip", text))).toEqual(text)
    expect(snappyDecompress(compress("snappy", text))).toEqual(text)
  })
  it("decodes snappy copies and xerial framing", () => {
    // "abcd" literal, then copy len 8 offset 4 (1-byte-offset form): "abcdabcdabcd"
    const raw = Uint8Array.of(12, (3 << 2) | 0, 97, 98, 99, 100, (1 | ((8 - 4) << 2)), 4)
    expect(new TextDecoder().decode(snappyDecompress(raw))).toBe("abcdabcdabcd")
    const xerial = new Uint8Array(16 + 4 + raw.length)
    xerial.set([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1])
    new DataView(xerial.buffer).setInt32(16, raw.length)
    xerial.set(raw, 20)
    expect(new TextDecoder().decode(snappyDecompress(xerial))).toBe("abcdabcdabcd")
  })
  it("decodes an LZ4 frame with a compressed block", () => {
    // Block: token (lit 4, match 4+4) "abcd" offset 4 ; then last literals "e"
    const block = Uint8Array.of(0x44, 97, 98, 99, 100, 4, 0, 0x10, 101)
    const frame = new Uint8Array(7 + 4 + block.length + 4)
    const view = new DataView(frame.buffer)
    view.setUint32(0, 0x184d2204, true)
    frame[4] = 0x60
    frame[5] = 0x40
    frame[6] = 0 // header checksum, not verified
    view.setUint32(7, block.length, true)
    frame.set(block, 11)
    view.setUint32(11 + block.length, 0, true)
    expect(new TextDecoder().decode(lz4FrameDecompress(frame))).toBe("abcdabcdabcde")
    // The same frame under a limit smaller than what it expands to.
    expect(() => lz4FrameDecompress(frame, 8)).toThrow(Malformed)
  })
  it("refuses to decompress past the limit, or to allocate what a snappy length claims beyond its input", () => {
    const zeros = new Uint8Array(1 << 20)
    const bomb = compress("gzip", zeros)
    expect(bomb.byteLength).toBeLessThan(8 * 1024)
    expect(Buffer.from(decompress("gzip", bomb)).equals(zeros)).toBe(true)
    expect(() => decompress("gzip", bomb, 64 * 1024)).toThrow(Malformed)
    // A raw snappy block claiming 4 GiB from 7 bytes.
    const liar = Uint8Array.of(0xf0, 0xff, 0xff, 0xff, 0x0f, 0, 97)
    expect(() => snappyDecompress(liar)).toThrow("snappy: length 4294967280 from 7 bytes")
    expect(() => decompress("snappy", compress("snappy", text), 8)).toThrow(Malformed)
  })
})
