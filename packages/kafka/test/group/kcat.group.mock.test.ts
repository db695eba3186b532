/**
 * A consumer of ours and librdkafka's own consumer (kcat in balanced-consumer mode, -G) in one group
 * on librdkafka's mock cluster, eager ("range", which both offer first) and cooperative
 * ("cooperative-sticky", our assignor as leader): ours starts alone, kcat joins and they split the
 * partitions (eager: ours gave up all four first; cooperative: only the two that moved), kcat
 * leaves, ours takes over; every record is delivered.
 */
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { layer } from "@effect/vitest"
import { Assignor, Consumer, GroupConsumer } from "@kafka-effect/core"
import { Chunk, type Duration, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { expect } from "vitest"
import * as GroupCoordinatorLive from "../../src/group/GroupCoordinatorLive.js"
import * as MockCluster from "../harness/MockCluster.js"
import * as MockTestBroker from "../harness/MockTestBroker.js"
import * as Producer from "../harness/Producer.js"
import * as Wait from "../harness/Wait.js"

const GROUP = "grp-kcat"
const PARTITIONS = 4

const eventually = (what: string | (() => string), check: () => boolean, within: Duration.DurationInput = "40 seconds") =>
  Wait.until(what, check, within, "100 millis")

const testLayer = Layer.mergeAll(MockTestBroker.layer(1), NodeContext.layer)

const cases = [
  { strategy: "range,roundrobin", assignors: undefined, protocol: "range", group: GROUP },
  { strategy: "cooperative-sticky", assignors: [Assignor.cooperativeSticky], protocol: "cooperative-sticky", group: `${GROUP}-coop` },
] as const

layer(testLayer, { excludeTestServices: true, timeout: "90 seconds" })("a group shared with librdkafka's consumer (kcat -G)", (it) => {
  it.scoped.each(cases)(
    "ours and kcat ($protocol) split four partitions; kcat leaves; ours takes over; every record delivered",
    ({ strategy, assignors, protocol, group: GROUP }) =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const producer = yield* Producer.Producer
        const TOPIC = `kc-${protocol}`
        yield* mock.createTopic(TOPIC, PARTITIONS)
        const produce = (round: string) =>
          Effect.forEach(Array.from({ length: PARTITIONS }, (_, p) => p), (p) =>
            producer.send(TOPIC, p, Array.from({ length: 5 }, (_, i) => ({ value: `${round}-${p}-${i}` }))),
          )
        yield* produce("a")
        const seen: Array<{ who: string; partition: number; offset: bigint }> = []

        // Ours, with its own coordinator connection.
        const scope = yield* Scope.make()
        const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } }).pipe(Scope.extend(scope))
        const coordinator = yield* Layer.buildWithScope(GroupCoordinatorLive.layer({ brokers: mock.brokers }), scope).pipe(Effect.orDie)
        const revokes: Array<number> = []
        const sub = yield* GroupConsumer.subscribe(consumer, [TOPIC], {
          groupId: GROUP,
          listener: { onRevoked: (tps) => Effect.sync(() => revokes.push(tps.length)) },
          sessionTimeout: "6 seconds",
          heartbeatInterval: "300 millis",
          autoCommitInterval: "300 millis",
          ...(assignors === undefined ? {} : { assignors }),
        }).pipe(Scope.extend(scope), Effect.provide(coordinator))
        const fiber = yield* sub.chunks.pipe(
          Stream.runForEach((chunk) =>
            Effect.gen(function* () {
              for (const r of chunk) seen.push({ who: "ours", partition: r.partition, offset: r.offset })
              yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
            }),
          ),
          Effect.forkDaemon,
        )

        const allDelivered = (upTo: number) =>
          Array.from({ length: PARTITIONS }, (_, p) => p).every((p) => {
            const offsets = new Set(seen.filter((s) => s.partition === p).map((s) => s.offset))
            for (let o = 0; o < upTo; o++) if (!offsets.has(BigInt(o))) return false
            return true
          })
        yield* eventually("first round delivered", () => allDelivered(5))
        // Ours alone owned everything and delivered the first round; now librdkafka's consumer joins.
        expect(seen.every((x) => x.who === "ours")).toBe(true)
        // kcat: librdkafka's high-level consumer, printing "partition offset" per record.
        const kcatScope = yield* Scope.make()
        const kcat = yield* Command.start(
          Command.make(
            "kcat", "-b", mock.bootstrap, "-G", GROUP, "-o", "beginning", "-q", "-u", "-f", "%p %o\\n",
            "-X", `partition.assignment.strategy=${strategy}`,
            "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=300", "-X", "auto.commit.interval.ms=300",
            TOPIC,
          ),
        ).pipe(Scope.extend(kcatScope))
        yield* kcat.stdout.pipe(
          Stream.decodeText(),
          Stream.splitLines,
          Stream.runForEach((line) =>
            Effect.sync(() => {
              const [p, o] = line.trim().split(" ")
              if (p !== undefined && o !== undefined) seen.push({ who: "kcat", partition: Number(p), offset: BigInt(o) })
            }),
          ),
          Effect.forkDaemon,
        )


        // A stable split: ours holds two partitions in a generation kcat shares.
        let split = 0
        const deadline = Date.now() + 40_000
        while (Date.now() < deadline) {
          const s = yield* sub.membership.state
          if (s._tag === "Stable" && s.assignment.length === 2) {
            split = s.assignment.length
            expect(s.protocol).toBe(protocol)
            break
          }
          yield* Effect.sleep("200 millis")
        }
        expect(split).toBe(2)
        // Eager (range) gave up all four before rejoining; cooperative only the two that moved.
        expect(revokes[0]).toBe(protocol === "range" ? 4 : 2)
        yield* produce("b")
        yield* eventually("second round delivered by both", () => allDelivered(10))
        const second = seen.filter((s) => s.offset >= 5n)
        expect(new Set(second.map((s) => s.who))).toEqual(new Set(["ours", "kcat"]))

        // kcat leaves (SIGTERM: librdkafka closes the consumer and leaves the group).
        yield* kcat.kill("SIGTERM")
        yield* Scope.close(kcatScope, Exit.void)
        const deadline2 = Date.now() + 40_000
        let all = 0
        while (Date.now() < deadline2) {
          const s = yield* sub.membership.state
          if (s._tag === "Stable" && s.assignment.length === PARTITIONS) {
            all = s.assignment.length
            break
          }
          yield* Effect.sleep("200 millis")
        }
        expect(all).toBe(PARTITIONS)
        yield* produce("c")
        yield* eventually("third round delivered by ours", () => allDelivered(15))
        expect(seen.filter((s) => s.offset >= 10n).every((s) => s.who === "ours")).toBe(true)
        yield* Fiber.interrupt(fiber)
        yield* Scope.close(scope, Exit.void)
      }),
    90_000,
  )
})
