/**
 * The soak against real Apache Kafka: three nodes (each broker and controller), a topic with
 * replication factor 3 and min.insync.replicas 2, members in child processes behind a
 * `FaultProxy`. The kind adds a broker SIGKILLed and restarted later; leaders move when a leader
 * dies and again when Kafka's automatic preferred-leader election (every 5 s here) gives the
 * restarted node its partitions back. A node is killed only while every replica is in sync.
 *
 * With `--bootstrap` it runs against a cluster that is already up (the test suite's shared node):
 * no broker kills (its processes are not ours), replication as many as it has nodes (up to 3), a
 * topic and group of the run's own, and Kafka's default minimum session timeout (6 s).
 */
import { ApacheKafka, FaultProxy } from "@kafka-effect/testkit"
import { Effect, Fiber } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { logLayer, type Runner } from "./Soak.js"
import * as Wire from "./wire.js"

const PARTITIONS = 4

const clusterConfig = {
  // A dead broker is fenced (its leaderships moved) once its controller session expires.
  "broker.session.timeout.ms": "3000",
  "broker.heartbeat.interval.ms": "500",
  "replica.lag.time.max.ms": "5000",
  "offsets.topic.num.partitions": "1",
  "group.min.session.timeout.ms": "1000",
  "auto.leader.rebalance.enable": "true",
  "leader.imbalance.check.interval.seconds": "5",
  "leader.imbalance.per.broker.percentage": "0",
}

export const run: Runner = (options, ledger, prng) => {
  const started = Date.now()
  const program = Effect.gen(function* () {
    const given = options.bootstrap
    const cluster = given === undefined ? yield* ApacheKafka.make({ nodes: 3, config: clusterConfig }) : undefined
    const brokers = cluster?.brokers ?? given ?? []
    if (cluster !== undefined) {
      process.stderr.write(`soak: kafka: three nodes up at ${cluster.bootstrap} after ${Math.round((Date.now() - started) / 1000)} s\n`)
    }
    // A shared cluster may hold earlier runs of the same seed: this run's names are its own.
    const suffix = cluster === undefined ? `-${Date.now().toString(36)}` : ""
    const topic = `soak-${options.seed}${suffix}`
    const group = `soak-group${suffix}`
    const kafka = new Kafka({ brokers: [...brokers], clientId: "soak-admin", logLevel: logLevel.NOTHING, retry: { retries: 5 } })
    const admin = kafka.admin()
    yield* Effect.acquireRelease(Effect.promise(() => admin.connect()), () => Effect.promise(() => admin.disconnect()))
    const call = <A>(what: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (e) => new Error(`${what}: ${String(e)}`) }).pipe(Effect.timeout("15 seconds"))
    const nodes = cluster === undefined ? (yield* call("describeCluster", () => admin.describeCluster())).brokers.length : 3
    const replicas = Math.min(3, nodes)
    if (cluster === undefined) process.stderr.write(`soak: kafka: the cluster at ${brokers.join(",")} has ${nodes} node(s); no broker kills\n`)
    yield* call("createTopics", () =>
      admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: PARTITIONS,
            replicationFactor: replicas,
            configEntries: [{ name: "min.insync.replicas", value: replicas === 3 ? "2" : "1" }],
          },
        ],
        waitForLeaders: true,
      }),
    )
    // Every partition has a committed offset from the start (see memory.ts).
    yield* call("setOffsets", () =>
      admin.setOffsets({ groupId: group, topic, partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, offset: "0" })) }),
    )
    const proxy = yield* FaultProxy.make({ upstream: brokers })
    const target: Omit<Wire.Target, "sessionTimeoutMs" | "extraFaults" | "heal"> = {
      broker: "kafka",
      topic,
      group,
      partitions: PARTITIONS,
      brokers,
      proxy,
      logStartAndEnd: (p) =>
        call("fetchTopicOffsets", () => admin.fetchTopicOffsets(topic)).pipe(
          Effect.map((offsets) => {
            const o = offsets.find((x) => x.partition === p)
            return { logStart: Number(o?.low ?? 0), end: Number(o?.high ?? 0) }
          }),
        ),
      deleteRecords: (p, before) =>
        call("deleteTopicRecords", () => admin.deleteTopicRecords({ topic, partitions: [{ partition: p, offset: String(before) }] })),
      committed: call("fetchOffsets", () => admin.fetchOffsets({ groupId: group, topics: [topic] })).pipe(
        Effect.map((topics) =>
          (topics[0]?.partitions ?? []).flatMap((p) => (Number(p.offset) >= 0 ? [{ partition: p.partition, offset: Number(p.offset) }] : [])),
        ),
      ),
      pollCommits: true,
    }
    if (cluster === undefined) {
      // Not ours to kill: proxy faults, member kills and joins, slow members, DeleteRecords.
      return yield* Wire.run({ ...target, sessionTimeoutMs: 6000, extraFaults: [], heal: Effect.void }, options, ledger, prng)
    }

    const restarts: Array<Fiber.RuntimeFiber<void, unknown>> = []
    const down = () => cluster.nodeIds.filter((id) => !cluster.isRunning(id))
    const brokerKill = Effect.gen(function* () {
      const dead = down()
      if (dead.length > 0) {
        // One node down at a time (min.insync.replicas 2 of 3): bring it back instead.
        for (const id of dead) yield* cluster.restart(id)
        return
      }
      // Only with every replica in sync: a second node lost while the first catches up takes
      // partitions offline until one returns (no unclean elections), a double fault.
      const metadata = yield* call("fetchTopicMetadata", () => admin.fetchTopicMetadata({ topics: [topic] }))
      if (!(metadata.topics[0]?.partitions ?? []).every((p) => p.isr.length === 3)) return
      const victim = prng.pick(cluster.nodeIds)
      yield* cluster.kill(victim)
      const back = Effect.suspend(() => (cluster.isRunning(victim) ? Effect.void : cluster.restart(victim)))
      restarts.push(yield* Effect.fork(Effect.ignore(Effect.zipRight(Effect.sleep(`${prng.int(3000, 12_000)} millis`), back))))
    })
    const heal = Effect.gen(function* () {
      for (const f of restarts) yield* Fiber.interrupt(f)
      for (const id of down()) yield* cluster.restart(id)
    })

    yield* Wire.run(
      { ...target, sessionTimeoutMs: 4000, extraFaults: [{ name: "brokerKill", weight: 1, run: brokerKill }], heal },
      options,
      ledger,
      prng,
    )
  })
  return Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(logLayer(options.verbose)))).then(() => ({
    seconds: (Date.now() - started) / 1000,
  }))
}
