/**
 * One consumer group on real Apache Kafka with three members no two of which share code: ours
 * (`GroupConsumer.subscribe` over `GroupCoordinatorLive` and `KafkaClient`), kafkajs's consumer and
 * Kafka's own Java consumer (the console consumer from kafka-tools, classic protocol). The broker
 * picks "roundrobin", the one protocol all three offer: ours offers it among its defaults, Java's
 * `RoundRobinAssignor` is named so, and kafkajs is given its own round-robin assigner under that
 * name. Six partitions split two by two in one generation; every record of the first round is
 * delivered once, by the owner of its partition. The Java consumer leaves; ours and kafkajs take its
 * partitions from its committed offsets; the second round is delivered once. Ours leaves; kafkajs
 * takes ours' partitions from the offsets ours committed; the third round is delivered once. The
 * committed offsets, read back with Kafka's consumer-groups tool, are the ends of the partitions.
 */
import { NodeContext } from "@effect/platform-node"
import { layer } from "@effect/vitest"
import { Consumer, GroupConsumer } from "@kafka-effect/core"
import { Chunk, type Duration, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Kafka, logLevel, type PartitionAssigner, PartitionAssigners } from "kafkajs"
import { expect } from "vitest"
import * as KafkaClient from "../../src/KafkaClient.js"
import * as GroupCoordinatorLive from "../../src/group/GroupCoordinatorLive.js"
import * as KafkaTools from "../harness/KafkaTools.js"
import * as RealKafka from "../harness/RealKafka.js"
import * as Wait from "../harness/Wait.js"

const PARTITIONS = 6
const PER_ROUND = 10

interface Seen {
  readonly who: "ours" | "kafkajs" | "java"
  readonly partition: number
  readonly offset: bigint
  readonly value: string
  /** The member's generation when it received the record. */
  readonly generation: number
}

/** Polls `check` every 100ms (real time) until it holds, or dies after `within` saying what it waited for. */
const eventually = (what: string | (() => string), check: () => boolean, within: Duration.DurationInput = "60 seconds") =>
  Wait.until(what, check, within, "100 millis")

/** kafkajs's own round-robin assigner, offered under the protocol name Java's RoundRobinAssignor uses. */
const kafkajsRoundRobin: PartitionAssigner = (config) => ({ ...PartitionAssigners.roundRobin(config), name: "roundrobin" })

/** Records each member received more than once within one of its generations. */
const duplicatesWithinGeneration = (seen: ReadonlyArray<Seen>) => {
  const counts = new Map<string, number>()
  for (const s of seen) {
    const k = `${s.who} gen ${s.generation} p${s.partition}@${s.offset}`
    counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  return [...counts].filter(([, n]) => n > 1).map(([k]) => k)
}

const ownersOf = (seen: ReadonlyArray<Seen>) => {
  const owners = new Map<number, Set<string>>()
  for (const s of seen) {
    const set = owners.get(s.partition) ?? new Set<string>()
    set.add(s.who)
    owners.set(s.partition, set)
  }
  return owners
}

layer(NodeContext.layer, { excludeTestServices: true, timeout: "150 seconds" })("a consumer group on real Apache Kafka", (it) => {
  it.scoped(
    "ours, kafkajs and Kafka's Java consumer split six partitions; Java leaves, then ours; the others take over from the committed offsets; nothing lost; offsets read back with kafka-consumer-groups",
    () =>
      Effect.gen(function* () {
        const bootstrap = RealKafka.bootstrap()
        const brokers = RealKafka.brokers()
        const topic = RealKafka.topicName("grp")
        const group = RealKafka.topicName("grp-mixed")
        const kafka = new Kafka({ brokers: [...brokers], clientId: "kafkajs-peer", logLevel: logLevel.NOTHING })
        const admin = kafka.admin()
        const producer = kafka.producer({ allowAutoTopicCreation: false })
        yield* Effect.acquireRelease(
          Effect.promise(() => Promise.all([admin.connect(), producer.connect()])),
          () => Effect.promise(() => Promise.all([admin.disconnect(), producer.disconnect()])),
        )
        yield* Effect.promise(() => admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }))
        const produce = (round: string) =>
          Effect.promise(() =>
            producer.send({
              topic,
              acks: -1,
              messages: Array.from({ length: PARTITIONS }, (_, p) =>
                Array.from({ length: PER_ROUND }, (_, i) => ({ partition: p, value: `${round}-${p}-${i}` })),
              ).flat(),
            }),
          )
        const seen: Array<Seen> = []

        // Ours: its own client and coordinator connections.
        const oursScope = yield* Scope.make()
        const options = { brokers, clientId: "ours" }
        const ctx = yield* Layer.buildWithScope(Layer.merge(KafkaClient.layer(options), GroupCoordinatorLive.layer(options)), oursScope).pipe(
          Effect.orDie,
        )
        const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "200 millis" } }).pipe(
          Scope.extend(oursScope),
          Effect.provide(ctx),
          Effect.orDie,
        )
        const sub = yield* GroupConsumer.subscribe(consumer, [topic], {
          groupId: group,
          sessionTimeout: "10 seconds",
          rebalanceTimeout: "20 seconds",
          heartbeatInterval: "500 millis",
          autoCommitInterval: "500 millis",
        }).pipe(Scope.extend(oursScope), Effect.provide(ctx))
        const oursFiber = yield* sub.chunks.pipe(
          Stream.runForEach((chunk) =>
            Effect.gen(function* () {
              const state = yield* sub.membership.state
              const generation = state._tag === "Stable" ? state.generationId : -1
              for (const r of chunk) {
                seen.push({ who: "ours", partition: r.partition, offset: r.offset, value: new TextDecoder().decode(r.value ?? new Uint8Array()), generation })
              }
              yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
            }),
          ),
          Effect.forkDaemon,
        )
        const stopOurs = Effect.zipRight(Fiber.interrupt(oursFiber), Scope.close(oursScope, Exit.void))
        yield* Effect.addFinalizer(() => stopOurs)

        // kafkajs's consumer: its generation from its heartbeats, its assignment from its joins.
        const peer = kafka.consumer({
          groupId: group,
          partitionAssigners: [kafkajsRoundRobin],
          sessionTimeout: 10_000,
          rebalanceTimeout: 20_000,
          heartbeatInterval: 500,
          maxWaitTimeInMs: 200,
          retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
        })
        let kafkajsGeneration = -1
        let kafkajsJoins = 0
        let kafkajsAssignment: ReadonlyArray<number> = []
        peer.on(peer.events.HEARTBEAT, (e) => {
          kafkajsGeneration = e.payload.groupGenerationId
        })
        peer.on(peer.events.GROUP_JOIN, (e) => {
          kafkajsJoins++
          kafkajsAssignment = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)
        })
        yield* Effect.acquireRelease(Effect.promise(() => peer.connect()), () => Effect.promise(() => peer.disconnect()))
        yield* Effect.promise(() => peer.subscribe({ topic, fromBeginning: true }))
        yield* Effect.promise(() =>
          peer.run({
            autoCommitInterval: 500,
            eachMessage: async ({ partition, message }) => {
              // A join is a new generation for kafkajs; the heartbeat's generation may lag the join.
              seen.push({ who: "kafkajs", partition, offset: BigInt(message.offset), value: message.value?.toString() ?? "", generation: kafkajsJoins })
            },
          }),
        )

        // Kafka's console consumer.
        const java = yield* KafkaTools.consoleConsumer({
          bootstrap,
          topic,
          group,
          clientId: "java-peer",
          strategy: "org.apache.kafka.clients.consumer.RoundRobinAssignor",
          properties: { "heartbeat.interval.ms": "500", "session.timeout.ms": "10000", "auto.commit.interval.ms": "500" },
        })
        const javaSeen = () =>
          java.events.flatMap((e): Array<Seen> =>
            e._tag === "Record" ? [{ who: "java", partition: e.partition, offset: e.offset, value: e.value, generation: e.generation }] : [],
          )
        const all = () => [...seen, ...javaSeen()]

        // One generation with all three, two partitions each, covering the six.
        let generation = -1
        const split = () => {
          const s = Effect.runSync(sub.membership.state)
          return { ours: s, kafkajs: { generation: kafkajsGeneration, assignment: kafkajsAssignment }, java: { generation: java.generation(), assignment: java.assignment() } }
        }
        yield* eventually(
          () => `a three-way split: ${JSON.stringify(split(), (_, v) => (typeof v === "bigint" ? String(v) : v))}\n${java.lines.slice(-20).join("\n")}`,
          () => {
            const s = Effect.runSync(sub.membership.state)
            if (s._tag !== "Stable" || s.assignment.length !== 2) return false
            if (java.generation() !== s.generationId || kafkajsGeneration !== s.generationId) return false
            const owned = [...s.assignment.map((tp) => tp.partition), ...kafkajsAssignment, ...java.assignment()].sort((a, b) => a - b)
            if (kafkajsAssignment.length !== 2 || java.assignment().length !== 2) return false
            if (owned.join() !== "0,1,2,3,4,5") return false
            generation = s.generationId
            return true
          },
        )
        const first = yield* sub.membership.awaitStable(generation - 1)
        expect([first.generationId, first.protocol]).toEqual([generation, "roundrobin"])
        expect(java.events.filter((e) => e._tag === "Synced").at(-1)).toMatchObject({ protocol: "roundrobin", generation })
        // Kafka's tool sees the same owners: three clients, two partitions each.
        const described = yield* KafkaTools.describeGroup(bootstrap, group)
        const byClient = new Map<string, Array<number>>()
        for (const row of described) byClient.set(row.clientId ?? "-", [...(byClient.get(row.clientId ?? "-") ?? []), row.partition])
        expect(new Map([...byClient].map(([c, ps]) => [c, ps.length]))).toEqual(new Map([["ours-group", 2], ["kafkajs-peer", 2], ["java-peer", 2]]))
        expect(byClient.get("ours-group")).toEqual(first.assignment.map((tp) => tp.partition))
        expect(byClient.get("java-peer")).toEqual(java.assignment())
        expect(byClient.get("kafkajs-peer")).toEqual(kafkajsAssignment)

        // Round a, in that generation.
        yield* produce("a")
        const deliveredUpTo = (n: number) => () => {
          const got = new Set(all().map((s) => `${s.partition}@${s.offset}`))
          for (let p = 0; p < PARTITIONS; p++) for (let o = 0; o < n; o++) if (!got.has(`${p}@${o}`)) return false
          return true
        }
        yield* eventually(() => `round a delivered (${all().length} records so far)`, deliveredUpTo(PER_ROUND))
        const roundA = all()
        const [oursAndKafkajsA, javaA] = [seen.length, javaSeen().length]
        // Each partition came from its owner only, each record exactly once, all in one generation.
        expect(roundA.length).toBe(PARTITIONS * PER_ROUND)
        const ownersA = ownersOf(roundA)
        expect(new Set([...ownersA.values()].flatMap((s) => [...s]))).toEqual(new Set(["ours", "kafkajs", "java"]))
        const whoIs: Record<string, Seen["who"]> = { "ours-group": "ours", "kafkajs-peer": "kafkajs", "java-peer": "java" }
        for (const [p, who] of ownersA) expect([p, [...who]]).toEqual([p, [whoIs[described.find((r) => r.partition === p)?.clientId ?? ""]]])
        expect(duplicatesWithinGeneration(roundA)).toEqual([])
        expect(roundA.every((s) => s.value === `a-${s.partition}-${Number(s.offset)}`)).toBe(true)
        expect((yield* sub.membership.state)._tag === "Stable" && java.generation() === generation && kafkajsGeneration === generation).toBe(true)

        // Every member committed round a; the Java consumer then leaves (SIGTERM: it closes, commits, sends LeaveGroup).
        yield* Effect.gen(function* () {
          const deadline = Date.now() + 30_000
          while (Date.now() < deadline) {
            const committed = yield* sub.membership.committed(Array.from({ length: PARTITIONS }, (_, p) => ({ topic, partition: p })))
            if (committed.every((c) => c.offset === BigInt(PER_ROUND))) return
            yield* Effect.sleep("200 millis")
          }
          return yield* Effect.dieMessage("round a not committed by every member within 30s")
        })
        const javaPartitions = java.assignment()
        const exitCode = yield* java.stop
        // The JVM ends on SIGTERM with 128 + 15 after its shutdown hook closed the consumer.
        expect(exitCode).toBe(143)
        expect(java.lines.some((l) => l.includes("sending LeaveGroup request") && l.includes("the consumer is being closed"))).toBe(true)

        // Ours and kafkajs share the six in a newer generation.
        yield* eventually(
          () => `a two-way split after Java left: ${JSON.stringify(split())}`,
          () => {
            const s = Effect.runSync(sub.membership.state)
            if (s._tag !== "Stable" || s.generationId <= generation || kafkajsGeneration !== s.generationId) return false
            const owned = [...s.assignment.map((tp) => tp.partition), ...kafkajsAssignment].sort((a, b) => a - b)
            if (owned.join() !== "0,1,2,3,4,5" || s.assignment.length !== 3) return false
            generation = s.generationId
            return true
          },
        )
        yield* produce("b")
        yield* eventually(() => `round b delivered (${all().length} records so far)`, deliveredUpTo(2 * PER_ROUND))
        const roundB = [...seen.slice(oursAndKafkajsA), ...javaSeen().slice(javaA)]
        // The Java consumer's partitions went on from its committed offsets: nothing of round a again.
        expect(roundB.filter((s) => s.offset < BigInt(PER_ROUND))).toEqual([])
        expect(roundB.length).toBe(PARTITIONS * PER_ROUND)
        expect(new Set(roundB.map((s) => s.who))).toEqual(new Set(["ours", "kafkajs"]))
        for (const [, who] of ownersOf(roundB)) expect(who.size).toBe(1)
        expect(roundB.filter((s) => javaPartitions.includes(s.partition)).length).toBe(javaPartitions.length * PER_ROUND)
        expect(duplicatesWithinGeneration(all())).toEqual([])

        // Ours leaves (closing its scope commits what it processed and sends LeaveGroup): kafkajs
        // takes everything, ours' partitions from the offsets ours committed.
        const oursPartitions = (yield* sub.membership.assignment).map((tp) => tp.partition)
        const [oursAndKafkajsB] = [seen.length]
        yield* stopOurs
        expect((yield* sub.membership.state)._tag).toBe("Left")
        yield* eventually(
          () => `kafkajs alone after ours left: generation ${kafkajsGeneration} (was ${generation}), assignment ${kafkajsAssignment}`,
          () => kafkajsGeneration > generation && kafkajsAssignment.join() === "0,1,2,3,4,5",
        )
        yield* produce("c")
        yield* eventually(() => `round c delivered (${all().length} records so far)`, deliveredUpTo(3 * PER_ROUND))
        const roundC = seen.slice(oursAndKafkajsB)
        expect(roundC.filter((s) => s.offset < BigInt(2 * PER_ROUND))).toEqual([])
        expect(roundC.length).toBe(PARTITIONS * PER_ROUND)
        expect(roundC.every((s) => s.who === "kafkajs")).toBe(true)
        expect(roundC.filter((s) => oursPartitions.includes(s.partition)).length).toBe(oursPartitions.length * PER_ROUND)
        expect(duplicatesWithinGeneration(all())).toEqual([])

        // kafkajs stops too; Kafka's tool reads the committed offsets: the ends of the partitions, no owner.
        yield* Effect.promise(() => peer.disconnect())
        const end = yield* KafkaTools.describeGroup(bootstrap, group)
        expect(end.map((r) => [r.topic, r.partition, r.currentOffset, r.logEndOffset, r.lag, r.consumerId])).toEqual(
          Array.from({ length: PARTITIONS }, (_, p) => [topic, p, BigInt(3 * PER_ROUND), BigInt(3 * PER_ROUND), 0n, undefined]),
        )
      }),
    150_000,
  )
})
