/**
 * `pnpm demo` (the README's first command) as a child process: the root package.json's "demo"
 * script, run the way pnpm runs it (`sh -c` with node_modules/.bin on PATH). By default on the
 * embedded broker it starts itself; with KAFKA_BROKERS against that cluster, here the suite's real
 * Apache Kafka broker (`RealKafka.bootstrap()`).
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { root, runToEnd } from "./harness/ChildProcess.js"
import * as RealKafka from "./harness/RealKafka.js"

const scripts: Readonly<Record<string, string>> = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).scripts

/** Runs `pnpm demo`'s command to its end: exit code, stdout and stderr lines, wall time. */
const demo = (kafkaBrokers: string) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const out = yield* runToEnd(
      Command.make("sh", "-c", scripts.demo!).pipe(
        Command.workingDirectory(root),
        Command.env({ KAFKA_BROKERS: kafkaBrokers, PATH: `${path.join(root, "node_modules/.bin")}:${process.env.PATH ?? ""}` }),
      ),
    )
    return { ...out, ms: (yield* Clock.currentTimeMillis) - started }
  }).pipe(Effect.provide(NodeContext.layer))

/** The lines from the one equal to `title` to the next step title (or the end). */
const section = (lines: ReadonlyArray<string>, title: RegExp) => {
  const start = lines.findIndex((l) => l.startsWith("== ") && title.test(l))
  expect(start, `no step ${title}`).toBeGreaterThanOrEqual(0)
  const end = lines.findIndex((l, i) => i > start && l.startsWith("== "))
  return lines.slice(start + 1, end < 0 ? undefined : end)
}

/** The WARN line and its annotation line, as one string. */
const warning = (lines: ReadonlyArray<string>) => {
  const i = lines.findIndex((l) => l.includes("[WARN]"))
  return i < 0 ? "" : `${lines[i]} ${lines[i + 1] ?? ""}`
}

/** The retention cut of partition 0: the warning with its facts, the event, the records from the new log start. */
const expectRetentionCut = (lines: ReadonlyArray<string>, topic: string) => {
  const cut = section(lines, /retention \(DeleteRecords\)/)
  const warn = warning(cut)
  expect(warn).toContain(`[WARN] Offset out of range, resetting to 8 (${topic}-0: requested 6, log start 8, end 10, skipped 2)`)
  for (const fact of [`topic=${topic}`, "partition=0", "requestedOffset=6", "earliest=8", "latest=10", "newOffset=8", "skipped=2", "policy=nearest"]) {
    expect(warn).toContain(fact)
  }
  expect(cut.filter((l) => l.includes("[WARN]"))).toHaveLength(1)
  expect(cut).toContain(`   event OffsetReset: ${topic}-0 requested 6, log start 8, end 10, now at 8, skipped 2 (nearest)`)
  expect(cut.filter((l) => l.startsWith(`   ${topic}-0@`))).toEqual([`   ${topic}-0@8  k2 = order 0.8`, `   ${topic}-0@9  k0 = order 0.9`])
}

/** The lines giving each partition's log range and the consumer's position. */
const logRanges = (lines: ReadonlyArray<string>) => lines.filter((l) => l.includes(": log [") && l.includes("consumer position"))

const records = (lines: ReadonlyArray<string>, topic: string) => lines.filter((l) => l.startsWith(`   ${topic}-`) && l.includes("@"))

describe("pnpm demo", () => {
  it("the root package.json's demo script runs demo/main.ts", () => {
    expect(scripts.demo).toBe("tsx demo/main.ts")
  })

  it.live(
    "on the embedded broker (default): records, the retention cut with the warning and its facts, the truncation reset, seekToBeginning and seekToEnd over three partitions; exit 0",
    () =>
      Effect.gen(function* () {
        const out = yield* demo("")
        expect(out.exitCode, out.stderr.join("\n")).toBe(0)
        const lines = out.stdout
        expect(lines[0]).toMatch(/^broker: the embedded wire broker, 3 brokers in this process at 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/)

        const first = section(lines, /consume from the beginning/)
        expect(records(first, "orders")).toHaveLength(13)
        expect(first).toContain("   orders-0: log [0, 6)  consumer position 6")

        expectRetentionCut(lines, "orders")

        const truncation = section(lines, /unclean leader election: orders-1 truncated from 4 to 2 records/)
        expect(warning(truncation)).toContain("[WARN] Offset out of range, resetting to 2 (orders-1: requested 4, log start 0, end 2, skipped 0)")
        expect(truncation).toContain("   event OffsetReset: orders-1 requested 4, log start 0, end 2, now at 2, skipped 0 (nearest)")
        expect(records(truncation, "orders")).toEqual(["   orders-1@2  k2 = order 1.2"])
        expect(truncation).toContain("   orders-1: log [0, 3)  consumer position 3")

        const beginning = section(lines, /^== seekToBeginning on all three partitions/)
        // each broker's loop delivers its partitions as they come: the order within a partition holds
        expect(records(beginning, "orders").filter((l) => l.includes(" = ")).sort()).toEqual([
          "   orders-0@8  k2 = order 0.8",
          "   orders-0@9  k0 = order 0.9",
          "   orders-1@0  k0 = order 1.0",
          "   orders-1@1  k1 = order 1.1",
          "   orders-1@2  k2 = order 1.2",
          "   orders-2@0  k0 = order 2.0",
          "   orders-2@1  k1 = order 2.1",
          "   orders-2@2  k2 = order 2.2",
        ])
        // the request log: one ListOffsets per leader (three brokers), then the Fetches
        const trips = beginning.filter((l) => /^ {5}(ListOffsets|Fetch) /.test(l)).map((l) => l.trim().replace(/\s+/g, " "))
        expect(trips.slice(0, 3).sort()).toEqual(["ListOffsets → broker 0 orders-0", "ListOffsets → broker 1 orders-1", "ListOffsets → broker 2 orders-2"])
        expect(trips.slice(3).every((t) => t.startsWith("Fetch → broker "))).toBe(true)
        expect(trips.length).toBeGreaterThan(3)

        const end = section(lines, /seekToEnd on every assigned partition/)
        expect(end).toContain("   positions now 12, 5, 3: the 4 new records lie before them and are not delivered")
        expect(records(end, "orders").filter((l) => l.includes(" = "))).toEqual(["   orders-2@3  k0 = order 2.3"])
        expect(end).toContain("   orders-2: log [0, 4)  consumer position 4")

        expect(lines.at(-1)).toBe("done: no error reached the consumer")
        expect(lines.filter((l) => l.includes("[ERROR]"))).toEqual([])
        expect(lines.filter((l) => l.includes("[WARN]"))).toHaveLength(2)
        expect(out.stderr.filter((l) => l.trim() !== "")).toEqual([])
        console.log(`pnpm demo (embedded broker): ${out.ms} ms`)
      }),
    60_000,
  )

  it.scopedLive(
    "with KAFKA_BROKERS: against the suite's real Apache Kafka over TCP (our Producer, kafkajs admin DeleteRecords, its own topic deleted at the end), truncation skipped with a line; exit 0",
    () =>
      Effect.gen(function* () {
        const bootstrap = RealKafka.bootstrap()
        const out = yield* demo(bootstrap)
        expect(out.exitCode, out.stderr.join("\n")).toBe(0)
        const lines = out.stdout
        const topic = /topic (kafka-effect-demo-[0-9a-z]+) \(3 partitions, created now, deleted at the end\)/.exec(lines[0] ?? "")?.[1]
        expect(topic, lines[0]).toBeDefined()
        expect(lines[0]).toContain(`KAFKA_BROKERS=${bootstrap}`)

        const first = section(lines, /consume from the beginning/)
        expect(records(first, topic!)).toHaveLength(13)
        expect(logRanges(first)).toEqual([
          `   ${topic}-0: log [0, 6)  consumer position 6`,
          `   ${topic}-1: log [0, 4)  consumer position 4`,
          `   ${topic}-2: log [0, 3)  consumer position 3`,
        ])
        expectRetentionCut(lines, topic!)

        const truncation = section(lines, /unclean leader election \(a truncation under the consumer\)/)
        expect(truncation[0]).toBe("   skipped: a truncation cannot be forced on a real cluster (it takes an unclean leader election);")
        expect(truncation.filter((l) => l.includes("[WARN]"))).toEqual([])
        // the broker's own log ranges: only partition 0 was cut
        expect(logRanges(truncation)).toEqual([
          `   ${topic}-0: log [8, 10)  consumer position 10`,
          `   ${topic}-1: log [0, 4)  consumer position 4`,
          `   ${topic}-2: log [0, 3)  consumer position 3`,
        ])

        const beginning = section(lines, /^== seekToBeginning/)
        expect(records(beginning, topic!).filter((l) => l.includes(" = "))).toEqual([
          `   ${topic}-0@8  k2 = order 0.8`,
          `   ${topic}-0@9  k0 = order 0.9`,
          `   ${topic}-1@0  k0 = order 1.0`,
          `   ${topic}-1@1  k1 = order 1.1`,
          `   ${topic}-1@2  k2 = order 1.2`,
          `   ${topic}-1@3  k0 = order 1.3`,
          `   ${topic}-2@0  k0 = order 2.0`,
          `   ${topic}-2@1  k1 = order 2.1`,
          `   ${topic}-2@2  k2 = order 2.2`,
        ])
        // no request log on a real cluster (that is the embedded broker's control API)
        expect(beginning.filter((l) => /^ {5}(ListOffsets|Fetch) /.test(l))).toEqual([])

        const end = section(lines, /seekToEnd on every assigned partition/)
        expect(end).toContain("   positions now 12, 6, 3: the 4 new records lie before them and are not delivered")
        expect(records(end, topic!).filter((l) => l.includes(" = "))).toEqual([`   ${topic}-2@3  k0 = order 2.3`])
        expect(end).toContain(`   ${topic}-2: log [0, 4)  consumer position 4`)

        expect(lines.at(-1)).toBe("done: no error reached the consumer")
        expect(lines.filter((l) => l.includes("[ERROR]") || l.includes("could not delete"))).toEqual([])
        expect(lines.filter((l) => l.includes("[WARN]"))).toHaveLength(1)
        expect(out.stderr.filter((l) => l.trim() !== "")).toEqual([])

        // the broker no longer has the demo's topic
        const admin = new Kafka({ brokers: [...RealKafka.brokers()], logLevel: logLevel.NOTHING }).admin()
        yield* Effect.acquireRelease(
          Effect.promise(() => admin.connect()),
          () => Effect.promise(() => admin.disconnect()),
        )
        expect(yield* Effect.promise(() => admin.listTopics())).not.toContain(topic)
        console.log(`pnpm demo (KAFKA_BROKERS, Apache Kafka ${RealKafka.version()}): ${out.ms} ms`)
      }),
    90_000,
  )
})
