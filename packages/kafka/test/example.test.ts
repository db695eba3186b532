/**
 * The README's example (demo/example.ts) as a child process against the embedded broker, reached
 * only over TCP: a group member prints records and commits what it printed; a second run of the same
 * group starts where the first one's commit left off.
 */
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Effect } from "effect"
import { root, runToEnd, tsx } from "./harness/ChildProcess.js"

const example = (bootstrap: string, ...args: ReadonlyArray<string>) =>
  runToEnd(
    Command.make(tsx, "demo/example.ts", ...args).pipe(Command.workingDirectory(root), Command.env({ KAFKA_BROKERS: bootstrap })),
  ).pipe(
    // stdout also carries the group's INFO logs (joined, assigned, left): keep the record lines
    Effect.map(({ exitCode, stdout, stderr }) => ({
      exitCode,
      records: stdout.filter((l) => /^orders-\d+@\d+ /.test(l)),
      stderr: stderr.join("\n"),
    })),
    Effect.provide(NodeContext.layer),
  )

describe("README example (demo/example.ts)", () => {
  it.scopedLive(
    "prints records as a group member and commits them: a second run of the group gets exactly the rest",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker.TestBroker
        yield* control.createTopic("orders", 2)
        for (const partition of [0, 1]) {
          yield* control.produce("orders", partition, [0, 1, 2].map((i) => ({ value: `order ${partition}.${i}` })))
        }
        const first = yield* example(broker.bootstrap, "orders", "billing", "4")
        expect(first.exitCode, first.stderr).toBe(0)
        expect(first.records).toHaveLength(4)
        const second = yield* example(broker.bootstrap, "orders", "billing", "2")
        expect(second.exitCode, second.stderr).toBe(0)
        expect(second.records).toHaveLength(2)
        const all = [...first.records, ...second.records].sort()
        expect(all).toEqual([
          "orders-0@0 order 0.0",
          "orders-0@1 order 0.1",
          "orders-0@2 order 0.2",
          "orders-1@0 order 1.0",
          "orders-1@1 order 1.1",
          "orders-1@2 order 1.2",
        ])
      }).pipe(Effect.provide(EmbeddedBroker.layer({ brokers: 1 }))),
    60_000,
  )
})
