/**
 * `pnpm bench --quick` in its smallest configuration, as a child process against the embedded
 * broker: the harness itself works (every peer delivered every record, or the bench exits non-zero),
 * and latest.json has the documented shape. No timing is asserted: speed is what the bench reports.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { root, runToEnd } from "./harness/ChildProcess.js"

const peers = ["kafkajs-eachBatch", "kafkajs-eachMessage", "platformatic", "kafka-effect-chunks", "kafka-effect-records", "kcat"]

describe("pnpm bench --quick", () => {
  it.live(
    "embedded broker, smallest data set: all six peers checked on every record; latest.json { broker: { dataset: { peer: { recordsPerSec, cpuUsPerRecord, peakRssMb, brokerCpuUsPerRecord } } } }, a chart, the out-of-range probe back at offset 0",
    () =>
      Effect.gen(function* () {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "bench-test-"))
        const run = yield* runToEnd(
          Command.make(process.execPath, "--import", "tsx", "bench/run.ts", "--quick", "--broker", "embedded", "--scale", "0.01", "--out", out).pipe(
            Command.workingDirectory(root),
          ),
        )
        expect(run.exitCode, run.stderr.join("\n")).toBe(0)
        // One line per peer run, each after its count and checksums were checked.
        expect(run.stderr.filter((l) => /^ {2}round 1 embedded\/value100 /.test(l)).map((l) => l.trim().split(" ")[3]!.replace(/:$/, ""))).toEqual(
          peers,
        )
        const json = JSON.parse(fs.readFileSync(path.join(out, "latest.json"), "utf8")) as Record<string, Record<string, Record<string, Record<string, unknown>>>>
        expect(Object.keys(json)).toEqual(["embedded"])
        expect(Object.keys(json.embedded!)).toEqual(["value100"])
        const rows = json.embedded!.value100!
        expect(Object.keys(rows).sort()).toEqual([...peers].sort())
        for (const peer of peers) {
          const row = rows[peer]!
          for (const field of ["recordsPerSec", "cpuUsPerRecord", "peakRssMb"]) expect(typeof row[field], `${peer}.${field}`).toBe("number")
          expect(row.recordsPerSec as number, peer).toBeGreaterThan(0)
          expect(row.peakRssMb as number, peer).toBeGreaterThan(0)
          // kcat's CPU comes from GNU time in 10 ms steps: 0 for a few hundred records.
          expect(row.cpuUsPerRecord as number, peer).toBeGreaterThanOrEqual(0)
          // The embedded broker's own CPU over each peer's run (its process.cpuUsage, in µs steps).
          expect(row.brokerCpuUsPerRecord as number, `${peer}.brokerCpuUsPerRecord`).toBeGreaterThan(0)
        }
        expect(rows["kafka-effect-chunks"]!.outOfRange).toMatchObject({ nextOffset: 0, listOffsets: 2 })
        expect(rows["kafka-effect-chunks"]!.brokerIdleShare).toBeGreaterThanOrEqual(0)
        expect(fs.readFileSync(path.join(out, "chart.svg"), "utf8")).toMatch(/^<svg [^>]*>[\s\S]*kafka-effect-chunks[\s\S]*<\/svg>\n$/)
        expect(run.stdout.join("\n")).toContain("### embedded · value100")
        fs.rmSync(out, { recursive: true, force: true })
      }).pipe(Effect.provide(NodeContext.layer)),
    // Seven processes start in turn (broker, six peers): about 20 s on an idle 2-core machine.
    180_000,
  )
})
