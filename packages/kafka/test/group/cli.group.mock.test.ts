/**
 * `consume --group G` as a child process against librdkafka's mock cluster: it starts each
 * partition at the group's committed offset (else at --from), commits what it printed and leaves.
 */
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { expect } from "vitest"
import { cli, root, runToEnd } from "../harness/ChildProcess.js"
import * as MockCluster from "../harness/MockCluster.js"
import * as Producer from "../harness/Producer.js"


// node with tsx's loader, not the tsx command: a wrapper process whose kill (a timeout) would leave the CLI running.
const run = (args: ReadonlyArray<string>) =>
  runToEnd(Command.make(process.execPath, "--import", "tsx", cli, ...args).pipe(Command.env({ KAFKA_BROKERS: "" }), Command.workingDirectory(root)))

const positions = (lines: ReadonlyArray<string>) =>
  lines.map((l) => {
    const r = JSON.parse(l) as { partition: number; offset: string }
    return `${r.partition}@${r.offset}`
  })

const env = Layer.mergeAll(Producer.layer, NodeContext.layer).pipe(Layer.provideMerge(MockCluster.layer(1)))

layer(env, { excludeTestServices: true, timeout: "90 seconds" })("kafka-effect consume --group against the mock cluster", (it) => {
  it.effect(
    "two runs in one group print every record once: the second starts at what the first committed",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const producer = yield* Producer.Producer
        yield* mock.createTopic("cg", 2)
        for (const p of [0, 1]) yield* producer.send("cg", p, Array.from({ length: 5 }, (_, i) => ({ value: `v${p}-${i}` })))
        const base = ["consume", "--brokers", mock.bootstrap, "--topic", "cg", "--group", "cli-g", "--from", "beginning"]
        const first = yield* run([...base, "--max", "4"])
        expect(first.exitCode).toBe(0)
        expect(first.stdout).toHaveLength(4)
        const second = yield* run([...base, "--max", "6"])
        expect(second.exitCode).toBe(0)
        expect(second.stdout).toHaveLength(6)
        const all = [...positions(first.stdout), ...positions(second.stdout)].sort()
        expect(all).toEqual(["0@0", "0@1", "0@2", "0@3", "0@4", "1@0", "1@1", "1@2", "1@3", "1@4"])
      }),
    90_000,
  )

  it.effect(
    "--from <offset> applies to partitions the group has no offset for; --partitions with --group is a bad argument",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const producer = yield* Producer.Producer
        yield* mock.createTopic("cg2", 2)
        for (const p of [0, 1]) yield* producer.send("cg2", p, Array.from({ length: 5 }, (_, i) => ({ value: `v${p}-${i}` })))
        const out = yield* run(["consume", "--brokers", mock.bootstrap, "--topic", "cg2", "--group", "cli-g2", "--from", "3", "--max", "4"])
        expect(out.exitCode).toBe(0)
        expect(positions(out.stdout).sort()).toEqual(["0@3", "0@4", "1@3", "1@4"])
        const badArgs = yield* run(["consume", "--brokers", mock.bootstrap, "--topic", "cg2", "--group", "g", "--partitions", "0"])
        expect(badArgs.exitCode).toBe(2)
        expect(badArgs.stderr[0]).toContain("--partitions")
      }),
    90_000,
  )
})
