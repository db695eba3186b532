/**
 * Debian's kcat (librdkafka 2.0.2, a client nobody here wrote) against the embedded broker:
 * metadata (-L), produce (-P, also snappy/lz4/gzip), consume (-C -o beginning -e), offsets (-Q).
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import { Effect } from "effect"
import * as BrokerModel from "../../src/BrokerModel.js"
import { TestBroker } from "../../src/TestBroker.js"
import * as EmbeddedBroker from "../../src/wire/EmbeddedBroker.js"
import { run, text } from "./helpers.js"

const kcat = (bootstrap: string, args: ReadonlyArray<string>, input?: string) =>
  run("kcat", ["-b", bootstrap, "-m", "5", ...args], input === undefined ? {} : { input })

describe("kcat against the embedded broker", () => {
  it.live(
    "-L lists the brokers and the partition leaders",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker
        yield* control.createTopic("listed", 3)
        const out = yield* kcat(broker.bootstrap, ["-L"])
        expect(out.code).toBe(0)
        expect(out.stdout).toContain(" 3 brokers:")
        for (const l of broker.listeners) expect(out.stdout).toContain(`broker ${l.nodeId} at 127.0.0.1:${l.port}`)
        expect(out.stdout).toContain(`topic "listed" with 3 partitions:`)
        expect(out.stdout).toContain("partition 2, leader 2, replicas: 2, isrs: 2")
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 3 }))),
    20_000,
  )

  it.live(
    "-P produces keyed lines, -C -o beginning -e reads them back, -Q lists offsets",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker
        yield* control.createTopic("lines", 2)
        const produced = yield* kcat(broker.bootstrap, ["-P", "-t", "lines", "-p", "1", "-K", ":"], "a:1\nb:2\nc:3\n")
        expect(produced.code).toBe(0)
        expect((yield* control.partitionState(TopicPartition.make("lines", 1))).highWatermark).toBe(3n)

        const consumed = yield* kcat(broker.bootstrap, ["-C", "-t", "lines", "-o", "beginning", "-e", "-f", "%p %o %k=%s\\n"])
        expect(consumed.code).toBe(0)
        expect(consumed.stdout.trim().split("\n")).toEqual(["1 0 a=1", "1 1 b=2", "1 2 c=3"])

        yield* control.deleteRecords(TopicPartition.make("lines", 1), 1n)
        const offsets = yield* kcat(broker.bootstrap, ["-Q", "-t", "lines:1:-1", "-t", "lines:0:-1"])
        expect(offsets.code).toBe(0)
        expect(offsets.stdout).toContain("lines [1] offset 3")
        expect(offsets.stdout).toContain("lines [0] offset 0")
        const earliest = yield* kcat(broker.bootstrap, ["-Q", "-t", "lines:1:-2"])
        expect(earliest.stdout).toContain("lines [1] offset 1")
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 2 }))),
    20_000,
  )

  it.live(
    "batches compressed by librdkafka (snappy, lz4, gzip) are decoded, kept as produced and served back",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const model = yield* BrokerModel.BrokerModel
        const codecs = ["snappy", "lz4", "gzip"] as const
        for (const codec of codecs) {
          const lines = Array.from({ length: 50 }, (_, i) => `${codec}-${i}-${"payload".repeat(8)}`).join("\n")
          const out = yield* kcat(broker.bootstrap, ["-P", "-t", "zipped", "-p", "0", "-z", codec], `${lines}\n`)
          expect(out.code).toBe(0)
        }
        const batches = yield* model.batches(TopicPartition.make("zipped", 0))
        // One batch per kcat run, unless librdkafka split one: the codecs appear in order, each kept as produced.
        const codecsSeen = batches.map((b) => b.attributes & 0x07).filter((c, i, all) => i === 0 || all[i - 1] !== c)
        expect(codecsSeen).toEqual([2, 3, 1])
        expect(batches.every((b) => b.raw !== undefined)).toBe(true)
        // The model decoded every codec (its records feed compaction and the in-memory ports).
        const stored = new Map(batches.flatMap((b) => b.records).map((r) => [r.offset, text(r.value)]))
        expect([1n, 51n, 101n].map((o) => stored.get(o))).toEqual(codecs.map((c) => `${c}-1-${"payload".repeat(8)}`))
        const all = yield* kcat(broker.bootstrap, ["-C", "-t", "zipped", "-o", "beginning", "-e", "-f", "%o %s\\n"])
        const rows = all.stdout.trim().split("\n")
        expect(rows.length).toBe(150)
        expect(rows[0]).toBe(`0 snappy-0-${"payload".repeat(8)}`)
        expect(rows[50]).toBe(`50 lz4-0-${"payload".repeat(8)}`)
        expect(rows[149]).toBe(`149 gzip-49-${"payload".repeat(8)}`)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    20_000,
  )

  it.live(
    "librdkafka rides over injected faults: a closed connection on Fetch, NOT_LEADER on ListOffsets",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker
        yield* control.createTopic("bumpy", 1)
        yield* control.produce("bumpy", 0, ["x", "y", "z"].map((value) => ({ value })))
        yield* control.failNext("Fetch", 1, { _tag: "Network" })
        yield* control.failNext("ListOffsets", 1, { _tag: "ErrorCode", code: ErrorCode.NOT_LEADER_OR_FOLLOWER })
        // -E: kcat otherwise exits when its only broker connection drops, which is the fault here.
        const out = yield* kcat(broker.bootstrap, ["-C", "-E", "-t", "bumpy", "-o", "beginning", "-e", "-f", "%o %s\\n"])
        expect(out.stderr).toContain("Disconnected")
        expect(out.code).toBe(0)
        expect(out.stdout.trim().split("\n")).toEqual(["0 x", "1 y", "2 z"])
        const log = yield* control.requests
        expect(log.filter((e) => e.outcome === "fault").map((e) => e.api).sort()).toEqual(["Fetch", "ListOffsets"])
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    20_000,
  )
})
