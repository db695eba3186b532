/**
 * Pure parts of the kafka package: option validation, read_committed filtering, error mapping.
 */
import { describe, it } from "@effect/vitest"
import { KafkaError } from "@kafka-effect/core"
import { Config, ConfigProvider, Duration, Effect, Either, Layer, Redacted } from "effect"
import { expect } from "vitest"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Errors from "../src/internal/errors.js"
import { partitionRecords, type RawPartition } from "../src/internal/fetchResponse.js"
import { Decoder, decodeRecordBatch, encodeRecord, encodeRecordBatch } from "../src/internal/kafkajs.js"
import { decodeRecordSet } from "../src/internal/recordBatch.js"

/** Options as they arrive from JSON (a config file): the types are not checked there, validate is. */
const fromJson = (json: string): KafkaClient.KafkaOptions => JSON.parse(json)

const invalid = (options: KafkaClient.KafkaOptions) => {
  const result = KafkaClient.validate(options)
  if (Either.isRight(result)) throw new Error("expected InvalidConfig")
  return result.left
}

describe("KafkaClient.layerConfig", () => {
  it.scoped("reads the options from Config; nothing connects until the first request", () =>
    Effect.gen(function* () {
      const client = yield* KafkaClient.KafkaClient
      expect(client.config.brokers).toEqual(["a:9092", "b:9093"])
      expect(client.config.clientId).toBe("from-config")
      expect(Duration.toMillis(client.config.requestTimeout)).toBe(1234)
    }).pipe(
      Effect.provide(
        KafkaClient.layerConfig({
          brokers: Config.array(Config.string(), "KAFKA_BROKERS"),
          clientId: Config.string("KAFKA_CLIENT_ID"),
          requestTimeout: Config.integer("KAFKA_REQUEST_TIMEOUT_MS"),
        }),
      ),
      Effect.withConfigProvider(
        ConfigProvider.fromMap(
          new Map([
            ["KAFKA_BROKERS", "a:9092,b:9093"],
            ["KAFKA_CLIENT_ID", "from-config"],
            ["KAFKA_REQUEST_TIMEOUT_MS", "1234"],
          ]),
        ),
      ),
    ),
  )

  it.effect("a bad value fails the layer with InvalidConfig naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(KafkaClient.layerConfig({ brokers: Config.array(Config.string(), "KAFKA_BROKERS") }))),
      )
      expect(error).toMatchObject({ _tag: "InvalidConfig", field: "brokers.0", value: "no-port" })
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["KAFKA_BROKERS", "no-port"]])))),
  )
})

describe("KafkaClient.validate", () => {
  it("fills in defaults", () => {
    const config = Either.getOrThrow(KafkaClient.validate({ brokers: ["localhost:9092"] }))
    expect(config).toMatchObject({
      brokers: ["localhost:9092"],
      clientId: "kafka-effect",
      ssl: false,
      isolationLevel: "read_uncommitted",
      logLevel: "warn",
    })
    expect(Duration.toMillis(config.connectionTimeout)).toBe(3000)
    expect(Duration.toMillis(config.requestTimeout)).toBe(30000)
  })

  it("names the field and the value", () => {
    expect(invalid({ brokers: [] })).toMatchObject({ _tag: "InvalidConfig", field: "brokers" })
    expect(invalid({ brokers: ["localhost"] })).toMatchObject({ field: "brokers.0", value: "localhost" })
    expect(invalid({ brokers: ["h:1", "h:70000"] })).toMatchObject({ field: "brokers.1", value: "h:70000" })
    expect(invalid({ brokers: ["h:1"], clientId: "" })).toMatchObject({ field: "clientId", value: "" })
    expect(invalid({ brokers: ["h:1"], requestTimeout: -5 })).toMatchObject({ field: "requestTimeout", value: -5 })
    // Fetch tuning is the consumer's (ConsumerConfig): the client names the stray field.
    expect(invalid(fromJson('{"brokers":["h:1"],"fetchMaxBytes":1}'))).toMatchObject({ field: "fetchMaxBytes", value: 1 })
    const e = invalid(fromJson('{"brokers":["h:1"],"isolationLevel":"dirty"}'))
    expect(e.message).toBe('Invalid config isolationLevel="dirty": must be read_uncommitted or read_committed')
  })

  it("accepts IPv6 brokers and durations", () => {
    const config = Either.getOrThrow(
      KafkaClient.validate({ brokers: ["[::1]:9092", " b:1 "], connectionTimeout: "2 seconds", requestTimeout: 1500 }),
    )
    expect(config.brokers).toEqual(["[::1]:9092", "b:1"])
    expect(Duration.toMillis(config.connectionTimeout)).toBe(2000)
    expect(Duration.toMillis(config.requestTimeout)).toBe(1500)
  })

  it("never shows a SASL password", () => {
    const secret = "hunter2-very-secret"
    const ok = Either.getOrThrow(
      KafkaClient.validate({ brokers: ["h:1"], sasl: { mechanism: "scram-sha-512", username: "u", password: Redacted.make(secret) } }),
    )
    expect(JSON.stringify(ok)).not.toContain(secret)
    expect(String(ok.sasl?.password)).not.toContain(secret)
    const bad = invalid(fromJson(`{"brokers":["h:1"],"sasl":{"mechanism":"scram-sha-512","username":"u","password":"${secret}"}}`))
    expect(bad.field).toBe("sasl.password")
    expect(bad.message).not.toContain(secret)
    expect(invalid(fromJson('{"brokers":["h:1"],"sasl":{"mechanism":"gssapi","username":"u","password":"x"}}')).field).toBe("sasl.mechanism")
  })
})

interface BatchSpec {
  readonly producerId?: bigint
  readonly inTransaction?: boolean
  readonly lastOffsetDelta?: number
  readonly control?: "abort" | "commit"
  readonly compression?: number
  readonly headers?: Readonly<Record<string, Buffer | ReadonlyArray<Buffer>>>
  readonly keys?: ReadonlyArray<string | null>
}

/** Bytes of one batch as kafkajs's own encoder writes them (the control flag patched in). */
const encodeBatch = async (firstOffset: bigint, values: ReadonlyArray<string>, spec: BatchSpec = {}): Promise<Buffer> => {
  const records =
    spec.control === undefined
      ? values.map((v, i) =>
          encodeRecord({
            offsetDelta: i,
            timestampDelta: i * 10,
            key: spec.keys?.[i] == null ? null : Buffer.from(spec.keys[i]!),
            value: Buffer.from(v),
            ...(spec.headers === undefined ? {} : { headers: spec.headers }),
          }),
        )
      : [encodeRecord({ offsetDelta: 0, key: controlKey(spec.control), value: Buffer.alloc(6) })]
  const { buffer } = await encodeRecordBatch({
    firstOffset: firstOffset.toString(),
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_999,
    lastOffsetDelta: spec.lastOffsetDelta ?? Math.max(records.length - 1, 0),
    transactional: spec.inTransaction ?? spec.control !== undefined,
    producerId: String(spec.producerId ?? -1n),
    compression: spec.compression ?? 0,
    records,
  })
  const bytes = Buffer.from(buffer)
  if (spec.control !== undefined) bytes.writeInt16BE(bytes.readInt16BE(21) | 0x20, 21)
  return bytes
}

/** A control record key: int16 version, int16 type (0 abort, 1 commit). */
const controlKey = (type: "abort" | "commit") => {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(type === "abort" ? 0 : 1, 2)
  return key
}

const raw = async (
  batches: ReadonlyArray<Promise<Buffer>>,
  aborted: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> = [],
): Promise<RawPartition> => ({
  topic: "t",
  partition: 0,
  errorCode: 0,
  highWatermark: 100n,
  lastStableOffset: 100n,
  logStartOffset: 0n,
  abortedTransactions: aborted,
  ...(await decodeRecordSet(Buffer.concat(await Promise.all(batches)))),
})

const values = (r: ReturnType<typeof partitionRecords>) => r.records.map((x) => Buffer.from(x.value!).toString())

describe("partitionRecords (over batches encoded by kafkajs)", () => {
  it.effect("drops records below the fetch offset and never delivers control records", () =>
    Effect.promise(async () => {
      const r = partitionRecords(await raw([encodeBatch(0n, ["a", "b", "c"]), encodeBatch(3n, [], { producerId: 7n, control: "commit" })]), 1n, "read_uncommitted")
      expect(values(r)).toEqual(["b", "c"])
      expect(r.records.map((x) => x.offset)).toEqual([1n, 2n])
      expect(r.records.map((x) => x.timestamp)).toEqual([1_700_000_000_010, 1_700_000_000_020])
      // The marker at 3 is skipped: the next fetch starts after it.
      expect(r.nextOffset).toBe(4n)
    }),
  )

  it.effect("read_committed: aborted transactional records never reach the user; committed ones do", () =>
    Effect.promise(async () => {
      const answer = await raw(
        [
          encodeBatch(0n, ["plain"]),
          encodeBatch(1n, ["aborted-1", "aborted-2"], { producerId: 7n, inTransaction: true }),
          encodeBatch(3n, ["committed"], { producerId: 8n, inTransaction: true }),
          encodeBatch(4n, [], { producerId: 7n, control: "abort" }),
          encodeBatch(5n, [], { producerId: 8n, control: "commit" }),
          // The same producer's next transaction commits: it is not aborted by the old marker.
          encodeBatch(6n, ["later-7"], { producerId: 7n, inTransaction: true }),
          encodeBatch(7n, [], { producerId: 7n, control: "commit" }),
        ],
        [{ producerId: 7n, firstOffset: 1n }],
      )
      const rc = partitionRecords(answer, 0n, "read_committed")
      expect(values(rc)).toEqual(["plain", "committed", "later-7"])
      expect(rc.nextOffset).toBe(8n)
      // read_uncommitted sees everything but the markers.
      expect(values(partitionRecords(answer, 0n, "read_uncommitted"))).toEqual(["plain", "aborted-1", "aborted-2", "committed", "later-7"])
    }),
  )

  it.effect("read_committed: an abort marker below the fetch offset still ends that producer's aborted transaction", () =>
    Effect.promise(async () => {
      const answer = await raw(
        [
          encodeBatch(0n, ["aborted"], { producerId: 7n, inTransaction: true }),
          encodeBatch(1n, [], { producerId: 7n, control: "abort" }),
          encodeBatch(2n, ["next-txn"], { producerId: 7n, inTransaction: true }),
        ],
        [{ producerId: 7n, firstOffset: 0n }],
      )
      expect(values(partitionRecords(answer, 2n, "read_committed"))).toEqual(["next-txn"])
    }),
  )

  it.effect("sets nextOffset past a batch whose records were all removed (compaction, aborts)", () =>
    Effect.promise(async () => {
      const aborted = await raw([encodeBatch(10n, ["x"], { producerId: 9n, inTransaction: true, lastOffsetDelta: 4 })], [
        { producerId: 9n, firstOffset: 10n },
      ])
      const r = partitionRecords(aborted, 10n, "read_committed")
      expect(r.records).toEqual([])
      expect(r.nextOffset).toBe(15n)
      const plain = partitionRecords(await raw([encodeBatch(0n, ["a", "b"])]), 0n, "read_uncommitted")
      expect(plain.nextOffset).toBeUndefined()
    }),
  )

  it.effect("decodes keys, null keys, repeated headers in order, gzip batches, and stops at a batch cut short", () =>
    Effect.promise(async () => {
      const headers = { a: Buffer.from("1"), b: [Buffer.from("2"), Buffer.from("3")] }
      const full = Buffer.concat([
        await encodeBatch(0n, ["v0", "v1"], { keys: ["k0", null], headers }),
        await encodeBatch(2n, ["g2", "g3", "g4"], { compression: 1, keys: ["x", "y", "z"] }),
      ])
      const cut = full.subarray(0, full.length - 5)
      const whole = partitionRecords({ ...(await raw([])), ...(await decodeRecordSet(full)) }, 0n, "read_uncommitted")
      expect(whole.records.map((r) => [r.offset, r.key === null ? null : Buffer.from(r.key).toString(), Buffer.from(r.value!).toString()])).toEqual([
        [0n, "k0", "v0"],
        [1n, null, "v1"],
        [2n, "x", "g2"],
        [3n, "y", "g3"],
        [4n, "z", "g4"],
      ])
      expect(whole.records[0]!.headers.map((h) => [h.key, Buffer.from(h.value!).toString()])).toEqual([
        ["a", "1"],
        ["b", "2"],
        ["b", "3"],
      ])
      const partial = partitionRecords({ ...(await raw([])), ...(await decodeRecordSet(cut)) }, 0n, "read_uncommitted")
      expect(partial.records.map((r) => r.offset)).toEqual([0n, 1n])
      expect(partial.nextOffset).toBeUndefined()
    }),
  )

  it.effect("agrees with kafkajs's own decoder on many batches", () =>
    Effect.promise(async () => {
      const bytes = Buffer.concat(
        await Promise.all(
          Array.from({ length: 20 }, (_, b) =>
            encodeBatch(
              BigInt(b * 50),
              Array.from({ length: 50 }, (_, i) => `value-${b}-${i}-${"é".repeat(i % 7)}`),
              { keys: Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? null : `key-${i}`)), compression: b % 2 },
            ),
          ),
        ),
      )
      const ours = partitionRecords({ ...(await raw([])), ...(await decodeRecordSet(bytes)) }, 17n, "read_uncommitted").records
      const theirs: Array<{ offset: string; key: Buffer | null; value: Buffer | null; timestamp: string }> = []
      const d = new Decoder(bytes)
      while (d.canReadBytes(49)) for (const r of (await decodeRecordBatch(d)).records) theirs.push(r)
      const expected = theirs.filter((r) => BigInt(r.offset) >= 17n)
      expect(ours.length).toBe(expected.length)
      expect(ours.map((r) => [String(r.offset), r.key === null ? null : Buffer.from(r.key).toString(), Buffer.from(r.value!).toString(), String(r.timestamp)])).toEqual(
        expected.map((r) => [r.offset, r.key === null ? null : r.key.toString(), r.value!.toString(), r.timestamp]),
      )
    }),
  )
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
