/**
 * The fault proxy's frame handling at the byte level, over answers written by the embedded
 * broker's encoders in the versions clients negotiate and the flexible ones none of our peers use
 * yet: frames split at any chunk boundary come back whole; Metadata and FindCoordinator answers keep
 * every byte but the addresses; an injected error code reads as Kafka writes a partition error.
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode } from "@kafka-effect/core"
import * as Frames from "../src/internal/proxyFrames.js"
import { ApiKey } from "../src/wire/protocol/ApiKeys.js"
import { Reader, Writer } from "../src/wire/protocol/Codec.js"
import * as Fetch from "../src/wire/api/Fetch.js"
import * as FindCoordinator from "../src/wire/api/FindCoordinator.js"
import * as ListOffsets from "../src/wire/api/ListOffsets.js"
import * as Metadata from "../src/wire/api/Metadata.js"
import { encodeResponseHeader } from "../src/wire/protocol/Header.js"

/** A response frame: size prefix, header, body. */
const answer = (apiKey: number, version: number, body: (w: Writer) => void): Uint8Array => {
  const w = new Writer()
  w.int32(0)
  encodeResponseHeader(w, apiKey, version, 42)
  body(w)
  const bytes = w.toBytes()
  new DataView(bytes.buffer).setInt32(0, bytes.byteLength - 4)
  return bytes
}

/** Splits bytes into chunks of the given sizes (cycled). */
const chunked = (bytes: Uint8Array, sizes: ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let at = 0
  for (let i = 0; at < bytes.byteLength; i++) {
    const n = sizes[i % sizes.length]!
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

const metadata = (v: number) =>
  answer(ApiKey.Metadata, v, (w) =>
    Metadata.encodeResponse(w, v, {
      throttleTimeMs: 0,
      brokers: [
        { nodeId: 1, host: "10.0.0.1", port: 9092, rack: "r1" },
        { nodeId: 2, host: "kafka-2.internal", port: 9093, rack: null },
      ],
      clusterId: "c1",
      controllerId: 1,
      topics: [
        {
          errorCode: ErrorCode.NONE,
          name: "t",
          isInternal: false,
          partitions: [{ errorCode: ErrorCode.NONE, partitionIndex: 0, leaderId: 2, leaderEpoch: 3, replicaNodes: [2, 1], isrNodes: [2, 1], offlineReplicas: [] }],
        },
      ],
    }),
  )

const fetchAnswer = (v: number) =>
  answer(ApiKey.Fetch, v, (w) =>
    Fetch.encodeResponse(w, v, {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses: [
        {
          topic: "t",
          partitions: [
            { partition: 0, errorCode: ErrorCode.NONE, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 2n, records: [new Uint8Array(300).fill(7)] },
            { partition: 1, errorCode: ErrorCode.NONE, highWatermark: 5n, lastStableOffset: 5n, logStartOffset: 0n, records: [new Uint8Array(40).fill(9)] },
          ],
        },
      ],
    }),
  )

describe("the proxy's frames", () => {
  it("reassembles frames split at every chunk boundary, without copying whole frames", () => {
    const frames = [metadata(6), fetchAnswer(11), metadata(9)]
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0))
    let at = 0
    for (const f of frames) {
      stream.set(f, at)
      at += f.byteLength
    }
    for (const sizes of [[1], [3], [7, 1, 2], [64], [stream.byteLength]]) {
      const splitter = new Frames.FrameSplitter(1 << 20)
      const got: Array<Uint8Array> = []
      for (const c of chunked(stream, sizes)) {
        const out = splitter.push(c)
        if (out === "TooLarge") throw new Error("too large")
        got.push(...out.map(Frames.concat))
      }
      expect(got).toEqual(frames)
    }
    expect(new Frames.FrameSplitter(100).push(metadata(6))).toBe("TooLarge")
  })

  for (const v of [1, 4, 6, 9, 12]) {
    it(`rewrites Metadata v${v} addresses and keeps every other byte`, () => {
      const frame = metadata(v)
      expect(Frames.metadataBrokers([frame], v).map((b) => [b.nodeId, b.host, b.port])).toEqual([
        [1, "10.0.0.1", 9092],
        [2, "kafka-2.internal", 9093],
      ])
      const rewritten = Frames.concat(
        Frames.rewriteMetadata(chunked(frame, [5]), v, (nodeId) => ({ host: "127.0.0.1", port: 40000 + nodeId })),
      )
      expect(Frames.metadataBrokers([rewritten], v).map((b) => [b.nodeId, b.host, b.port])).toEqual([
        [1, "127.0.0.1", 40001],
        [2, "127.0.0.1", 40002],
      ])
      // the same answer as the broker would write with those addresses
      const expected = answer(ApiKey.Metadata, v, (w) =>
        Metadata.encodeResponse(w, v, {
          throttleTimeMs: 0,
          brokers: [
            { nodeId: 1, host: "127.0.0.1", port: 40001, rack: "r1" },
            { nodeId: 2, host: "127.0.0.1", port: 40002, rack: null },
          ],
          clusterId: "c1",
          controllerId: 1,
          topics: [
            {
              errorCode: ErrorCode.NONE,
              name: "t",
              isInternal: false,
              partitions: [
                { errorCode: ErrorCode.NONE, partitionIndex: 0, leaderId: 2, leaderEpoch: 3, replicaNodes: [2, 1], isrNodes: [2, 1], offlineReplicas: [] },
              ],
            },
          ],
        }),
      )
      expect(rewritten).toEqual(expected)
    })
  }

  for (const v of [0, 2, 3]) {
    it(`rewrites the FindCoordinator v${v} address, not a missing coordinator's`, () => {
      const found = (nodeId: number, host: string, port: number) =>
        answer(ApiKey.FindCoordinator, v, (w) =>
          FindCoordinator.encodeResponse(w, v, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId, host, port }),
        )
      const rewritten = Frames.concat(Frames.rewriteFindCoordinator([found(3, "10.0.0.3", 9092)], v, () => ({ host: "127.0.0.1", port: 41000 })))
      expect(rewritten).toEqual(found(3, "127.0.0.1", 41000))
      const none = found(-1, "", -1)
      expect(Frames.concat(Frames.rewriteFindCoordinator([none], v, () => ({ host: "127.0.0.1", port: 41000 })))).toEqual(none)
    })
  }

  for (const v of [4, 11, 12]) {
    it(`reads Fetch v${v} partitions and writes an error code as Kafka answers a partition error`, () => {
      const frame = fetchAnswer(v)
      expect(Frames.answerPartitions(chunked(frame, [3, 11]), ApiKey.Fetch, v).map((p) => [p.partition, p.code])).toEqual([
        [0, 0],
        [1, 0],
      ])
      const out = Frames.concat(Frames.withErrorCode([frame], ApiKey.Fetch, v, 29, (_, p) => p === 0))
      const expected = answer(ApiKey.Fetch, v, (w) =>
        Fetch.encodeResponse(w, v, {
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          sessionId: 0,
          responses: [
            {
              topic: "t",
              partitions: [
                { partition: 0, errorCode: 29, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: [] },
                { partition: 1, errorCode: ErrorCode.NONE, highWatermark: 5n, lastStableOffset: 5n, logStartOffset: 0n, records: [new Uint8Array(40).fill(9)] },
              ],
            },
          ],
        }),
      )
      expect(out).toEqual(expected)
      expect(Frames.answerPartitions([out], ApiKey.Fetch, v).map((p) => [p.partition, p.code])).toEqual([
        [0, 29],
        [1, 0],
      ])
    })
  }

  for (const v of [1, 3, 6]) {
    it(`writes an error code into a ListOffsets v${v} answer with offset and timestamp -1`, () => {
      const lo = (code: number, offset: bigint) =>
        answer(ApiKey.ListOffsets, v, (w) =>
          ListOffsets.encodeResponse(w, v, {
            throttleTimeMs: 0,
            topics: [{ name: "t", partitions: [{ partitionIndex: 0, errorCode: code, timestamp: code === 0 ? 17n : -1n, offset, leaderEpoch: 0 }] }],
          }),
        )
      const out = Frames.concat(Frames.withErrorCode([lo(0, 8n)], ApiKey.ListOffsets, v, 6, () => true))
      expect(out).toEqual(lo(6, -1n))
    })
  }

  it("reads the request header and a ListOffsets request's partitions and timestamps", () => {
    const w = new Writer()
    w.int32(0).int16(ApiKey.ListOffsets).int16(3).int32(7).nullableString("client")
    w.int32(-1).int8(0)
    w.array(false, [{ name: "t", ps: [0, 1] }], (w, t) => {
      w.str(false, t.name)
      w.array(false, t.ps, (w, p) => {
        w.int32(p).int64(p === 0 ? -2n : -1n)
      })
    })
    const bytes = w.toBytes()
    new DataView(bytes.buffer).setInt32(0, bytes.byteLength - 4)
    const header = Frames.requestHeader(chunked(bytes, [2]))
    expect(header).toEqual({ apiKey: ApiKey.ListOffsets, apiVersion: 3, correlationId: 7 })
    expect(Frames.requestPartitions(chunked(bytes, [5]), header)).toEqual({
      partitions: [
        { topic: "t", partition: 0 },
        { topic: "t", partition: 1 },
      ],
      timestamps: [-2n, -1n],
    })
    expect(new Reader(bytes, 4).int16()).toBe(ApiKey.ListOffsets)
  })
})
