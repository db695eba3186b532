/**
 * Security on real Apache Kafka: a node of its own with a SASL_SSL listener (a CA and broker
 * certificate made by the test with openssl; SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512) and ACLs
 * (Kafka's StandardAuthorizer, nothing allowed unless granted). Users see:
 * - the right credentials over TLS consume, with each mechanism;
 * - a user denied READ on a topic gets `TopicAuthorizationFailed` with its tag;
 * - a user denied the group gets `GroupAuthorizationFailed`;
 * - wrong credentials give a typed, non-retriable error at once (no retry storm);
 * - the password appears in no log line, error message or span attribute.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { layer } from "@effect/vitest"
import { Consumer, ConsumerRecord, GroupConsumer, TopicPartition } from "@kafka-effect/core"
import { ApacheKafka, TestKit } from "@kafka-effect/testkit"
import { Cause, Chunk, Effect, Exit, Layer, LogLevel, Redacted, Stream, Tracer } from "effect"
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } from "kafkajs"
import { expect } from "vitest"
import * as GroupCoordinatorLive from "../src/group/GroupCoordinatorLive.js"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Producer from "../src/Producer.js"

const PASSWORD = "s3cret-Alice-pw"
const BOB_PASSWORD = "s3cret-Bob-pw"
const ALLOWED = "sec-allowed"
const DENIED = "sec-denied"
const GROUP = "sec-group"

/** A CA and a broker certificate for 127.0.0.1, made with openssl in a temporary directory. */
const makeCertificates = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-effect-tls-"))
  const run = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=kafka-effect test CA")
  run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=127.0.0.1")
  fs.writeFileSync(path.join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
  run("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "broker.pem", "-days", "2", "-extfile", "san.cnf")
  run("pkcs8", "-topk8", "-nocrypt", "-in", "broker.key", "-out", "broker.pk8")
  const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8")
  const certs = { ca: read("ca.pem"), chain: `${read("broker.pem")}${read("ca.pem")}`, key: read("broker.pk8") }
  fs.rmSync(dir, { recursive: true, force: true })
  return certs
}

const certs = makeCertificates()

const kafkaLayer = ApacheKafka.layer({
  security: {
    sasl: { users: { alice: PASSWORD, bob: BOB_PASSWORD } },
    tls: { certificateChain: certs.chain, privateKey: certs.key },
    acls: {},
  },
})

/** Topics and ACLs, made over the PLAINTEXT listener (a super user there), once for the file. */
const setUp = Effect.gen(function* () {
  const cluster = yield* ApacheKafka.ApacheKafka
  const admin = new Kafka({ brokers: [...cluster.brokers], logLevel: logLevel.NOTHING }).admin()
  yield* Effect.promise(async () => {
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: ALLOWED, numPartitions: 1 }, { topic: DENIED, numPartitions: 1 }], waitForLeaders: true })
  })
  yield* Effect.orDie(
    Effect.scoped(
      Effect.gen(function* () {
        const producer = yield* Producer.make({ brokers: cluster.brokers })
        yield* producer.send(ALLOWED, ["a0", "a1", "a2"].map((value) => ({ value, partition: 0 })))
        yield* producer.send(DENIED, [{ value: "d0", partition: 0 }])
      }),
    ),
  )
  yield* Effect.promise(async () => {
    const allow = (resourceType: AclResourceTypes, resourceName: string, operation: AclOperationTypes, principal: string) => ({
      resourceType,
      resourceName,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal,
      host: "*",
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    })
    await admin.createAcls({
      acl: [
        ...["alice", "bob"].flatMap((u) => [
          allow(AclResourceTypes.TOPIC, ALLOWED, AclOperationTypes.READ, `User:${u}`),
          allow(AclResourceTypes.TOPIC, ALLOWED, AclOperationTypes.DESCRIBE, `User:${u}`),
          allow(AclResourceTypes.TOPIC, DENIED, AclOperationTypes.DESCRIBE, `User:${u}`),
        ]),
        allow(AclResourceTypes.GROUP, GROUP, AclOperationTypes.READ, "User:alice"),
      ],
    })
    await admin.disconnect()
  })
})

const fixture = Layer.effectDiscard(setUp).pipe(Layer.provideMerge(kafkaLayer))

const text = (v: unknown) => (typeof v === "bigint" ? String(v) : v)

/** Every log line (message, annotations, cause) and every span's name and attributes, as text. */
const capture = Effect.gen(function* () {
  const logs = yield* TestKit.makeLogCapture({ quiet: true, minimumLevel: LogLevel.All })
  const spans: Array<string> = []
  const tracer = Layer.unwrapEffect(
    Effect.map(Effect.tracer, (base) =>
      Layer.setTracer(
        Tracer.make({
          span: (name, parent, context, links, startTime, kind, spanOptions) => {
            const span = base.span(name, parent, context, links, startTime, kind, spanOptions)
            const end = span.end.bind(span)
            return Object.assign(span, {
              end: (endTime: bigint, exit: Exit.Exit<unknown, unknown>) => {
                spans.push(name, ...[...span.attributes].map(([k, v]) => `${k}=${JSON.stringify(v, (_, x) => text(x))}`))
                end(endTime, exit)
              },
            })
          },
          context: (f, fiber) => base.context(f, fiber),
        }),
      ),
    ),
  )
  const lines = Effect.map(logs.logs, (all) =>
    all.map((l) => `${JSON.stringify(l.message)} ${JSON.stringify(Object.entries(l.annotations), (_, v) => text(v))} ${Cause.pretty(l.cause)}`),
  )
  /** Lines and span texts that contain one of the secrets (plus `extra` texts to check). */
  const leaks = (secrets: ReadonlyArray<string>, extra: ReadonlyArray<string> = []) =>
    Effect.map(lines, (ls) => [...ls, ...spans, ...extra].filter((line) => secrets.some((s) => line.includes(s))))
  return { lines, leaks, layer: Layer.merge(logs.layer, tracer) }
})

const options = (cluster: ApacheKafka.Cluster, mechanism: KafkaClient.SaslMechanism, user: string, password: string): KafkaClient.KafkaOptions => ({
  brokers: cluster.secureBrokers,
  ssl: { ca: [certs.ca] },
  sasl: { mechanism, username: user, password: Redacted.make(password) },
  requestTimeout: "10 seconds",
  logLevel: "debug",
})

const consumeAll = (tp: TopicPartition.TopicPartition, n: number) =>
  Effect.gen(function* () {
    const consumer = yield* Consumer.make({ config: { maxWait: "100 millis" } })
    yield* consumer.assign([tp])
    yield* consumer.seekToBeginning([tp])
    return yield* consumer.records.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
  })

layer(fixture, { excludeTestServices: true, timeout: "120 seconds" })("security on real Apache Kafka (SASL_SSL, ACLs)", (it) => {
  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"] as const) {
    it.scoped(`${mechanism} over TLS with the right password: records are delivered; the password is in no log line or span`, () =>
      Effect.gen(function* () {
        const cluster = yield* ApacheKafka.ApacheKafka
        const captured = yield* capture
        const records = yield* consumeAll(TopicPartition.make(ALLOWED, 0), 3).pipe(
          Effect.provide(KafkaClient.layer(options(cluster, mechanism, "alice", PASSWORD))),
          Effect.provide(captured.layer),
        )
        expect(records.map((r) => ConsumerRecord.utf8(r.value))).toEqual(["a0", "a1", "a2"])
        expect((yield* captured.lines).length).toBeGreaterThan(0)
        expect(yield* captured.leaks([PASSWORD])).toEqual([])
      }),
    )
  }

  it.scoped("a user without READ on a topic gets TopicAuthorizationFailed with its tag", () =>
    Effect.gen(function* () {
      const cluster = yield* ApacheKafka.ApacheKafka
      const exit = yield* consumeAll(TopicPartition.make(DENIED, 0), 1).pipe(
        Effect.provide(KafkaClient.layer(options(cluster, "scram-sha-256", "alice", PASSWORD))),
        Effect.exit,
      )
      expect(Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : exit).toMatchObject({
        _tag: "Some",
        value: { _tag: "TopicAuthorizationFailed", topic: DENIED },
      })
    }),
  )

  it.scoped("a user not allowed into a group gets GroupAuthorizationFailed", () =>
    Effect.gen(function* () {
      const cluster = yield* ApacheKafka.ApacheKafka
      const live = options(cluster, "plain", "bob", BOB_PASSWORD)
      const exit = yield* Effect.gen(function* () {
        const consumer = yield* Consumer.make({ config: { maxWait: "100 millis" } })
        const group = yield* GroupConsumer.subscribe(consumer, [ALLOWED], { groupId: GROUP })
        return yield* group.records.pipe(Stream.take(1), Stream.runCollect)
      }).pipe(
        Effect.provide(Layer.merge(KafkaClient.layer(live), GroupCoordinatorLive.layer(live))),
        Effect.exit,
      )
      expect(Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : exit).toMatchObject({
        _tag: "Some",
        value: { _tag: "GroupAuthorizationFailed", groupId: GROUP },
      })
    }),
  )

  it.scoped("wrong credentials: a typed error at once, no retry storm, and the password is nowhere", () =>
    Effect.gen(function* () {
      const cluster = yield* ApacheKafka.ApacheKafka
      const captured = yield* capture
      const wrong = "wrong-Password-123"
      const exit = yield* consumeAll(TopicPartition.make(ALLOWED, 0), 1).pipe(
        Effect.provide(KafkaClient.layer(options(cluster, "scram-sha-512", "alice", wrong))),
        Effect.provide(captured.layer),
        Effect.timeout("20 seconds"),
        Effect.exit,
      )
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : exit
      expect(error).toMatchObject({ _tag: "Some", value: { _tag: "ListOffsetsError", reason: "Authentication", retriable: false } })
      // One SASL exchange per broker connection attempt, not a retry loop: kafkajs's debug log
      // shows each SaslAuthenticate request.
      const attempts = (yield* captured.lines).filter((line) => line.includes("Request SaslAuthenticate")).length
      expect(attempts).toBeGreaterThan(0)
      expect(attempts).toBeLessThanOrEqual(2)
      expect(yield* captured.leaks([wrong, PASSWORD], [String(error), JSON.stringify(error, (_, v) => text(v))])).toEqual([])
    }),
  )
})
