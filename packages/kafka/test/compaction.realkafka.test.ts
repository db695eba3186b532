/**
 * A compacted topic on the suite's real Apache Kafka broker, compacted by the broker's own log
 * cleaner: an offset that compaction removed is not out of range (the broker answers with the next
 * surviving records, and the consumer neither fails nor resets), while an offset below the log start
 * of a `compact,delete` topic is, and heals with the warning. Through core's `Consumer` over
 * `KafkaClient.layer`; records from kafkajs's producer; configs and DeleteRecords through its admin.
 */
import { layer } from "@effect/vitest"
import { Fetcher, TopicPartition } from "@kafka-effect/core"
import { Chunk, Effect, Queue } from "effect"
import { expect } from "vitest"
import * as KafkaClient from "../src/KafkaClient.js"
import { observedConsumer, seen, take, warningsLogger } from "./harness/Observed.js"
import * as Producer from "./harness/Producer.js"
import * as RealAdmin from "./harness/RealAdmin.js"
import * as RealKafka from "./harness/RealKafka.js"

const brokers = RealKafka.brokers()

/**
 * Topic configs under which the log cleaner compacts within seconds (the suite's broker checks for
 * cleanable logs every 500ms, `log.cleaner.backoff.ms`). Segments roll on time: since Kafka 4.0
 * `segment.bytes` may not be below 1 MiB, far more than these records.
 */
const compactFast = {
  "cleanup.policy": "compact",
  "segment.ms": "100",
  "min.cleanable.dirty.ratio": "0.01",
  "min.compaction.lag.ms": "0",
  "delete.retention.ms": "100",
} as const

/** Keys of the updates at offsets 0..9; the last update of each key survives compaction. */
const keys = ["a", "b", "a", "c", "b", "a", "d", "c", "a", "e"] as const
/** The last offset of each key among 0..9, and 10 (key f, in the active segment, never cleaned). */
const survivors = [4n, 6n, 7n, 8n, 9n, 10n]

layer(KafkaClient.layer({ brokers }), { excludeTestServices: true, timeout: "90 seconds" })("a compacted topic on real Apache Kafka", (it) => {
  it.scoped(
    "the log cleaner removes overwritten keys; a consumer at a removed offset gets the next surviving record with no error and no reset; after DeleteRecords on it as compact,delete, a position below the log start heals with the warning",
    () =>
      Effect.gen(function* () {
        const admin = yield* RealAdmin.make(brokers)
        const producer = yield* Producer.make(brokers)
        const topic = RealKafka.topicName("m-compacted")
        const tp = TopicPartition.make(topic, 0)
        yield* admin.createTopic({ topic, config: compactFast })
        yield* Effect.forEach(keys, (key, i) => producer.send(topic, 0, [{ key, value: `v${i}` }]), { discard: true })
        // A record after segment.ms has passed rolls the segment: 0..9 become cleanable.
        yield* Effect.sleep("200 millis")
        yield* producer.send(topic, 0, [{ key: "f", value: "v10" }])

        // Wait (bounded) until the broker's cleaner has run: Fetches from 0 to the high watermark
        // (a Fetch answers from one segment at a time) return only the survivors.
        const fetcher = yield* Fetcher.Fetcher
        const offsetsInLog = Effect.gen(function* () {
          const offsets: Array<bigint> = []
          let position = 0n
          for (let i = 0; i < 20; i++) {
            const [result] = yield* fetcher.fetch({
              partitions: [{ topic, partition: 0, offset: position, maxBytes: 1 << 20 }],
              maxWaitMs: 10,
              minBytes: 1,
              maxBytes: 1 << 20,
              isolationLevel: "read_uncommitted",
            })
            if (result?._tag !== "Records") return yield* Effect.dieMessage(`fetch at ${position}: ${result?._tag}`)
            for (const r of result.records) offsets.push(r.offset)
            const last = result.records.at(-1)
            position = result.nextOffset ?? (last === undefined ? position : last.offset + 1n)
            if (position >= result.highWatermark) break
          }
          return offsets
        })
        const compacted = yield* RealAdmin.eventually(
          "the log cleaner to compact offsets 0..9",
          Effect.map(Effect.orDie(offsetsInLog), (offsets) => (offsets.join() === survivors.join() ? offsets : undefined)),
          "40 seconds",
          "250 millis",
        )
        expect(compacted).toEqual(survivors)

        const log = warningsLogger()
        const { consumer, calls } = yield* observedConsumer({ config: { maxWait: "100 millis" } })
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp])
        // Offset 5 (key a, overwritten at 8) was removed: the broker answers from the next survivor, 6.
        yield* consumer.seek(tp, 5n)
        expect(seen(yield* take(consumer, 5).pipe(Effect.provide(log.layer)))).toEqual([
          "0@6=v6",
          "0@7=v7",
          "0@8=v8",
          "0@9=v9",
          "0@10=v10",
        ])
        // No error, no reset, no ListOffsets: compaction holes are not out of range.
        expect(Chunk.toReadonlyArray(yield* Queue.takeAll(events))).toEqual([])
        expect(log.warnings).toEqual([])
        expect(calls.lists).toEqual([])
        expect(calls.fetches[0]).toEqual([`${topic}-0@5`])
        // From a removed offset further down: the first survivor, 4.
        yield* consumer.seek(tp, 1n)
        expect(seen(yield* take(consumer, 1))).toEqual(["0@4=v4"])
        expect(calls.lists).toEqual([])

        // DeleteRecords on a compact-only topic: refused by the broker (POLICY_VIOLATION).
        const refused = yield* Effect.flip(admin.deleteRecords(topic, 0, 7n))
        expect(refused).toMatchObject({
          cause: { name: "KafkaJSDeleteTopicRecordsError", partitions: [{ partition: 0, error: { type: "POLICY_VIOLATION" } }] },
        })
        // Now compact,delete, and the log start moves to 7.
        yield* admin.alterTopicConfig(topic, { ...compactFast, "cleanup.policy": "compact,delete" })
        // The broker may take a moment to see the new policy: DeleteRecords is refused until it does.
        yield* RealAdmin.eventually(
          "DeleteRecords to be accepted under compact,delete",
          Effect.map(Effect.either(admin.deleteRecords(topic, 0, 7n)), (r) => (r._tag === "Right" ? true : undefined)),
          "10 seconds",
        )
        // The same consumer, at the removed offset 5, now below the log start: healed with the warning.
        yield* consumer.seek(tp, 5n)
        calls.fetches.length = 0
        const healed = yield* take(consumer, 4).pipe(Effect.provide(log.layer))
        expect(seen(healed)).toEqual(["0@7=v7", "0@8=v8", "0@9=v9", "0@10=v10"])
        const facts = { requestedOffset: 5n, earliest: 7n, latest: 11n, newOffset: 7n, skipped: 2n }
        expect(Chunk.toReadonlyArray(yield* Queue.takeAll(events))).toEqual([
          expect.objectContaining({ _tag: "OffsetReset", topic, partition: 0, policy: "nearest", ...facts }),
        ])
        expect(log.warnings).toHaveLength(1)
        expect(log.warnings[0]!.annotations).toMatchObject({
          topic,
          partition: 0,
          requestedOffset: "5",
          earliest: "7",
          latest: "11",
          newOffset: "7",
          skipped: "2",
        })
        expect(calls.fetches.slice(0, 2)).toEqual([[`${topic}-0@5`], [`${topic}-0@7`]])
        expect([...calls.lists].sort()).toEqual([`earliest:${topic}-0`, `latest:${topic}-0`])
      }),
    60_000,
  )
})
