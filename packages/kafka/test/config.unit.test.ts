/**
 * Every settings field a user writes, one wrong value each: the consumer's (`ConsumerConfig`), the
 * client's (`KafkaOptions`), the group's (`GroupConsumer.subscribe` options) and the Producer's.
 * Each fails with `InvalidConfig` naming the field (its path) and the value, never a password.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConsumerConfig, GroupConfig, KafkaError } from "@kafka-effect/core"
import { Effect, Either, Redacted, Schedule } from "effect"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Producer from "../src/Producer.js"

type Target = "ConsumerConfig" | "KafkaOptions" | "GroupConfig" | "Producer"

interface Row {
  readonly target: Target
  /** The field path the error must name. */
  readonly field: string
  readonly input: Record<string, unknown>
  /** The value the error must carry (default: the value at `field` in `input`). */
  readonly value?: unknown
}

const base: Record<Target, Record<string, unknown>> = {
  ConsumerConfig: {},
  KafkaOptions: { brokers: ["h:9092"] },
  GroupConfig: { groupId: "g", topics: ["t"] },
  Producer: { brokers: ["h:9092"] },
}

const row = (target: Target, field: string, bad: unknown, extra: Record<string, unknown> = {}): Row => {
  // `name` or `name.0` (the first element of an array field)
  const [head = field, index] = field.split(".")
  return { target, field, input: { ...base[target], ...extra, [head]: index === undefined ? bad : [bad] }, value: bad }
}

const sasl = { mechanism: "plain", username: "u", password: Redacted.make("pw") }

const rows: ReadonlyArray<Row> = [
  row("ConsumerConfig", "maxWait", -1),
  row("ConsumerConfig", "maxWait", "soon"),
  row("ConsumerConfig", "maxWait", Number.POSITIVE_INFINITY),
  row("ConsumerConfig", "minBytes", 1.5),
  row("ConsumerConfig", "minBytes", -1),
  row("ConsumerConfig", "maxBytes", 0),
  row("ConsumerConfig", "fetchBufferBytes", 0),
  row("ConsumerConfig", "fetchBufferBytes", 1.5),
  row("ConsumerConfig", "maxPartitionBytes", "1MB"),
  row("ConsumerConfig", "isolationLevel", "dirty"),
  row("ConsumerConfig", "autoOffsetReset", "smallest"),
  row("ConsumerConfig", "offsetRecovery", "fail"),
  row("ConsumerConfig", "maxRecoveryAttempts", 0),
  row("ConsumerConfig", "retryBackoff", "-5 millis"),
  row("ConsumerConfig", "maxWaitMs", 500),
  row("KafkaOptions", "brokers", []),
  row("KafkaOptions", "brokers.0", "no-port"),
  row("KafkaOptions", "brokers.0", "h:70000"),
  row("KafkaOptions", "clientId", ""),
  row("KafkaOptions", "ssl", "yes"),
  { target: "KafkaOptions", field: "sasl.mechanism", input: { ...base.KafkaOptions, sasl: { ...sasl, mechanism: "gssapi" } }, value: "gssapi" },
  { target: "KafkaOptions", field: "sasl.username", input: { ...base.KafkaOptions, sasl: { ...sasl, username: "" } }, value: "" },
  { target: "KafkaOptions", field: "sasl.password", input: { ...base.KafkaOptions, sasl: { ...sasl, password: "hunter2" } }, value: "<not shown>" },
  row("KafkaOptions", "connectionTimeout", 0),
  row("KafkaOptions", "requestTimeout", "forever"),
  row("KafkaOptions", "isolationLevel", "x"),
  row("KafkaOptions", "retrySchedule", 5),
  row("KafkaOptions", "logLevel", "verbose"),
  row("KafkaOptions", "checkCrcs", "yes"),
  row("KafkaOptions", "fetchMaxWaitMs", 500),
  row("GroupConfig", "groupId", ""),
  row("GroupConfig", "topics", []),
  row("GroupConfig", "topics.0", ""),
  row("GroupConfig", "sessionTimeout", 0),
  row("GroupConfig", "rebalanceTimeout", "x"),
  row("GroupConfig", "heartbeatInterval", "40 seconds"),
  row("GroupConfig", "heartbeatInterval", "5 seconds", { sessionTimeout: "5 seconds" }),
  row("GroupConfig", "assignors", []),
  row("GroupConfig", "assignors.0", { name: "range" }),
  row("GroupConfig", "autoCommit", "yes"),
  row("GroupConfig", "autoCommitInterval", -1),
  row("GroupConfig", "retrySchedule", "often"),
  { target: "GroupConfig", field: "listener.onRevoked", input: { ...base.GroupConfig, listener: { onRevoked: 5 } }, value: 5 },
  row("GroupConfig", "metadataMaxAge", "never"),
  row("Producer", "acks", "some"),
  row("Producer", "idempotent", "yes"),
  { target: "Producer", field: "acks", input: { ...base.Producer, idempotent: true, acks: "leader" }, value: "leader" },
  row("Producer", "compression", "brotli"),
  row("Producer", "partitioner", "random"),
  row("Producer", "ackTimeout", 0),
  row("Producer", "allowAutoTopicCreation", "yes"),
  row("Producer", "retrySchedule", 5),
  row("Producer", "propagateTrace", "yes"),
  row("Producer", "requestTimeout", -5),
  row("Producer", "acksTypo", "all"),
]

// Options as they arrive from a config file: the types are not checked there, validation is.
const fromFile = (input: Record<string, unknown>): Producer.ProducerOptions =>
  JSON.parse(JSON.stringify(input, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)))

const check = (r: Row): Effect.Effect<KafkaError.InvalidConfig, unknown> => {
  switch (r.target) {
    case "ConsumerConfig":
      return Effect.flip(ConsumerConfig.decode(r.input))
    case "KafkaOptions":
      return Effect.flip(KafkaClient.decode(r.input))
    case "GroupConfig":
      return Effect.flip(GroupConfig.validate(r.input))
    case "Producer":
      return Either.match(Producer.validate(fromFile(r.input)), {
        onLeft: Effect.succeed,
        onRight: () => Effect.fail("accepted"),
      })
  }
}

const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v))

describe("every settings field is validated, naming the field and the value", () => {
  for (const r of rows) {
    it.effect(`${r.target}.${r.field} = ${show(r.value)}`, () =>
      Effect.gen(function* () {
        const error = yield* check(r)
        expect(error).toBeInstanceOf(KafkaError.InvalidConfig)
        expect(error.field).toBe(r.field)
        expect(error.value).toEqual(r.value)
        expect(error.message.startsWith(`Invalid config ${r.field}=`)).toBe(true)
        expect(error.message).not.toContain("hunter2")
        expect(error.reason).not.toMatch(/^Expected/)
      }),
    )
  }

  it("the table has a row for every field of every schema", () => {
    const covered = (target: Target) => new Set(rows.filter((r) => r.target === target).map((r) => r.field.split(".")[0]))
    expect(Object.keys(ConsumerConfig.ConsumerConfig.fields).filter((f) => !covered("ConsumerConfig").has(f))).toEqual([])
    expect(Object.keys(KafkaClient.KafkaOptions.fields).filter((f) => !covered("KafkaOptions").has(f))).toEqual([])
    expect(Object.keys(KafkaClient.SaslOptions.fields).filter((f) => !rows.some((r) => r.field === `sasl.${f}`))).toEqual([])
    expect(GroupConfig.fieldNames.filter((f) => !covered("GroupConfig").has(f))).toEqual([])
    const producerOwn = ["acks", "idempotent", "compression", "partitioner", "ackTimeout", "allowAutoTopicCreation", "retrySchedule", "propagateTrace"]
    expect(producerOwn.filter((f) => !covered("Producer").has(f))).toEqual([])
  })

  it.effect("good values of every kind are accepted", () =>
    Effect.gen(function* () {
      const consumer = yield* ConsumerConfig.decode({ maxWait: "250 millis", retryBackoff: 50, minBytes: 0, isolationLevel: "read_committed" })
      expect(consumer.isolationLevel).toBe("read_committed")
      const client = yield* KafkaClient.decode({ brokers: ["[::1]:9092"], sasl, retrySchedule: Schedule.recurs(1), ssl: { rejectUnauthorized: false } })
      expect(client.sasl?.username).toBe("u")
      yield* GroupConfig.validate({ groupId: "g", topics: ["t"], sessionTimeout: "10 seconds", heartbeatInterval: "1 second", listener: { onAssigned: () => Effect.void } })
      expect(Either.isRight(Producer.validate({ brokers: ["h:1"], acks: "leader", ackTimeout: "5 seconds", retrySchedule: Schedule.recurs(2) }))).toBe(true)
    }),
  )
})
