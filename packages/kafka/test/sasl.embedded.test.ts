/**
 * KafkaClient and core's Consumer through the embedded broker with SASL required: what
 * `security.realkafka.test.ts` shows on real Kafka, locally and in a fraction of the time. The
 * right credentials consume with each mechanism; wrong ones (or an unknown user) give the typed,
 * non-retriable Authentication error at once, after one or two SASL exchanges, not a retry storm.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { TestBroker } from "@kafka-effect/testkit"
import { Cause, Chunk, Effect, Exit, Redacted, Stream } from "effect"
import type * as KafkaClient from "../src/KafkaClient.js"
import * as EmbeddedClient from "./harness/EmbeddedClient.js"

const PASSWORD = "embedded-Alice-pw"
const users = { alice: Redacted.make(PASSWORD) }
const tp = TopicPartition.make("secured", 0)

const client = (mechanism: KafkaClient.SaslMechanism, username: string, password: string) =>
  EmbeddedClient.layer(1, { sasl: { mechanism, username, password: Redacted.make(password) } }, { sasl: { users } })

const consumeAll = (n: number) =>
  Effect.gen(function* () {
    const broker = yield* TestBroker.TestBroker
    yield* broker.createTopic("secured", 1)
    yield* broker.produce("secured", 0, [{ value: "s0" }, { value: "s1" }])
    const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
    yield* consumer.assign([tp])
    yield* consumer.seekToBeginning([tp])
    return yield* consumer.records.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
  })

describe("KafkaClient against the embedded broker with SASL", () => {
  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"] as const) {
    it.scopedLive(`${mechanism} with the right password: records are delivered`, () =>
      Effect.gen(function* () {
        const records = yield* consumeAll(2)
        expect(records.map((r) => ConsumerRecord.utf8(r.value))).toEqual(["s0", "s1"])
        const apis = (yield* (yield* TestBroker.TestBroker).requests).map((r) => r.api)
        expect(apis).toContain("SaslAuthenticate")
      }).pipe(Effect.provide(client(mechanism, "alice", PASSWORD))),
    )
  }

  for (const [mechanism, username, password] of [
    ["scram-sha-512", "alice", "wrong-Password-123"],
    ["scram-sha-256", "mallory", PASSWORD],
    ["plain", "alice", "wrong-Password-123"],
  ] as const) {
    it.live(`${mechanism}, ${username === "alice" ? "a wrong password" : "an unknown user"}: the typed Authentication error at once, no retry storm`, () =>
      Effect.gen(function* () {
        const result = yield* Effect.gen(function* () {
          const exit = yield* Effect.exit(consumeAll(1))
          // One SaslHandshake per exchange, so per connection attempt.
          const attempts = (yield* (yield* TestBroker.TestBroker).requests).filter((r) => r.api === "SaslHandshake").length
          return { exit, attempts }
        }).pipe(Effect.provide(client(mechanism, username, password)), Effect.scoped, Effect.timeout("20 seconds"))
        const error = Exit.isFailure(result.exit) ? Cause.failureOption(result.exit.cause) : result.exit
        expect(error).toMatchObject({ _tag: "Some", value: { _tag: "ListOffsetsError", reason: "Authentication", retriable: false } })
        // As on real Kafka: one exchange per broker connection attempt, not a retry loop.
        expect(result.attempts).toBeGreaterThan(0)
        expect(result.attempts).toBeLessThanOrEqual(2)
        expect(JSON.stringify(error, (_, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(password)
      }),
    )
  }
})
