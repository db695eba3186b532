/**
 * examples/otel.ts and examples/schema-dead-letter.ts as child processes, the way a user runs them
 * (KAFKA_BROKERS in the environment), against the embedded broker reached only over TCP.
 */
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Effect } from "effect"
import { root, runToEnd } from "./harness/ChildProcess.js"

const run = (name: string, brokers: string, ...args: ReadonlyArray<string>) =>
  runToEnd(
    Command.make(process.execPath, "--import", "tsx", `examples/${name}.ts`, ...args).pipe(
      Command.workingDirectory(root),
      Command.env({ KAFKA_BROKERS: brokers }),
    ),
  ).pipe(
    Effect.map(({ exitCode, stdout, stderr }) => ({ exitCode, stdout, stderr: stderr.join("\n") })),
    Effect.provide(NodeContext.layer),
  )

describe("examples: OpenTelemetry, Schema values with a dead-letter topic", () => {
  it.scopedLive(
    "otel: every order is processed in the checkout's trace; the console exporters print the spans and the metrics",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        yield* (yield* TestBroker.TestBroker).createTopic("orders", 1)
        const out = yield* run("otel", broker.bootstrap, "orders")
        expect(out.exitCode, out.stderr).toBe(0)
        const checkout = out.stdout.find((l) => l.startsWith("checkout trace "))?.slice("checkout trace ".length)
        expect(checkout).toMatch(/^[0-9a-f]{32}$/)
        expect(out.stdout.filter((l) => l.startsWith("processed order"))).toEqual(
          [1, 2, 3].map((id) => `processed order ${id} in trace ${checkout}`),
        )
        expect(out.stdout).toContain("messaging.client.consumed.messages{orders} = 3")
        // The SDK's console exporters: the spans as they end, the metrics when the layer closes.
        const printed = out.stdout.join("\n")
        for (const name of ["'Producer.send'", "'process orders'", "'checkout'"]) {
          expect(printed).toContain(`name: ${name}`)
        }
        expect(printed).toContain("messaging.client.consumed.messages")
      }).pipe(Effect.provide(EmbeddedBroker.layer({ autoCreateTopics: true }))),
    // a child process with tsx's loader on a shared 2-core machine: nothing here is timed
    120_000,
  )

  it.scopedLive("schema-dead-letter: the good orders are printed, the bad one is read back from the dead-letter topic", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const control = yield* TestBroker.TestBroker
      yield* control.createTopic("orders", 1)
      yield* control.createTopic("orders.dead-letter", 1)
      const out = yield* run("schema-dead-letter", broker.bootstrap, "orders")
      expect(out.exitCode, out.stderr).toBe(0)
      expect(out.stdout.filter((l) => /^(order|dead letter) /.test(l))).toEqual([
        "order 1: tea (orders-0@0)",
        "order 3: cake (orders-0@2)",
        "dead letter broken={id: 2 from orders-0@1",
      ])
    }).pipe(Effect.provide(EmbeddedBroker.layer())),
    120_000,
  )
})
