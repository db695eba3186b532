/**
 * Debian's Python clients (nobody here wrote them) against the embedded broker:
 * confluent_kafka (librdkafka 2.0.2) and kafka-python 2.0.2, each producing, consuming in a group
 * and committing; what they do is checked from the model's side too.
 */
import { describe, expect, it } from "@effect/vitest"
import { TopicPartition } from "@kafka-effect/core"
import { Effect } from "effect"
import * as BrokerModel from "../../src/BrokerModel.js"
import { TestBroker } from "../../src/TestBroker.js"
import * as EmbeddedBroker from "../../src/wire/EmbeddedBroker.js"
import { python, run } from "./helpers.js"

const confluentScript = `
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
bs = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bs})
for f in admin.create_topics([NewTopic("py-ck", num_partitions=2, replication_factor=1)]).values():
    f.result(10)
p = Producer({"bootstrap.servers": bs, "compression.type": "gzip", "linger.ms": 5})
for i in range(20):
    # long, compressible values: librdkafka sends a batch uncompressed when gzip would not shrink it
    p.produce("py-ck", key=f"k{i}", value=f"v{i}" + "." * 200, partition=i % 2, headers={"h": f"{i}"})
assert p.flush(10) == 0
c = Consumer({"bootstrap.servers": bs, "group.id": "py-ck-group", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 6000})
c.subscribe(["py-ck"])
got = []
deadline = time.time() + 15
while len(got) < 21 and time.time() < deadline:
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    got.append([m.partition(), m.offset(), m.key().decode(), m.value().decode().rstrip("."), dict(m.headers() or [])["h"].decode()])
    if len(got) == 20:
        print("READY", flush=True)
        sys.stdout.flush()
        # the test produces one more record through the control API when it sees READY
        time.sleep(0.1)
c.commit(asynchronous=False)
lo, hi = c.get_watermark_offsets(TopicPartition("py-ck", 0), timeout=5)
c.close()
print(json.dumps({"got": got, "low": lo, "high": hi}))
`

const kafkaPythonScript = `
import sys, json
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient
from kafka.admin import NewTopic
bs = sys.argv[1].split(",")
admin = KafkaAdminClient(bootstrap_servers=bs)
admin.create_topics([NewTopic("py-kp", 3, 1)])
p = KafkaProducer(bootstrap_servers=bs, compression_type="gzip")
for i in range(9):
    p.send("py-kp", key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % 3)
p.flush(10)
c = KafkaConsumer("py-kp", bootstrap_servers=bs, group_id="py-kp-group", auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=10000)
got = []
for m in c:
    got.append([m.partition, m.offset, m.key.decode(), m.value.decode()])
    if len(got) == 9:
        break
c.commit()
end = c.end_offsets([p for p in c.assignment()])
c.close()
admin.delete_topics(["py-kp"])
print(json.dumps({"got": sorted(got), "api": list(p.config["api_version"]), "end": sorted(end.values())}))
`

describe("Python clients against the embedded broker", () => {
  it.live(
    "confluent_kafka: admin, gzip producer with headers, group consumer, commit, watermarks",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const model = yield* BrokerModel.BrokerModel
        const control = yield* TestBroker
        // One record produced by the control API: the Python consumer sees it next to its own.
        const fiber = yield* Effect.fork(run(python, ["-c", confluentScript, broker.bootstrap], { timeoutMs: 30_000 }))
        yield* Effect.gen(function* () {
          for (;;) {
            const exists = (yield* model.metadata(["py-ck"])).length > 0
            if (exists && (yield* control.partitionState(TopicPartition.make("py-ck", 1))).highWatermark === 10n) return
            yield* Effect.sleep("50 millis")
          }
        }).pipe(Effect.timeout("20 seconds"), Effect.orDie)
        yield* control.produce("py-ck", 1, [{ key: "k-control", value: "from-control", headers: { h: "c" } }])
        const out = yield* fiber.await.pipe(Effect.flatten)
        expect(out.stderr, out.stderr).not.toContain("Traceback")
        expect(out.code, out.stdout + out.stderr).toBe(0)
        const result: { got: Array<[number, number, string, string, string]>; low: number; high: number } = JSON.parse(
          out.stdout.trim().split("\n").pop() ?? "{}",
        )
        expect(result.got.length).toBe(21)
        expect(result.got.filter((g) => g[0] === 0).map((g) => g[1])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        expect(result.got).toContainEqual([1, 10, "k-control", "from-control", "c"])
        expect(result.got).toContainEqual([0, 3, "k6", "v6", "6"])
        expect([result.low, result.high]).toEqual([0, 10])
        const committed = yield* model.committedOffsets("py-ck-group", [0, 1].map((p) => TopicPartition.make("py-ck", p)))
        expect(committed.map((c) => c.offset)).toEqual([10n, 11n])
        const batches = yield* model.batches(TopicPartition.make("py-ck", 0))
        expect(batches.every((b) => (b.attributes & 0x07) === 1)).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 2 }))),
    40_000,
  )

  it.live(
    "kafka-python: admin, gzip producer, group consumer, commit, end offsets, delete topic",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const model = yield* BrokerModel.BrokerModel
        const out = yield* run(python, ["-c", kafkaPythonScript, broker.bootstrap], { timeoutMs: 30_000 })
        expect(out.stderr, out.stderr).not.toContain("Traceback")
        expect(out.code, out.stdout + out.stderr).toBe(0)
        const result: { got: Array<[number, number, string, string]>; api: Array<number>; end: Array<number> } = JSON.parse(
          out.stdout.trim().split("\n").pop() ?? "{}",
        )
        expect(result.got).toEqual([
          [0, 0, "k0", "v0"],
          [0, 1, "k3", "v3"],
          [0, 2, "k6", "v6"],
          [1, 0, "k1", "v1"],
          [1, 1, "k4", "v4"],
          [1, 2, "k7", "v7"],
          [2, 0, "k2", "v2"],
          [2, 1, "k5", "v5"],
          [2, 2, "k8", "v8"],
        ])
        // kafka-python infers the broker version from ApiVersions: >= 2.x means RecordBatch v2.
        expect(result.api[0]).toBeGreaterThanOrEqual(2)
        expect(result.end).toEqual([3, 3, 3])
        const committed = yield* model.committedOffsets("py-kp-group", [0, 1, 2].map((p) => TopicPartition.make("py-kp", p)))
        expect(committed.map((c) => c.offset)).toEqual([3n, 3n, 3n])
        expect(yield* model.metadata(["py-kp"])).toEqual([])
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 3 }))),
    40_000,
  )
})
