/**
 * SASL on the embedded broker (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): kafkajs with each mechanism
 * (the right password, a wrong one, an unknown user), kcat (librdkafka) with SCRAM, and the
 * handshake rules at the byte level as Kafka's SaslServerAuthenticator has them (requests before
 * authentication close the connection; an unknown mechanism is refused with the list; v0's bare
 * tokens; wrong credentials answer SASL_AUTHENTICATION_FAILED with a message, then close).
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import { Effect, Redacted } from "effect"
import type { SASLOptions } from "kafkajs"
import { TestBroker } from "../../src/TestBroker.js"
import * as EmbeddedBroker from "../../src/wire/EmbeddedBroker.js"
import { ApiKey } from "../../src/wire/protocol/ApiKeys.js"
import { fromUtf8, type Reader, utf8, Writer } from "../../src/wire/protocol/Codec.js"
import { kafka, producer, rawClient, request, run } from "./helpers.js"

const PASSWORD = "embedded-S3cret"
const sasl = { users: { alice: Redacted.make(PASSWORD), bob: Redacted.make("bob-pw") } }

const mechanisms = ["plain", "scram-sha-256", "scram-sha-512"] as const

const options = (mechanism: (typeof mechanisms)[number], username: string, password: string): SASLOptions =>
  mechanism === "plain" ? { mechanism, username, password } : { mechanism, username, password }

/** What a kafkajs admin's connect ends with: "connected", or the error's name and message. */
const connectAs = (bootstrap: ReadonlyArray<string>, saslOptions: SASLOptions | undefined) =>
  Effect.promise(async () => {
    const a = kafka(bootstrap, { ...(saslOptions === undefined ? {} : { sasl: saslOptions }), retry: { retries: 0 } }).admin()
    try {
      await a.connect()
      const topics = await a.listTopics()
      return { outcome: "connected", topics }
    } catch (e) {
      return { outcome: e instanceof Error ? `${e.name}: ${e.message}` : String(e), topics: [] }
    } finally {
      await a.disconnect()
    }
  })

const readHandshake = (r: Reader) => ({
  correlationId: r.int32(),
  errorCode: r.int16(),
  mechanisms: r.array(false, (r) => r.string()),
})

const handshake = (correlationId: number, mechanism: string, version = 1) =>
  request(ApiKey.SaslHandshake, version, correlationId, (w) => {
    w.string(mechanism)
  })

const authenticate = (correlationId: number, token: Uint8Array) =>
  request(ApiKey.SaslAuthenticate, 1, correlationId, (w) => {
    w.nullableBytes(token)
  })

const readAuthenticate = (r: Reader) => ({
  correlationId: r.int32(),
  errorCode: r.int16(),
  errorMessage: r.nullableString(),
  authBytes: fromUtf8(r.bytes()),
  sessionLifetimeMs: r.int64(),
})

const plainToken = (user: string, password: string) => utf8(`\u0000${user}\u0000${password}`)

const metadataV1 = (correlationId: number) => request(ApiKey.Metadata, 1, correlationId, (w) => w.int32(-1))

describe("SASL on the embedded broker", () => {
  for (const mechanism of mechanisms) {
    it.live(`kafkajs with ${mechanism}: the right password connects and produces; a wrong one and an unknown user are refused`, () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker
        const right = yield* connectAs(broker.brokers, options(mechanism, "alice", PASSWORD))
        expect(right).toEqual({ outcome: "connected", topics: ["sasl"] })
        const p = yield* producer(kafka(broker.brokers, { sasl: options(mechanism, "bob", "bob-pw") }))
        yield* Effect.promise(() => p.send({ topic: "sasl", messages: [{ value: "v" }] }))
        expect((yield* control.partitionState(TopicPartition.make("sasl", 0))).highWatermark).toBe(1n)

        const message =
          mechanism === "plain"
            ? "Authentication failed: Invalid username or password"
            : `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism.toUpperCase()}`
        const wrong = yield* connectAs(broker.brokers, options(mechanism, "alice", "not-the-password"))
        expect(wrong.outcome).toMatch(/^KafkaJSSASLAuthenticationError: /)
        expect(wrong.outcome).toContain(message)
        const unknown = yield* connectAs(broker.brokers, options(mechanism, "mallory", PASSWORD))
        expect(unknown.outcome).toMatch(/^KafkaJSSASLAuthenticationError: /)
        expect(unknown.outcome).toContain(message)
        // The password is not in what the client is told.
        expect(wrong.outcome).not.toContain(PASSWORD)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ sasl, topics: { sasl: 1 } }))),
    )
  }

  it.live("a broker offering only SCRAM-SHA-512 refuses PLAIN with UNSUPPORTED_SASL_MECHANISM and the list, then closes", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(handshake(1, "PLAIN"))
      expect(readHandshake(yield* c.next)).toEqual({
        correlationId: 1,
        errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM,
        mechanisms: ["SCRAM-SHA-512"],
      })
      yield* c.whenClosed
      const viaKafkaJs = yield* connectAs(broker.brokers, options("plain", "alice", PASSWORD))
      expect(viaKafkaJs.outcome).toBe("KafkaJSProtocolError: The broker does not support the requested SASL mechanism")
      expect(yield* connectAs(broker.brokers, options("scram-sha-512", "alice", PASSWORD))).toEqual({ outcome: "connected", topics: [] })
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ sasl: { ...sasl, mechanisms: ["SCRAM-SHA-512"] } }))),
  )

  it.live("before authentication only ApiVersions (once) and SaslHandshake are answered; anything else closes the connection", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const first = yield* rawClient(broker.listeners[0].port)
      first.send(metadataV1(1))
      yield* first.whenClosed

      const second = yield* rawClient(broker.listeners[0].port)
      second.send(request(ApiKey.ApiVersions, 0, 1))
      const versions = yield* second.next
      expect(versions.int32()).toBe(1)
      expect(versions.int16()).toBe(ErrorCode.NONE)
      second.send(request(ApiKey.ApiVersions, 0, 2))
      yield* second.whenClosed

      // After a SaslHandshake v1, a request other than SaslAuthenticate closes the connection.
      const third = yield* rawClient(broker.listeners[0].port)
      third.send(handshake(1, "PLAIN"))
      expect(readHandshake(yield* third.next).errorCode).toBe(ErrorCode.NONE)
      third.send(metadataV1(2))
      yield* third.whenClosed
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ sasl }))),
  )

  it.live("PLAIN over SaslAuthenticate: a wrong password gets SASL_AUTHENTICATION_FAILED with Kafka's message, then the connection closes", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const control = yield* TestBroker
      const ok = yield* rawClient(broker.listeners[0].port)
      ok.send(handshake(1, "PLAIN"))
      expect(readHandshake(yield* ok.next)).toEqual({
        correlationId: 1,
        errorCode: ErrorCode.NONE,
        mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
      })
      ok.send(authenticate(2, plainToken("alice", PASSWORD)))
      expect(readAuthenticate(yield* ok.next)).toEqual({
        correlationId: 2,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        authBytes: "",
        sessionLifetimeMs: 0n,
      })
      // Authenticated: the connection is served, and a second handshake is ILLEGAL_SASL_STATE (as Kafka).
      ok.send(metadataV1(3))
      expect((yield* ok.next).int32()).toBe(3)
      ok.send(handshake(4, "PLAIN"))
      expect(readHandshake(yield* ok.next).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE)

      const bad = yield* rawClient(broker.listeners[0].port)
      bad.send(handshake(1, "PLAIN"))
      yield* bad.next
      bad.send(authenticate(2, plainToken("alice", "wrong")))
      expect(readAuthenticate(yield* bad.next)).toEqual({
        correlationId: 2,
        errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
        errorMessage: "Authentication failed: Invalid username or password",
        authBytes: "",
        sessionLifetimeMs: 0n,
      })
      yield* bad.whenClosed
      expect(ok.closed()).toBe(false)
      // The request log counts the exchanges, as it counts every other API.
      const saslRequests = (yield* control.requests).filter((r) => r.api === "SaslAuthenticate")
      expect(saslRequests.length).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ sasl }))),
  )

  it.live("SaslHandshake v0: the tokens travel as bare frames; a wrong one closes the connection", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const sizePrefixed = (token: Uint8Array) => {
        const w = new Writer()
        w.int32(token.byteLength).raw(token)
        return w.toBytes()
      }
      const ok = yield* rawClient(broker.listeners[0].port)
      ok.send(handshake(1, "PLAIN", 0))
      expect(readHandshake(yield* ok.next).errorCode).toBe(ErrorCode.NONE)
      ok.write(sizePrefixed(plainToken("bob", "bob-pw")))
      expect((yield* ok.next).remaining).toBe(0) // PLAIN's empty answer token
      ok.send(metadataV1(2))
      expect((yield* ok.next).int32()).toBe(2)

      const bad = yield* rawClient(broker.listeners[0].port)
      bad.send(handshake(1, "PLAIN", 0))
      yield* bad.next
      bad.write(sizePrefixed(plainToken("bob", "nope")))
      yield* bad.whenClosed
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ sasl }))),
  )

  it.live("without SASL configured, SaslHandshake and SaslAuthenticate are answered ILLEGAL_SASL_STATE and requests are served", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const c = yield* rawClient(broker.listeners[0].port)
      c.send(handshake(1, "PLAIN"))
      expect(readHandshake(yield* c.next)).toEqual({ correlationId: 1, errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] })
      c.send(authenticate(2, plainToken("alice", PASSWORD)))
      expect(readAuthenticate(yield* c.next).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE)
      c.send(metadataV1(3))
      expect((yield* c.next).int32()).toBe(3)
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
  )

  it.live("kcat (librdkafka 2.0.2): PLAIN produces, lists and consumes, a wrong password fails; its SCRAM is refused as Kafka 4.4 refuses it", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const kcat = (mechanism: string, password: string, args: ReadonlyArray<string>, input?: string) =>
        run(
          "kcat",
          [
            "-b",
            broker.bootstrap,
            "-X",
            "security.protocol=SASL_PLAINTEXT",
            "-X",
            `sasl.mechanisms=${mechanism}`,
            "-X",
            "sasl.username=alice",
            "-X",
            `sasl.password=${password}`,
            ...args,
          ],
          input === undefined ? {} : { input },
        )
      const produced = yield* kcat("PLAIN", PASSWORD, ["-P", "-t", "kc", "-p", "0"], "one\ntwo\n")
      expect(produced.code).toBe(0)
      const listed = yield* kcat("PLAIN", PASSWORD, ["-L", "-t", "kc", "-m", "5"])
      expect(listed.stdout).toContain(`topic "kc" with 1 partitions:`)
      const consumed = yield* kcat("PLAIN", PASSWORD, ["-C", "-t", "kc", "-o", "beginning", "-e", "-q"])
      expect(consumed.stdout.trim().split("\n")).toEqual(["one", "two"])
      const refused = yield* kcat("PLAIN", "wrong", ["-L", "-m", "3"])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain("Authentication failed: Invalid username or password")
      // librdkafka before 2.10 repeats the client nonce in its final SCRAM message; Kafka 3.9 let
      // that through (endsWith), Kafka 4 checks the nonce exactly and refuses it: so does this broker.
      const scram = yield* kcat("SCRAM-SHA-256", PASSWORD, ["-L", "-m", "3"])
      expect(scram.code).not.toBe(0)
      expect(scram.stderr).toContain("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256")
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ sasl, topics: { kc: 1 } }))),
    60_000,
  )

  it.live("a client without SASL against a SASL broker gets its connection closed, not an answer", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const control = yield* TestBroker
      const without = yield* connectAs(broker.brokers, undefined)
      expect(without.outcome).toMatch(/^KafkaJS\w+Error: /)
      // ApiVersions was answered; the Metadata after it was not served.
      const apis = (yield* control.requests).map((r) => r.api)
      expect(apis).toContain("ApiVersions")
      expect(apis).not.toContain("Metadata")
    }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ sasl }))),
  )
})
