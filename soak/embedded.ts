/**
 * The soak against the embedded wire broker (three listeners over one in-memory model, in this
 * process, on the real clock): members in child processes reach it through a `FaultProxy`; leader
 * moves are the broker's own (`moveLeader`: NOT_LEADER_OR_FOLLOWER from the old leader).
 */
import { TopicPartition } from "@kafka-effect/core"
import { BrokerModel, EmbeddedBroker, FaultProxy, InMemoryCoordinator, TestBroker } from "@kafka-effect/testkit"
import { Effect } from "effect"
import { logLayer, type Runner } from "./Soak.js"
import * as Wire from "./wire.js"

const TOPIC = "soak"
const GROUP = "soak-group"
const PARTITIONS = 4

export const run: Runner = (options, ledger, prng) => {
  const started = Date.now()
  const program = Effect.gen(function* () {
    const embedded = yield* EmbeddedBroker.EmbeddedBroker
    const broker = yield* TestBroker.TestBroker
    const model = yield* BrokerModel.BrokerModel
    const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
    const proxy = yield* FaultProxy.make({ upstream: embedded.brokers })
    const tp = (p: number) => TopicPartition.make(TOPIC, p)
    // Every partition has a committed offset from the start (see memory.ts).
    yield* model.commitOffsets(GROUP, Array.from({ length: PARTITIONS }, (_, p) => ({ ...tp(p), offset: 0n })))
    yield* Wire.run(
      {
        broker: "embedded",
        topic: TOPIC,
        group: GROUP,
        partitions: PARTITIONS,
        brokers: embedded.brokers,
        proxy,
        sessionTimeoutMs: 3000,
        logStartAndEnd: (p) =>
          Effect.map(broker.partitionState(tp(p)), (s) => ({ logStart: Number(s.logStartOffset), end: Number(s.highWatermark) })),
        deleteRecords: (p, before) => broker.deleteRecords(tp(p), BigInt(before)),
        committed: Effect.map(coordinator.commitLog(GROUP), (log) => log.map((e) => ({ partition: e.partition, offset: Number(e.offset) }))),
        pollCommits: false,
        extraFaults: [
          {
            name: "leaderMove",
            weight: 2,
            run: Effect.suspend(() => embedded.moveLeader(tp(prng.int(0, PARTITIONS - 1)), prng.pick(embedded.listeners).nodeId)),
          },
        ],
        heal: Effect.void,
      },
      options,
      ledger,
      prng,
    )
  })
  return Effect.runPromise(
    program.pipe(
      Effect.provide(
        EmbeddedBroker.layer({ brokers: 3, topics: { [TOPIC]: PARTITIONS }, autoCreateTopics: false, group: { minSessionTimeoutMs: 1000 } }),
      ),
      Effect.scoped,
      Effect.provide(logLayer(options.verbose)),
    ),
  ).then(() => ({ seconds: (Date.now() - started) / 1000 }))
}
