/**
 * Failover on a three-node Apache Kafka cluster (each node broker+controller): a topic with
 * replication factor 3 and min.insync.replicas 2; kafkajs's idempotent producer with acks=all keeps
 * writing numbered records and notes which were acknowledged; our consumer (core `Consumer` over
 * `KafkaClient`, manual assignment) consumes; the leader of a partition being consumed is killed
 * with SIGKILL mid-stream. The consumer follows the new leader (metadata before and after shows
 * the change). Then the killed node is started again and Kafka's leader-election tool makes it
 * lead that partition again, so the live leader the consumer fetches from stops leading. Through
 * both changes every acknowledged record is delivered, in order per partition, none twice.
 */
import { NodeContext } from "@effect/platform-node"
import { layer } from "@effect/vitest"
import { Consumer, GroupConsumer, GroupCoordinator, TopicPartition } from "@kafka-effect/core"
import { ApacheKafka } from "@kafka-effect/testkit"
import { Chunk, Context, type Duration, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { expect } from "vitest"
import * as KafkaClient from "../src/KafkaClient.js"
import * as GroupCoordinatorLive from "../src/group/GroupCoordinatorLive.js"
import * as KafkaTools from "./harness/KafkaTools.js"
import * as Wait from "./harness/Wait.js"

const PARTITIONS = 3

/**
 * A dead broker is fenced (its leaderships moved, the ISRs shrunk) once its controller session
 * expires: a short session keeps the test short.
 */
const cluster = ApacheKafka.layer({
  nodes: 3,
  config: {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "5000",
    "offsets.topic.num.partitions": "1",
  },
})

/** Polls `check` every 100ms (real time) until it holds, or dies after `within` saying what it waited for. */
const eventually = (what: string | (() => string), check: () => boolean, within: Duration.DurationInput = "60 seconds") =>
  Wait.until(what, check, within, "100 millis")

/** A topic with replication factor 3 and min.insync.replicas 2, and an idempotent acks=all producer for it. */
const replicatedTopic = (kafkaCluster: ApacheKafka.Cluster, topic: string, clientId: string) =>
  Effect.gen(function* () {
    const kafka = new Kafka({
      brokers: [...kafkaCluster.brokers],
      clientId,
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
    })
    const admin = kafka.admin()
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
    yield* Effect.acquireRelease(
      Effect.promise(() => Promise.all([admin.connect(), producer.connect()])),
      () => Effect.promise(() => Promise.all([admin.disconnect(), producer.disconnect()])),
    )
    yield* Effect.promise(() =>
      admin.createTopics({
        topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: "min.insync.replicas", value: "2" }] }],
        waitForLeaders: true,
      }),
    )
    return { admin, producer }
  })

layer(Layer.merge(cluster, NodeContext.layer), { excludeTestServices: true, timeout: "180 seconds" })("failover on a three-node Apache Kafka cluster", (it) => {
  it.scoped(
    "the leader of a consumed partition is killed (SIGKILL), later elected again; the consumer follows both moves; every acked record delivered, in order, none twice",
    () =>
      Effect.gen(function* () {
        const kafkaCluster = yield* ApacheKafka.ApacheKafka
        const topic = `failover-${Date.now().toString(36)}`
        const { admin, producer } = yield* replicatedTopic(kafkaCluster, topic, "failover-test")
        const leaders = () =>
          Effect.promise(() => admin.fetchTopicMetadata({ topics: [topic] })).pipe(
            Effect.map((m) => new Map(m.topics[0]!.partitions.map((p) => [p.partitionId, p.leader]))),
          )

        // The producer: one record per partition per send, numbered per partition; acknowledged ones noted.
        const acked = Array.from({ length: PARTITIONS }, () => new Set<number>())
        const failedSends: Array<string> = []
        let sequence = 0
        // 0: before the kill, 1: after it, 2: after the preferred leader was elected again.
        let phase = 0
        const ackedIn = [0, 1, 2].map(() => Array.from({ length: PARTITIONS }, () => 0))
        // One partition per send: kafkajs 2.2.4 resolves a send over several leaders without
        // resending a partition whose leadership moved to a broker that had already answered for
        // another partition of the same send (its retry skips brokers with a response), so such a
        // record is acknowledged and never written.
        const produceLoop = Effect.gen(function* () {
          while (true) {
            const n = sequence++
            for (let p = 0; p < PARTITIONS; p++) {
              const result = yield* Effect.either(
                Effect.tryPromise(() => producer.send({ topic, acks: -1, timeout: 10_000, messages: [{ partition: p, value: `${p}:${n}` }] })),
              )
              if (result._tag === "Right") {
                acked[p]!.add(n)
                ackedIn[phase]![p]!++
              } else {
                failedSends.push(`${p}:${n}: ${String(result.left.cause)}`)
              }
            }
            yield* Effect.sleep("20 millis")
          }
        })

        // Our consumer: all partitions by hand, from the beginning.
        const delivered = Array.from({ length: PARTITIONS }, () => [] as Array<{ offset: bigint; n: number }>)
        const client = KafkaClient.layer({ brokers: kafkaCluster.brokers, clientId: "failover-consumer", requestTimeout: "10 seconds" })
        const consumerFiber = yield* Effect.gen(function* () {
          const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "200 millis" } })
          yield* consumer.assign(Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(topic, p)))
          yield* consumer.records.pipe(
            Stream.runForEach((r) =>
              Effect.sync(() => {
                const value = new TextDecoder().decode(r.value ?? new Uint8Array())
                delivered[r.partition]!.push({ offset: r.offset, n: Number(value.split(":")[1]) })
              }),
            ),
          )
        }).pipe(Effect.scoped, Effect.provide(Layer.orDie(client)), Effect.forkScoped)

        const producerFiber = yield* Effect.forkScoped(produceLoop)
        const deliveredAll = (p: number, upTo: ReadonlySet<number> = acked[p]!) => {
          const got = new Set(delivered[p]!.map((d) => d.n))
          for (const n of upTo) if (!got.has(n)) return false
          return true
        }
        /** Every record in the log now, read by a fresh consumer: which offset holds which number. */
        const readLog = Effect.gen(function* () {
          const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "200 millis" } })
          const tps = Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(topic, p))
          yield* consumer.assign(tps)
          yield* consumer.seekToEnd()
          const ends = yield* Effect.forEach(tps, (tp) => consumer.position(tp))
          yield* consumer.seekToBeginning()
          const log = tps.map(() => new Map<number, bigint>())
          yield* consumer.records.pipe(
            Stream.tap((r) => Effect.sync(() => log[r.partition]!.set(Number(new TextDecoder().decode(r.value ?? new Uint8Array()).split(":")[1]), r.offset))),
            Stream.takeUntil(() => log.every((l, p) => [...l.values()].some((o) => o === ends[p]! - 1n))),
            Stream.runDrain,
          )
          return log
        }).pipe(Effect.scoped, Effect.provide(Layer.orDie(KafkaClient.layer({ brokers: kafkaCluster.brokers, clientId: "failover-check" }))), Effect.timeout("30 seconds"), Effect.orDie)

        /**
         * Waits until every record acknowledged so far is delivered (the producer may go on). When
         * that does not happen, says which records are missing and whether the log holds them.
         */
        const deliveredSoFar = (what: string) =>
          Effect.gen(function* () {
            const snapshot = acked.map((a) => new Set(a))
            const ok = yield* eventually(() => what, () => snapshot.every((s, p) => deliveredAll(p, s)), "40 seconds").pipe(
              Effect.as(true),
              Effect.catchAllDefect(() => Effect.succeed(false)),
            )
            if (ok) return
            const log = yield* readLog
            const report = snapshot.flatMap((s, p) => {
              const got = new Set(delivered[p]!.map((d) => d.n))
              const missing = [...s].filter((n) => !got.has(n)).slice(0, 5)
              return missing.map((n) => {
                const at = log[p]!.get(n)
                const i = delivered[p]!.findIndex((d) => d.n > n)
                const around = delivered[p]!.slice(Math.max(0, i - 2), i + 2).map((d) => `${d.n}@${d.offset}`)
                return `partition ${p}: acked record ${n} not delivered; in the log: ${at === undefined ? "no" : `at offset ${at}`}; delivered around it: ${around.join(" ")}`
              })
            })
            return yield* Effect.dieMessage(`${what}: ${state()}\n${report.join("\n")}`)
          })
        const state = () =>
          `acked ${acked.map((a) => a.size)}, acked per phase ${JSON.stringify(ackedIn)}, delivered ${delivered.map((d) => d.length)}, failed sends ${failedSends.length}: ${failedSends.slice(-3).join("; ")}`
        yield* eventually(() => `records flowing: ${state()}`, () => delivered.every((d) => d.length >= 50))

        // Kill the leader of partition 0 while records flow.
        const before = yield* leaders()
        const victim = before.get(0)!
        yield* kafkaCluster.kill(victim)
        phase = 1

        // A new leader, on a live node.
        let after = before
        yield* Effect.gen(function* () {
          const deadline = Date.now() + 30_000
          while (Date.now() < deadline) {
            after = yield* leaders().pipe(Effect.timeout("5 seconds"), Effect.orElseSucceed(() => before))
            const l = after.get(0)
            if (l !== undefined && l !== victim && l >= 0) return
            yield* Effect.sleep("200 millis")
          }
          return yield* Effect.dieMessage(`partition 0 still led by ${after.get(0)} 30s after its leader ${victim} was killed`)
        })
        expect(after.get(0)).not.toBe(victim)
        expect(kafkaCluster.nodeIds.filter((id) => id !== victim)).toContain(after.get(0))
        for (const [, l] of after) expect(l).not.toBe(victim)

        // Writes go on through the new leaders; the consumer follows them.
        yield* eventually(() => `acked after the kill: ${state()}`, () => ackedIn[1]!.every((n) => n >= 50))
        yield* deliveredSoFar("delivered after the kill")

        // The killed node comes back, catches up, and Kafka's leader-election tool makes it lead
        // partition 0 again: the live leader the consumer fetches from stops leading (NOT_LEADER_OR_FOLLOWER).
        yield* kafkaCluster.restart(victim)
        yield* Effect.gen(function* () {
          const deadline = Date.now() + 60_000
          while (Date.now() < deadline) {
            const m = yield* Effect.promise(() => admin.fetchTopicMetadata({ topics: [topic] }))
            if (m.topics[0]!.partitions.find((x) => x.partitionId === 0)?.isr.includes(victim)) return
            yield* Effect.sleep("200 millis")
          }
          return yield* Effect.dieMessage(`node ${victim} not back in partition 0's ISR within 60s`)
        })
        yield* KafkaTools.electPreferredLeader({ bootstrap: kafkaCluster.bootstrap, version: kafkaCluster.version, topic, partition: 0 })
        phase = 2
        const elected = yield* leaders()
        expect([after.get(0), elected.get(0)]).toEqual([after.get(0), victim])
        yield* eventually(() => `acked after the election: ${state()}`, () => ackedIn[2]!.every((n) => n >= 50))
        yield* Fiber.interrupt(producerFiber)
        yield* deliveredSoFar("every acked record delivered")
        yield* Fiber.interrupt(consumerFiber)

        for (let p = 0; p < PARTITIONS; p++) {
          const d = delivered[p]!
          // In offset order, none twice; numbered records in the order they were produced.
          for (let i = 1; i < d.length; i++) {
            expect(d[i]!.offset > d[i - 1]!.offset, `partition ${p}: offset ${d[i]!.offset} after ${d[i - 1]!.offset}`).toBe(true)
            expect(d[i]!.n > d[i - 1]!.n, `partition ${p}: record ${d[i]!.n} after ${d[i - 1]!.n}`).toBe(true)
          }
          expect(deliveredAll(p), `partition ${p}: every acknowledged record delivered`).toBe(true)
        }
        // Killed mid-stream: records of partition 0 were acknowledged (and delivered) in every phase.
        expect(ackedIn.map((a) => a[0]! > 0)).toEqual([true, true, true])
        yield* Effect.log(`failover: ${state()}; leaders of partitions 0..2 before ${[...before]}, after the kill ${[...after]}, after the election ${[...elected]}`)
      }),
    180_000,
  )

  it.scoped(
    "the group coordinator is killed (SIGKILL): two of ours find the new coordinator, go on consuming and committing; nothing lost",
    () =>
      Effect.gen(function* () {
        const kafkaCluster = yield* ApacheKafka.ApacheKafka
        // The previous test may have left a node down.
        for (const id of kafkaCluster.nodeIds) if (!kafkaCluster.isRunning(id)) yield* kafkaCluster.restart(id)
        const topic = `coordinator-${Date.now().toString(36)}`
        const group = `${topic}-group`
        const { producer } = yield* replicatedTopic(kafkaCluster, topic, "coordinator-test")
        const acked = Array.from({ length: PARTITIONS }, () => new Set<number>())
        // One partition per send (see the test above).
        const produce = (from: number, count: number) =>
          Effect.forEach(
            Array.from({ length: count }, (_, i) => from + i),
            (n) =>
              Effect.forEach(Array.from({ length: PARTITIONS }, (_, p) => p), (p) =>
                Effect.tryPromise(() => producer.send({ topic, acks: -1, timeout: 10_000, messages: [{ partition: p, value: `${p}:${n}` }] })).pipe(
                  Effect.tap(() => Effect.sync(() => acked[p]!.add(n))),
                  Effect.ignore,
                ),
              ),
            { discard: true },
          )

        const seen: Array<{ who: string; partition: number; n: number; generation: number }> = []
        const options = { brokers: kafkaCluster.brokers, requestTimeout: "10 seconds" } as const
        const member = (who: string) =>
          Effect.gen(function* () {
            const scope = yield* Scope.make()
            const ctx = yield* Layer.buildWithScope(
              Layer.merge(KafkaClient.layer({ ...options, clientId: who }), GroupCoordinatorLive.layer({ ...options, clientId: who })),
              scope,
            ).pipe(Effect.orDie)
            const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "200 millis" } }).pipe(
              Scope.extend(scope),
              Effect.provide(ctx),
              Effect.orDie,
            )
            const sub = yield* GroupConsumer.subscribe(consumer, [topic], {
              groupId: group,
              sessionTimeout: "10 seconds",
              rebalanceTimeout: "20 seconds",
              heartbeatInterval: "500 millis",
              autoCommitInterval: "500 millis",
            }).pipe(Scope.extend(scope), Effect.provide(ctx))
            const fiber = yield* sub.chunks.pipe(
              Stream.runForEach((chunk) =>
                Effect.gen(function* () {
                  const s = yield* sub.membership.state
                  const generation = s._tag === "Stable" ? s.generationId : -1
                  for (const r of chunk) {
                    seen.push({ who, partition: r.partition, n: Number(new TextDecoder().decode(r.value ?? new Uint8Array()).split(":")[1]), generation })
                  }
                  yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
                }),
              ),
              Effect.forkDaemon,
            )
            const stop = Effect.zipRight(Fiber.interrupt(fiber), Scope.close(scope, Exit.void))
            yield* Effect.addFinalizer(() => stop)
            return { sub, stop }
          })
        const a = yield* member("ours-a")
        const b = yield* member("ours-b")
        const stableSplit = () => {
          const sa = Effect.runSync(a.sub.membership.state)
          const sb = Effect.runSync(b.sub.membership.state)
          return sa._tag === "Stable" && sb._tag === "Stable" && sa.generationId === sb.generationId && sa.assignment.length + sb.assignment.length === PARTITIONS
        }
        yield* eventually(() => "two of ours stable", stableSplit)

        const deliveredAll = () => {
          const got = acked.map(() => new Set<number>())
          for (const s of seen) got[s.partition]!.add(s.n)
          return acked.every((set, p) => [...set].every((n) => got[p]!.has(n)))
        }
        const committedAll = (port: GroupCoordinator.GroupCoordinator["Type"]) =>
          Effect.gen(function* () {
            const c = yield* port.findCoordinator(group)
            const offsets = yield* port.offsetFetch({ groupId: group, coordinator: c, partitions: Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(topic, p)) })
            return { coordinator: c.nodeId, offsets: offsets.map((o) => o.offset) }
          })
        // A port of our own to look at the group from outside.
        const probeScope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(probeScope, Exit.void))
        const probe = Context.get(
          yield* Layer.buildWithScope(GroupCoordinatorLive.layer({ ...options, clientId: "probe" }), probeScope).pipe(Effect.orDie),
          GroupCoordinator.GroupCoordinator,
        )
        const awaitCommitted = (end: bigint, what: string) =>
          Effect.gen(function* () {
            const deadline = Date.now() + 60_000
            let last = ""
            while (Date.now() < deadline) {
              const r = yield* committedAll(probe).pipe(Effect.either)
              if (r._tag === "Right" && r.right.offsets.every((o) => o === end)) return r.right.coordinator
              last = r._tag === "Right" ? `coordinator ${r.right.coordinator}: ${r.right.offsets}` : r.left._tag
              yield* Effect.sleep("300 millis")
            }
            return yield* Effect.dieMessage(`${what}: not committed up to ${end} within 60s (last: ${last})`)
          })

        yield* produce(0, 30)
        yield* eventually(() => "round a delivered", deliveredAll)
        const before = yield* awaitCommitted(30n, "round a")

        // Kill the coordinator while the members are stable; write more meanwhile.
        yield* kafkaCluster.kill(before)
        yield* produce(30, 30)
        yield* eventually(() => `round b delivered (${seen.length} records)`, deliveredAll, "90 seconds")
        const after = yield* awaitCommitted(60n, "round b")
        expect(after).not.toBe(before)
        expect(kafkaCluster.isRunning(before)).toBe(false)
        yield* eventually(() => "two of ours stable after the coordinator moved", stableSplit)

        // Nothing lost (every acked record delivered), and within a member's generation none twice.
        expect(acked.map((s) => s.size)).toEqual([60, 60, 60])
        const counts = new Map<string, number>()
        for (const s of seen) counts.set(`${s.who}/${s.generation}/${s.partition}:${s.n}`, (counts.get(`${s.who}/${s.generation}/${s.partition}:${s.n}`) ?? 0) + 1)
        expect([...counts].filter(([, n]) => n > 1)).toEqual([])
        yield* Effect.log(`coordinator failover: coordinator ${before} killed, ${after} took over; ${seen.length} deliveries of ${3 * 60} records; generations ${[...new Set(seen.map((s) => s.generation))]}`)
        yield* a.stop
        yield* b.stop
      }),
    180_000,
  )
})
