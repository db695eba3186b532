/**
 * How other clients behave on the same real Apache Kafka broker, in the two cases where a consumer's
 * position is outside the log: retention (DeleteRecords to 50 under a consumer at 20) and a position
 * past the end (150 on a log [0, 100)). Each client and setting gets a topic of its own, prepared the
 * same way (one partition, 100 records, our Producer and kafkajs's admin). Each consumer is positioned,
 * consumes until it has settled (error, or reset and caught up with the end), then one marker record
 * is produced and the case ends when it arrives. What is measured: the first offset delivered, every
 * offset delivered, the error that reached the user.
 *
 * - aiokafka (Python, from PyPI, pinned in `harness/Aiokafka.ts`): manual assignment, `seek`, then
 *   `auto_offset_reset` earliest / latest / none.
 * - kafkajs 2.2.4's own consumer (a group; the position is the group's committed offset, set with
 *   its admin): `fromBeginning` true / false, which is its reset on out of range too.
 * - kafka-effect's consumer: manual assignment, `seek`, recovery nearest / earliest / latest / fail.
 *
 * The outcomes are printed as a table (the README's comparison quotes them).
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, type ConsumerEvent, KafkaError, OffsetRecovery, TopicPartition } from "@kafka-effect/core"
import { TestKit } from "@kafka-effect/testkit"
import { Cause, Effect, Exit, Fiber, Option, Queue, Ref, Schedule, type Scope, Stream } from "effect"
import { type Admin, Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Producer from "../src/Producer.js"
import * as Aiokafka from "./harness/Aiokafka.js"
import * as JavaConsumer from "./harness/JavaConsumer.js"
import * as Platformatic from "./harness/Platformatic.js"
import * as RealAdmin from "./harness/RealAdmin.js"
import * as RealKafka from "./harness/RealKafka.js"

const RECORDS = 100
const MAX_CASE = "30 seconds"

interface Scenario {
  readonly name: "retention" | "past the end"
  /** DeleteRecords before this offset after producing, if set. */
  readonly deleteBefore?: number
  readonly position: number
}

const retention: Scenario = { name: "retention", deleteBefore: 50, position: 20 }
const pastTheEnd: Scenario = { name: "past the end", position: 150 }

/** What one consumer did in one case. */
interface Outcome {
  readonly client: "aiokafka" | "java" | "platformatic" | "kafkajs" | "kafka-effect"
  readonly setting: string
  readonly offsets: ReadonlyArray<number>
  readonly marker: number | undefined
  readonly error: { readonly type: string; readonly detail: string } | undefined
  /** What the client logged about it (aiokafka at INFO and up, kafkajs at ERROR, ours at WARN and up), topic as `T`. */
  readonly logs: ReadonlyArray<string>
  /** Anything else the user sees: our `OffsetReset` event, what kafkajs committed on its own. */
  readonly notes: string
}

const withoutTopic = (topic: string, line: string) => line.split(topic).join("T")

const first = (o: Outcome) => o.offsets[0]
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/**
 * An admin call asked again while it fails with an error kafkajs calls retriable (at most 20 times,
 * 100 ms apart): a broker that has not taken in a just-created topic yet answers
 * UNKNOWN_TOPIC_OR_PARTITION, more often while the other peers keep the machine busy.
 */
const retried = async <A>(call: () => Promise<A>): Promise<A> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call()
    } catch (e) {
      const retriable = typeof e === "object" && e !== null && "retriable" in e && e.retriable === true
      if (!retriable || attempt >= 20) throw e
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

/** Our Producer and kafkajs's admin for the test's setup, with a way to prepare a one-partition topic. */
const setupTools = Effect.gen(function* () {
  const real = yield* RealAdmin.make(RealKafka.brokers())
  const admin: Admin = real.admin
  const producer = yield* Effect.orDie(Producer.make({ brokers: RealKafka.brokers(), clientId: "peers-setup" }))
  // one topic prepared at a time: kafkajs's admin keeps one metadata view, and the peers that run
  // side by side would otherwise replace each other's new topic in it
  const oneAtATime = yield* Effect.makeSemaphore(1)
  const prepare = (scenario: Scenario, prefix: string) =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName(`peers-${prefix}`)
      // Waits for the leader through metadata (kafkajs's `waitForLeaders` fails on a topic the broker has just created).
      yield* real.createTopic({ topic })
      yield* Effect.orDie(producer.send(topic, Array.from({ length: RECORDS }, (_, i) => ({ partition: 0, value: `r${i}` }))))
      yield* Effect.promise(async () => {
        // the admin learns the new topic's leader from this (deleteTopicRecords alone does not ask)
        const before = await retried(() => admin.fetchTopicOffsets(topic))
        expect(before.map((o) => [o.low, o.high])).toEqual([["0", String(RECORDS)]])
        if (scenario.deleteBefore !== undefined) {
          await retried(() => admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: String(scenario.deleteBefore) }] }))
          const after = await retried(() => admin.fetchTopicOffsets(topic))
          expect(after.map((o) => [o.low, o.high])).toEqual([[String(scenario.deleteBefore), String(RECORDS)]])
        }
      })
      return topic
    }).pipe(oneAtATime.withPermits(1))
  const marker = (topic: string) =>
    Effect.orDie(producer.send(topic, [{ partition: 0, value: "marker" }])).pipe(Effect.map((written) => Number(written[0]!.baseOffset)))
  return { admin, prepare, marker }
})

type Tools = Effect.Effect.Success<typeof setupTools>

/** Polls `done` every 50 ms until it holds; a case that never settles fails the test (no timing is asserted). */
const until = (what: string, done: Effect.Effect<boolean>) =>
  done.pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (b) => b }),
    Effect.timeoutFail({ duration: MAX_CASE, onTimeout: () => new Error(`never settled: ${what}`) }),
    Effect.orDie,
  )

// ---------------------------------------------------------------------------------------------
// kafka-effect

type OurPolicy = "nearest" | "earliest" | "latest" | "fail"

const measureOurs = <E extends { readonly _tag: string }>(
  consumer: Consumer.Service<E>,
  tools: Tools,
  topic: string,
  scenario: Scenario,
  setting: OurPolicy,
): Effect.Effect<Outcome, never, Scope.Scope> =>
  Effect.gen(function* () {
    const tp = TopicPartition.make(topic, 0)
    const events = yield* Effect.orDie(consumer.subscribeEvents)
    yield* Effect.orDie(consumer.assign([tp]))
    yield* Effect.orDie(consumer.seek(tp, BigInt(scenario.position)))
    const offsets = yield* Ref.make<ReadonlyArray<number>>([])
    const run = yield* consumer.records.pipe(
      Stream.runForEach((r) => Ref.update(offsets, (os) => [...os, Number(r.offset)])),
      Effect.fork,
    )
    const settled = yield* Effect.raceFirst(
      Effect.map(Queue.take(events), (e) => ({ _tag: "reset" as const, event: e })),
      Effect.map(Fiber.await(run), (exit) => ({ _tag: "ended" as const, exit })),
    ).pipe(Effect.timeoutFail({ duration: MAX_CASE, onTimeout: () => new Error("no reset and no error") }), Effect.orDie)
    if (settled._tag === "ended") {
      const failure = Exit.isFailure(settled.exit) ? Cause.failureOption(settled.exit.cause) : Option.none()
      const error = Option.getOrUndefined(failure)
      return {
        client: "kafka-effect",
        setting,
        offsets: yield* Ref.get(offsets),
        marker: undefined,
        error:
          error === undefined
            ? { type: "(stream ended)", detail: Exit.isFailure(settled.exit) ? Cause.pretty(settled.exit.cause) : "" }
            : {
                type: error._tag,
                detail: error instanceof KafkaError.OffsetOutOfRange ? `requestedOffset=${error.requestedOffset}` : String(error),
              },
        logs: [],
        notes: "",
      } satisfies Outcome
    }
    const e: ConsumerEvent.ConsumerEvent = settled.event
    yield* until(
      "caught up",
      Effect.map(Ref.get(offsets), (os) => Number(e.newOffset) === RECORDS || os.at(-1) === RECORDS - 1),
    )
    const marker = yield* tools.marker(topic)
    yield* until("marker delivered", Effect.map(Ref.get(offsets), (os) => os.includes(marker)))
    yield* Fiber.interrupt(run)
    return {
      client: "kafka-effect",
      setting,
      offsets: yield* Ref.get(offsets),
      marker,
      error: undefined,
      logs: [],
      notes: `OffsetReset event: requested ${e.requestedOffset}, log start ${e.earliest}, end ${e.latest}, newOffset ${e.newOffset}, skipped ${e.skipped}`,
    } satisfies Outcome
  })

/** A warning as a user's logger shows it: level, message and the annotations. */
const shownWarning = (l: TestKit.CapturedLog) =>
  `${l.level} ${l.message} ${Object.entries(l.annotations)
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort()
    .join(" ")}`

const ours = (tools: Tools, scenario: Scenario, setting: OurPolicy) =>
  Effect.gen(function* () {
    const logs = yield* TestKit.makeLogCapture({ quiet: true })
    let topic = ""
    const outcome = yield* Effect.scoped(
      Effect.gen(function* () {
        topic = yield* tools.prepare(scenario, `ours-${setting}`)
        // the start comes from the seek alone
        const config = { maxWait: 100, autoOffsetReset: "none" as const }
        if (setting === "fail") {
          const consumer = yield* Effect.orDie(Consumer.make({ config, recovery: OffsetRecovery.fail() }))
          return yield* measureOurs(consumer, tools, topic, scenario, setting)
        }
        const consumer = yield* Effect.orDie(Consumer.make({ config: { ...config, offsetRecovery: setting } }))
        return yield* measureOurs(consumer, tools, topic, scenario, setting)
      }),
    ).pipe(Effect.provide(logs.layer))
    const warnings = (yield* logs.logs).filter((l) => l.level === "WARN" || l.level === "ERROR" || l.level === "FATAL")
    return { ...outcome, logs: warnings.map((w) => withoutTopic(topic, shownWarning(w))) } satisfies Outcome
  })

// ---------------------------------------------------------------------------------------------
// kafkajs's consumer

const kafkajsConsumer = (tools: Tools, scenario: Scenario, fromBeginning: boolean) =>
  Effect.scoped(
    Effect.gen(function* () {
      const topic = yield* tools.prepare(scenario, `kafkajs-${fromBeginning}`)
      const groupId = `${topic}-group`
      yield* Effect.promise(() =>
        retried(() => tools.admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: String(scenario.position) }] })),
      )
      // what kafkajs tells its user: its log lines (ERROR and up), in order with the requests it sent
      const trail: Array<string> = []
      const kafka = new Kafka({
        brokers: [...RealKafka.brokers()],
        clientId: "peers-kafkajs",
        logLevel: logLevel.ERROR,
        logCreator: () => (entry) => {
          trail.push(`log ${entry.label} ${entry.log.message}`)
        },
      })
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 })
      consumer.on(consumer.events.REQUEST, (e) => {
        trail.push(`request ${e.payload.apiName}`)
      })
      const offsets: Array<number> = []
      yield* Effect.acquireRelease(
        Effect.promise(async () => {
          await consumer.connect()
          await consumer.subscribe({ topic, fromBeginning })
          await consumer.run({
            autoCommit: false,
            eachMessage: async ({ message }) => {
              offsets.push(Number(message.offset))
            },
          })
        }),
        () => Effect.promise(() => consumer.disconnect()),
      )
      const resetLog = () => trail.findIndex((t) => t.startsWith("log ERROR Offset out of range"))
      // settled: it logged the reset, then listed offsets (the default offset resolved), then fetched
      yield* until(
        "kafkajs reset",
        Effect.sync(() => {
          const at = resetLog()
          if (at < 0) return false
          const listed = trail.findIndex((t, i) => i > at && t === "request ListOffsets")
          return listed > 0 && trail.some((t, i) => i > listed && t === "request Fetch")
        }),
      )
      const marker = yield* tools.marker(topic)
      yield* until(
        "marker delivered",
        Effect.sync(() => offsets.includes(marker)),
      )
      const committed = yield* Effect.promise(() => tools.admin.fetchOffsets({ groupId, topics: [topic] }))
      return {
        client: "kafkajs",
        setting: `fromBeginning: ${fromBeginning}`,
        offsets: [...offsets],
        marker,
        error: undefined,
        logs: trail.filter((t) => t.startsWith("log ")).map((t) => withoutTopic(topic, t.slice(4))),
        notes: `committed by itself (autoCommit off): ${committed[0]?.partitions[0]?.offset}`,
      } satisfies Outcome
    }),
  )

// ---------------------------------------------------------------------------------------------
// aiokafka

const aiokafkaSettings = ["earliest", "latest", "none"] as const

const aiokafka = (tools: Tools, scenario: Scenario) =>
  Effect.gen(function* () {
    const cases = yield* Effect.forEach(aiokafkaSettings, (setting) =>
      Effect.map(tools.prepare(scenario, `aiokafka-${setting}`), (topic) => ({
        id: setting,
        topic,
        position: scenario.position,
        setting,
      })),
    )
    const topicOf = (id: string) => cases.find((c) => c.id === id)!.topic
    const results = yield* Effect.orDie(Aiokafka.runCases(RealKafka.bootstrap(), cases))
    expect(results.map((r) => r.id)).toEqual([...aiokafkaSettings])
    return results.map((r): Outcome => {
      expect(r.version).toBe(Aiokafka.VERSION)
      expect(r.timedOut, `aiokafka ${r.setting} never settled`).toBe(false)
      return {
        client: "aiokafka",
        setting: `auto_offset_reset="${r.setting}"`,
        offsets: r.offsets,
        marker: r.marker ?? undefined,
        error: r.error === null ? undefined : { type: r.error.type, detail: withoutTopic(topicOf(r.id), r.error.message) },
        // its lines about this partition's offsets (not "Updating subscribed topics")
        logs: r.logs.map((l) => withoutTopic(topicOf(r.id), l)).filter((l) => l.includes("out of range")),
        notes: r.resetTo === null ? "" : `position after the reset ${r.resetTo}`,
      }
    })
  })

// ---------------------------------------------------------------------------------------------
// Kafka's Java consumer

const javaSettings = ["earliest", "latest", "none"] as const

/** A Java client line without its `[Consumer clientId=…]` prefix and with a position as its offset alone. */
const javaLine = (line: string) =>
  line.replace(/\[Consumer clientId=[^\]]*\] /, "").replace(/FetchPosition\{offset=(\d+), .*?epoch=\d+\}\}/g, "FetchPosition{offset=$1, …}")

const java = (tools: Tools, scenario: Scenario) =>
  Effect.gen(function* () {
    const cases = yield* Effect.forEach(javaSettings, (setting) =>
      Effect.map(tools.prepare(scenario, `java-${setting}`), (topic) => ({ id: setting, topic, position: scenario.position, setting })),
    )
    const topicOf = (id: string) => cases.find((c) => c.id === id)!.topic
    const results = yield* Effect.orDie(JavaConsumer.runCases(RealKafka.bootstrap(), cases))
    expect(results.map((r) => r.id)).toEqual([...javaSettings])
    return results.map((r): Outcome => {
      expect(r.timedOut, `java ${r.setting} never settled`).toBe(false)
      return {
        client: "java",
        setting: `auto.offset.reset=${r.setting}`,
        offsets: r.offsets,
        marker: r.marker ?? undefined,
        error: r.error === null ? undefined : { type: r.error.type, detail: javaLine(withoutTopic(topicOf(r.id), r.error.message)) },
        // its lines about this partition's position (not the client's start-up and close lines)
        logs: r.logs
          .map((l) => javaLine(withoutTopic(topicOf(r.id), l)))
          .filter((l) => /out of range|Resetting offset/.test(l)),
        notes: `kafka-clients ${r.version}${r.resetTo === null ? "" : `, position after the reset ${r.resetTo}`}`,
      }
    })
  })

// ---------------------------------------------------------------------------------------------
// @platformatic/kafka

const platformaticSettings = ["earliest", "latest", "fail"] as const

const platformatic = (tools: Tools, scenario: Scenario) =>
  Effect.gen(function* () {
    const cases = yield* Effect.forEach(platformaticSettings, (setting) =>
      Effect.map(tools.prepare(scenario, `platformatic-${setting}`), (topic) => ({
        id: setting,
        topic,
        position: scenario.position,
        end: RECORDS,
        setting,
      })),
    )
    const topicOf = (id: string) => cases.find((c) => c.id === id)!.topic
    const { node, outcomes } = yield* Effect.orDie(Platformatic.runCases(RealKafka.bootstrap(), cases))
    expect(outcomes.map((r) => r.id)).toEqual([...platformaticSettings])
    return outcomes.map((r): Outcome => {
      expect(r.timedOut, `platformatic ${r.setting} never settled`).toBe(false)
      return {
        client: "platformatic",
        setting: `fallbackMode: "${r.setting}"`,
        offsets: r.offsets,
        marker: r.marker ?? undefined,
        error: r.error === null ? undefined : { type: r.error.type, detail: withoutTopic(topicOf(r.id), r.error.message) },
        logs: r.logs.map((l) => withoutTopic(topicOf(r.id), l)),
        notes: `${Platformatic.VERSION} on Node ${node}${r.resetTo === null ? "" : `, position after the reset ${r.resetTo}`}`,
      }
    })
  })

// ---------------------------------------------------------------------------------------------

/** Every client and setting on one scenario; printed as a table for the README. */
const measureAll = (scenario: Scenario) =>
  Effect.gen(function* () {
    const tools = yield* setupTools
    const outcomes: Array<Outcome> = []
    // the three peers that run in processes of their own, at the same time (each on its own topics)
    const [aio, javaOutcomes, platformaticOutcomes] = yield* Effect.all([aiokafka(tools, scenario), java(tools, scenario), platformatic(tools, scenario)], {
      concurrency: "unbounded",
    })
    outcomes.push(...aio, ...javaOutcomes, ...platformaticOutcomes)
    for (const fromBeginning of [true, false]) outcomes.push(yield* kafkajsConsumer(tools, scenario, fromBeginning))
    for (const policy of ["nearest", "earliest", "latest", "fail"] as const) outcomes.push(yield* ours(tools, scenario, policy))
    const lines = outcomes.map((o) => {
      const delivered = o.offsets.length === 0 ? "nothing" : `${o.offsets.length} records [${first(o)}..${o.offsets.at(-1)}]`
      const error = o.error === undefined ? "no error" : `${o.error.type} (${o.error.detail})`
      return `| ${scenario.name} | ${o.client} ${o.setting} | ${first(o) ?? "-"} | ${delivered} | ${error} | ${o.logs.join(" / ")} | ${o.notes} |`
    })
    console.log(
      `${scenario.name}: log [${scenario.deleteBefore ?? 0}, ${RECORDS}), position ${scenario.position}, marker at ${RECORDS}\n${lines.join("\n")}`,
    )
    const by = (client: Outcome["client"], setting: string) => {
      const o = outcomes.find((x) => x.client === client && x.setting === setting)
      expect(o, `${client} ${setting}`).toBeDefined()
      return o!
    }
    return by
  }).pipe(Effect.provide(KafkaClient.layer({ brokers: RealKafka.brokers(), clientId: "peers" })))

/** Delivered everything from `from` through the marker, with no error. */
const expectFrom = (o: Outcome, from: number) => {
  expect(o.error, `${o.client} ${o.setting}`).toBeUndefined()
  expect(o.marker).toBe(RECORDS)
  expect(o.offsets, `${o.client} ${o.setting}`).toEqual(range(from, RECORDS))
}

/** Nothing delivered; the error that reached the user. */
const expectError = (o: Outcome, type: string, detail: string) => {
  expect(o.offsets, `${o.client} ${o.setting}`).toEqual([])
  expect(o.error, `${o.client} ${o.setting}`).toEqual({ type, detail })
}

/** What kafka-effect logs and emits for one reset: one warning with every fact, and the same facts as an event. */
const expectOurReset = (o: Outcome, s: Scenario, policy: string, newOffset: number, skipped: number) => {
  const earliest = s.deleteBefore ?? 0
  expect(o.logs).toEqual([
    `WARN Offset out of range, resetting to ${newOffset} (T-0: requested ${s.position}, log start ${earliest}, end ${RECORDS}, skipped ${skipped}) ` +
      `earliest=${earliest} latest=${RECORDS} newOffset=${newOffset} partition=0 policy=${policy} requestedOffset=${s.position} skipped=${skipped} topic=T`,
  ])
  expect(o.notes).toBe(`OffsetReset event: requested ${s.position}, log start ${earliest}, end ${RECORDS}, newOffset ${newOffset}, skipped ${skipped}`)
}

/** aiokafka's log line (INFO, so hidden by Python's default WARNING level), the same whatever the setting. */
const expectAiokafkaLog = (o: Outcome, s: Scenario) => {
  const line = `INFO Fetch offset ${s.position} is out of range for partition TopicPartition(topic='T', partition=0), resetting offset`
  expect(o.logs.length, `${o.setting}`).toBeGreaterThan(0)
  expect(new Set(o.logs)).toEqual(new Set([line]))
}

/** kafkajs's two ERROR lines (no offsets in them) and the default offset it commits to the group on its own. */
const expectKafkajsReset = (o: Outcome, committed: "-2" | "-1") => {
  expect(o.logs).toEqual(["ERROR Response Fetch(key: 1, version: 11)", "ERROR Offset out of range, resetting to default offset"])
  expect(o.notes).toBe(`committed by itself (autoCommit off): ${committed}`)
}

const aiokafkaError = (s: Scenario) => `[Error 1] OffsetOutOfRangeError: {TopicPartition(topic='T', partition=0): ${s.position}}`

/** What each client should show in a scenario: first offset delivered (and, for ours, offsets skipped). */
interface Expected {
  readonly title: string
  readonly scenario: Scenario
  /** aiokafka's `earliest` and kafkajs's `fromBeginning: true`: both reset to the log start. */
  readonly earliestFrom: number
  readonly ours: Readonly<Record<"nearest" | "earliest" | "latest", readonly [from: number, skipped: number]>>
}

const cases: ReadonlyArray<Expected> = [
  {
    // aiokafka/kafkajs earliest → the new log start 50; latest → the end, 50..99 never delivered;
    // kafka-effect nearest = earliest here (below the log start), with the skipped count
    title: "retention: DeleteRecords to 50 under a consumer at 20",
    scenario: retention,
    earliestFrom: 50,
    ours: { nearest: [50, 30], earliest: [50, 30], latest: [100, 80] },
  },
  {
    // aiokafka/kafkajs earliest replay the whole partition from 0; kafka-effect nearest → the end,
    // nothing replayed and nothing skipped
    title: "past the end: a consumer at 150 on a log [0, 100)",
    scenario: pastTheEnd,
    earliestFrom: 0,
    ours: { nearest: [100, 0], earliest: [0, 0], latest: [100, 0] },
  },
]

describe("other clients on the same real Kafka broker", () => {
  for (const c of cases) {
    it.scopedLive(
      c.title,
      () =>
        Effect.gen(function* () {
          const s = c.scenario
          const by = yield* measureAll(s)
          for (const [setting, from] of [["earliest", c.earliestFrom], ["latest", 100]] as const) {
            const o = by("aiokafka", `auto_offset_reset="${setting}"`)
            expectFrom(o, from)
            expectAiokafkaLog(o, s)
          }
          const aioNone = by("aiokafka", `auto_offset_reset="none"`)
          expectError(aioNone, "OffsetOutOfRangeError", aiokafkaError(s))
          expectAiokafkaLog(aioNone, s)
          // Kafka's Java consumer: the same directions as aiokafka; two INFO lines with the offsets
          for (const [setting, from] of [["earliest", c.earliestFrom], ["latest", 100]] as const) {
            const o = by("java", `auto.offset.reset=${setting}`)
            expectFrom(o, from)
            expect(o.logs).toEqual([
              `INFO Fetch position FetchPosition{offset=${s.position}, …} is out of range for partition T-0, resetting offset`,
              `INFO Resetting offset for partition T-0 to position FetchPosition{offset=${from}, …}.`,
            ])
          }
          const javaNone = by("java", "auto.offset.reset=none")
          expectError(javaNone, "OffsetOutOfRangeException", `Fetch position FetchPosition{offset=${s.position}, …} is out of range for partition T-0`)
          expect(javaNone.logs).toEqual([
            `INFO Fetch position FetchPosition{offset=${s.position}, …} is out of range for partition T-0, raising error to the application since no reset policy is configured`,
          ])
          // @platformatic/kafka: fallbackMode is its reset, silent (nothing logged, no event with offsets)
          for (const [setting, from] of [["earliest", c.earliestFrom], ["latest", 100]] as const) {
            const o = by("platformatic", `fallbackMode: "${setting}"`)
            expectFrom(o, from)
            expect(o.logs).toEqual([])
          }
          const platformaticFail = by("platformatic", `fallbackMode: "fail"`)
          expect(platformaticFail.offsets).toEqual([])
          expect(platformaticFail.error?.type).toBe("ResponseError")
          // the response error and the protocol error it carries: neither names the partition or the offset
          expect(platformaticFail.error?.detail).toMatch(
            /^Received response with error while executing API Fetch\(v\d+\) \/ The requested offset is not within the range of offsets maintained by the server\.$/,
          )
          expect(platformaticFail.logs).toEqual([])
          // kafkajs: fromBeginning is its reset (-2 earliest, -1 latest, committed on its own)
          expectFrom(by("kafkajs", "fromBeginning: true"), c.earliestFrom)
          expectKafkajsReset(by("kafkajs", "fromBeginning: true"), "-2")
          expectFrom(by("kafkajs", "fromBeginning: false"), 100)
          expectKafkajsReset(by("kafkajs", "fromBeginning: false"), "-1")
          for (const policy of ["nearest", "earliest", "latest"] as const) {
            const [from, skipped] = c.ours[policy]
            expectFrom(by("kafka-effect", policy), from)
            expectOurReset(by("kafka-effect", policy), s, policy, from, skipped)
          }
          expectError(by("kafka-effect", "fail"), "OffsetOutOfRange", `requestedOffset=${s.position}`)
          expect(by("kafka-effect", "fail").logs).toEqual([])
        }),
      180_000,
    )
  }
})
