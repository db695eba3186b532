/**
 * Pure parts of the kafka package: option validation, read_committed filtering, error mapping.
 */
import { describe, it } from "@effect/vitest"
import { KafkaError } from "@kafka-effect/core"
import { Either, Redacted } from "effect"
import { expect } from "vitest"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Errors from "../src/internal/errors.js"
import { partitionRecords, type RawPartition } from "../src/internal/fetchResponse.js"
import type { DecodedRecordBatch } from "../src/internal/kafkajs.js"

const invalid = (options: KafkaClient.KafkaOptions) => {
  const result = KafkaClient.validate(options)
  if (Either.isRight(result)) throw new Error("expected InvalidConfig")
  return result.left
}

describe("KafkaClient.validate", () => {
  it("fills in defaults", () => {
    const config = Either.getOrThrow(KafkaClient.validate({ brokers: ["localhost:9092"] }))
    expect(config).toMatchObject({
      brokers: ["localhost:9092"],
      clientId: "kafka-effect",
      ssl: false,
      connectionTimeoutMs: 3000,
      requestTimeoutMs: 30000,
      isolationLevel: "read_uncommitted",
      logLevel: "warn",
    })
  })

  it("names the field and the value", () => {
    expect(invalid({ brokers: [] })).toMatchObject({ _tag: "InvalidConfig", field: "brokers" })
    expect(invalid({ brokers: ["localhost"] })).toMatchObject({ field: "brokers", value: "localhost" })
    expect(invalid({ brokers: ["h:70000"] })).toMatchObject({ field: "brokers", value: "h:70000" })
    expect(invalid({ brokers: ["h:1"], clientId: "" })).toMatchObject({ field: "clientId", value: "" })
    expect(invalid({ brokers: ["h:1"], requestTimeout: -5 })).toMatchObject({ field: "requestTimeout", value: -5 })
    expect(invalid({ brokers: ["h:1"], fetchMaxBytes: 1.5 })).toMatchObject({ field: "fetchMaxBytes", value: 1.5 })
    const e = invalid({ brokers: ["h:1"], isolationLevel: "dirty" as never })
    expect(e.message).toBe('Invalid config isolationLevel="dirty": must be read_uncommitted or read_committed')
  })

  it("accepts IPv6 brokers and durations", () => {
    const config = Either.getOrThrow(
      KafkaClient.validate({ brokers: ["[::1]:9092", " b:1 "], connectionTimeout: "2 seconds", requestTimeout: 1500 }),
    )
    expect(config.brokers).toEqual(["[::1]:9092", "b:1"])
    expect(config.connectionTimeoutMs).toBe(2000)
    expect(config.requestTimeoutMs).toBe(1500)
  })

  it("never shows a SASL password", () => {
    const secret = "hunter2-very-secret"
    const ok = Either.getOrThrow(
      KafkaClient.validate({ brokers: ["h:1"], sasl: { mechanism: "scram-sha-512", username: "u", password: Redacted.make(secret) } }),
    )
    expect(JSON.stringify(ok)).not.toContain(secret)
    expect(String(ok.sasl?.password)).not.toContain(secret)
    const bad = invalid({ brokers: ["h:1"], sasl: { mechanism: "scram-sha-512", username: "u", password: secret as never } })
    expect(bad.field).toBe("sasl.password")
    expect(bad.message).not.toContain(secret)
    expect(invalid({ brokers: ["h:1"], sasl: { mechanism: "gssapi" as never, username: "u", password: Redacted.make("x") } }).field).toBe(
      "sasl.mechanism",
    )
  })
})

const record = (offset: bigint, value: string) => ({
  offset: offset.toString(),
  timestamp: "1700000000000",
  key: null,
  value: Buffer.from(value),
  headers: {},
})

const batch = (
  firstOffset: bigint,
  values: ReadonlyArray<string>,
  options: { producerId?: bigint; inTransaction?: boolean; lastOffsetDelta?: number } = {},
): DecodedRecordBatch => ({
  firstOffset: firstOffset.toString(),
  lastOffsetDelta: options.lastOffsetDelta ?? values.length - 1,
  producerId: String(options.producerId ?? -1n),
  inTransaction: options.inTransaction ?? false,
  isControlBatch: false,
  records: values.map((v, i) => record(firstOffset + BigInt(i), v)),
})

/** A control batch holding one marker: key = int16 version, int16 type (0 abort, 1 commit). */
const marker = (offset: bigint, producerId: bigint, type: "abort" | "commit"): DecodedRecordBatch => {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(type === "abort" ? 0 : 1, 2)
  return {
    firstOffset: offset.toString(),
    lastOffsetDelta: 0,
    producerId: producerId.toString(),
    inTransaction: true,
    isControlBatch: true,
    records: [{ ...record(offset, ""), key, value: Buffer.alloc(6) }],
  }
}

const raw = (batches: ReadonlyArray<DecodedRecordBatch>, aborted: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> = []): RawPartition => ({
  topic: "t",
  partition: 0,
  errorCode: 0,
  highWatermark: 100n,
  lastStableOffset: 100n,
  logStartOffset: 0n,
  abortedTransactions: aborted,
  batches,
  legacyFormat: false,
})

const values = (r: ReturnType<typeof partitionRecords>) => r.records.map((x) => Buffer.from(x.value!).toString())

describe("partitionRecords", () => {
  it("drops records below the fetch offset and never delivers control records", () => {
    const r = partitionRecords(raw([batch(0n, ["a", "b", "c"]), marker(3n, 7n, "commit")]), 1n, "read_uncommitted")
    expect(values(r)).toEqual(["b", "c"])
    expect(r.records.map((x) => x.offset)).toEqual([1n, 2n])
    // The marker at 3 is skipped: the next fetch starts after it.
    expect(r.nextOffset).toBe(4n)
  })

  it("read_committed: aborted transactional records never reach the user; committed ones do", () => {
    const answer = raw(
      [
        batch(0n, ["plain"]),
        batch(1n, ["aborted-1", "aborted-2"], { producerId: 7n, inTransaction: true }),
        batch(3n, ["committed"], { producerId: 8n, inTransaction: true }),
        marker(4n, 7n, "abort"),
        marker(5n, 8n, "commit"),
        // The same producer's next transaction commits: it is not aborted by the old marker.
        batch(6n, ["later-7"], { producerId: 7n, inTransaction: true }),
        marker(7n, 7n, "commit"),
      ],
      [{ producerId: 7n, firstOffset: 1n }],
    )
    expect(values(partitionRecords(answer, 0n, "read_committed"))).toEqual(["plain", "committed", "later-7"])
    const rc = partitionRecords(answer, 0n, "read_committed")
    expect(rc.nextOffset).toBe(8n)
    // read_uncommitted sees everything but the markers.
    expect(values(partitionRecords(answer, 0n, "read_uncommitted"))).toEqual([
      "plain",
      "aborted-1",
      "aborted-2",
      "committed",
      "later-7",
    ])
  })

  it("read_committed: an abort marker below the fetch offset still ends that producer's aborted transaction", () => {
    const answer = raw(
      [
        batch(0n, ["aborted"], { producerId: 7n, inTransaction: true }),
        marker(1n, 7n, "abort"),
        batch(2n, ["next-txn"], { producerId: 7n, inTransaction: true }),
      ],
      [{ producerId: 7n, firstOffset: 0n }],
    )
    expect(values(partitionRecords(answer, 2n, "read_committed"))).toEqual(["next-txn"])
  })

  it("sets nextOffset past a batch whose records were all removed (compaction, aborts)", () => {
    const r = partitionRecords(
      raw([batch(10n, ["x"], { producerId: 9n, inTransaction: true, lastOffsetDelta: 4 })], [{ producerId: 9n, firstOffset: 10n }]),
      10n,
      "read_committed",
    )
    expect(r.records).toEqual([])
    expect(r.nextOffset).toBe(15n)
    const plain = partitionRecords(raw([batch(0n, ["a", "b"])]), 0n, "read_uncommitted")
    expect(plain.nextOffset).toBeUndefined()
  })

  it("flattens repeated headers in order", () => {
    const b: DecodedRecordBatch = {
      ...batch(0n, ["v"]),
      records: [{ ...record(0n, "v"), headers: { a: Buffer.from("1"), b: [Buffer.from("2"), Buffer.from("3")], c: null } }],
    }
    const r = partitionRecords(raw([b]), 0n, "read_uncommitted")
    expect(r.records[0]!.headers.map((h) => [h.key, h.value === null ? null : Buffer.from(h.value).toString()])).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["b", "3"],
      ["c", null],
    ])
  })
})

class FakeKafkaJSError extends Error {
  constructor(
    name: string,
    message: string,
    readonly fields: { readonly cause?: unknown; readonly code?: number; readonly type?: string; readonly retriable?: boolean } = {},
  ) {
    super(message)
    this.name = name
    Object.assign(this, fields)
  }
}

describe("error mapping", () => {
  const tps = [{ topic: "t", partition: 0 }]
  it("unwraps KafkaJSNumberOfRetriesExceeded and KafkaJSNonRetriableError", () => {
    const closed = new FakeKafkaJSError("KafkaJSConnectionClosedError", "closed")
    const wrapped = new FakeKafkaJSError("KafkaJSNumberOfRetriesExceeded", "retries", {
      cause: new FakeKafkaJSError("KafkaJSNonRetriableError", "bail", { cause: closed }),
    })
    const e = Errors.listOffsetsError(wrapped, tps)
    expect(e).toMatchObject({ _tag: "ListOffsetsError", reason: "Network", retriable: true })
    expect(e._tag === "ListOffsetsError" && e.cause).toBe(closed)
  })

  it("maps timeouts, protocol codes and unknowns", () => {
    expect(Errors.fetchError(new FakeKafkaJSError("KafkaJSRequestTimeoutError", "t"), tps, 1)).toMatchObject({
      reason: "Timeout",
      retriable: true,
      brokerId: 1,
    })
    expect(
      Errors.listOffsetsError(new FakeKafkaJSError("KafkaJSProtocolError", "x", { code: 29, type: "TOPIC_AUTHORIZATION_FAILED" }), tps),
    ).toBeInstanceOf(KafkaError.TopicAuthorizationFailed)
    expect(
      Errors.listOffsetsError(new FakeKafkaJSError("KafkaJSProtocolError", "x", { code: 6, type: "NOT_LEADER_FOR_PARTITION" }), tps),
    ).toMatchObject({ _tag: "ListOffsetsError", reason: "NotLeader", retriable: true })
    expect(Errors.listOffsetsError(new Error("boom"), tps)).toMatchObject({ _tag: "ListOffsetsError", reason: "Unknown", retriable: false })
    expect(Errors.partitionFetchError(1, "t", 0, 5n)).toEqual(new KafkaError.OffsetOutOfRange({ topic: "t", partition: 0, requestedOffset: 5n }))
    expect(Errors.partitionFetchError(87, "t", 0, 5n)).toMatchObject({ _tag: "BrokerError", code: 87, name: "INVALID_RECORD" })
  })
})
