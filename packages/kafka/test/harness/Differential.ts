/**
 * The two brokers of the differential test and the request sequences' building blocks: each
 * sequence runs the same code against real Apache Kafka and against the testkit's embedded broker,
 * through `WireProbe` (kafkajs's encoders and decoders at the versions kafkajs negotiates), and
 * returns a transcript of what matters in each answer (error codes, offsets, watermarks, group
 * answers), with topic names and member ids replaced by the sequence's own labels so that the two
 * transcripts can be compared as they are.
 */
import { EmbeddedBroker } from "@kafka-effect/testkit"
import { Effect, Schedule, type Scope } from "effect"
import * as fs from "node:fs"
import * as RealKafka from "./RealKafka.js"
import * as WireProbe from "./WireProbe.js"

export type SideName = "kafka" | "embedded"

/** One broker under test, with the names of this run. */
export interface Side {
  readonly name: SideName
  /** A new connection to the side's (only) broker. */
  readonly open: (clientId?: string) => Effect.Effect<WireProbe.Probe, never, Scope.Scope>
  /** A unique topic or group name for a label (the same on both sides of one run). */
  readonly unique: (label: string) => string
  /** Labels in place of this run's names and member ids. */
  readonly labels: Labels
}

/** Maps this run's names (topics, groups, member ids) back to the labels a transcript shows. */
export class Labels {
  private readonly byName = new Map<string, string>()
  name(name: string, label: string): void {
    this.byName.set(name, label)
  }
  of(name: string): string {
    return this.byName.get(name) ?? `?${name}`
  }
}

export type Transcript = Record<string, unknown>

export interface Both<A> {
  readonly kafka: A
  readonly embedded: A
}

const sideOf = (name: SideName, bootstrap: string, suffix: string): Side => {
  const labels = new Labels()
  return {
    name,
    open: (clientId) => WireProbe.connect(bootstrap.split(",")[0]!, clientId),
    unique: (label) => {
      const n = `diff-${label}-${suffix}`
      labels.name(n, label)
      return n
    },
    labels,
  }
}

/**
 * Runs `sequence` against the suite's real Kafka (`RealKafka.bootstrap()`) and against a fresh
 * embedded broker (one broker, default options unless given), concurrently, with the same names
 * (or one sequence for each); returns both transcripts. With
 * `KAFKA_EFFECT_DIFF_TRANSCRIPTS=<file>` both are appended to that file as JSON (to read what each
 * broker answered).
 */
export const onBoth = <A>(
  sequence: ((side: Side) => Effect.Effect<A, never, Scope.Scope>) | { readonly [K in SideName]: (side: Side) => Effect.Effect<A, never, Scope.Scope> },
  embeddedOptions: EmbeddedBroker.Options = {},
): Effect.Effect<Both<A>> =>
  Effect.gen(function* () {
    const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
    const of = (name: SideName) => (typeof sequence === "function" ? sequence : sequence[name])
    const kafka = Effect.scoped(of("kafka")(sideOf("kafka", RealKafka.bootstrap(), suffix)))
    const embedded = Effect.scoped(
      Effect.flatMap(EmbeddedBroker.EmbeddedBroker, (b) => of("embedded")(sideOf("embedded", b.bootstrap, suffix))),
    ).pipe(Effect.provide(EmbeddedBroker.layer({ ...embeddedOptions, brokers: 1 })), Effect.orDie)
    // A side that fails says which broker it was.
    const named = <X>(name: SideName, effect: Effect.Effect<X>) =>
      Effect.catchAllDefect(effect, (defect) => Effect.dieMessage(`${name}: ${defect instanceof Error ? defect.message : String(defect)}`))
    const [k, e] = yield* Effect.all([named("kafka", kafka), named("embedded", embedded)], { concurrency: 2 })
    const dump = process.env.KAFKA_EFFECT_DIFF_TRANSCRIPTS
    if (dump !== undefined) {
      yield* Effect.sync(() => fs.appendFileSync(dump, `${JSON.stringify({ kafka: k, embedded: e }, null, 1)}\n`))
    }
    return { kafka: k, embedded: e }
  })

/** Polls `effect` (every 50 ms, up to 20 s) until `done` holds; dies naming `what` otherwise. */
export const until = <A>(what: string, effect: Effect.Effect<A>, done: (a: A) => boolean): Effect.Effect<A> =>
  effect.pipe(
    Effect.flatMap((a) => (done(a) ? Effect.succeed(a) : Effect.fail(a))),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(400)))),
    Effect.catchAll((last) => Effect.dieMessage(`still not ${what}: ${JSON.stringify(last)}`)),
  )

const READ_COMMITTED = 1

// ---- views of the answers --------------------------------------------------------------------

export interface PartitionRef {
  readonly topic: string
  readonly partition: number
}

const byTopicPartition = <A extends { readonly topic: string; readonly partition: number }>(list: Array<A>): Array<A> =>
  list.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))

/** Creates a topic (replication factor 1) and waits until its leader answers ListOffsets; the CreateTopics code. */
export const createTopic = (probe: WireProbe.Probe, topic: string, partitions: number) =>
  Effect.gen(function* () {
    const created = yield* probe.send("CreateTopics", {
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      validateOnly: false,
      timeout: 10_000,
    })
    yield* awaitTopic(probe, topic, partitions)
    return created.answer.topicErrors.map((t) => t.errorCode)
  })

/** Waits until Metadata shows `partitions` led partitions of `topic` and each answers ListOffsets. */
export const awaitTopic = (probe: WireProbe.Probe, topic: string, partitions: number) =>
  Effect.gen(function* () {
    yield* until(
      `${topic} in metadata`,
      probe.send("Metadata", { topics: [topic], allowAutoTopicCreation: false }),
      ({ answer }) =>
        answer.topicMetadata.some(
          (t) => t.topic === topic && t.topicErrorCode === 0 && t.partitionMetadata.length === partitions && t.partitionMetadata.every((p) => p.leader >= 0),
        ),
    )
    const all = Array.from({ length: partitions }, (_, partition) => ({ partition, timestamp: -1 }))
    yield* until(
      `${topic} led`,
      probe.send("ListOffsets", { replicaId: -1, isolationLevel: READ_COMMITTED, topics: [{ topic, partitions: all }] }),
      ({ answer }) => answer.responses.every((t) => t.partitions.every((p) => p.errorCode === 0)),
    )
  })

/** Produces each value as its own batch (acks=all); one view per Produce answer. */
export const produce = (
  side: Side,
  probe: WireProbe.Probe,
  topic: string,
  partition: number,
  values: ReadonlyArray<string>,
  timestamps?: ReadonlyArray<number>,
) => Effect.forEach(values, (value, i) => produceBatch(side, probe, topic, partition, [value], timestamps === undefined ? undefined : [timestamps[i]!]))

/** Produces the values as one batch (acks=all); the view of the answer. */
export const produceBatch = (
  side: Side,
  probe: WireProbe.Probe,
  topic: string,
  partition: number,
  values: ReadonlyArray<string>,
  timestamps?: ReadonlyArray<number>,
) =>
  Effect.map(
    probe.send("Produce", {
      acks: -1,
      timeout: 10_000,
      topicData: [
        {
          topic,
          partitions: [
            { partition, messages: values.map((value, i) => ({ value, ...(timestamps === undefined ? {} : { timestamp: timestamps[i] }) })) },
          ],
        },
      ],
    }),
    ({ version, answer }) => ({
      version,
      partitions: answer.topics.flatMap((t) =>
        t.partitions.map((p) => ({
          topic: side.labels.of(t.topicName),
          partition: p.partition,
          errorCode: p.errorCode,
          baseOffset: p.baseOffset,
          logStartOffset: p.logStartOffset,
        })),
      ),
    }),
  )

/**
 * One Fetch (no wait) for the given positions; per partition: code, watermarks, the records at or
 * after the position (offset=value) and the offsets of records below it that came along (whole
 * batches).
 */
export const fetch = (
  side: Side,
  probe: WireProbe.Probe,
  at: ReadonlyArray<PartitionRef & { readonly offset: bigint }>,
  limits: { readonly maxBytes?: number; readonly partitionMaxBytes?: number } = {},
) =>
  Effect.gen(function* () {
    const topics = new Map<string, Array<{ partition: number; fetchOffset: string; maxBytes: number }>>()
    for (const p of at) {
      const list = topics.get(p.topic) ?? []
      list.push({ partition: p.partition, fetchOffset: p.offset.toString(), maxBytes: limits.partitionMaxBytes ?? 1024 * 1024 })
      topics.set(p.topic, list)
    }
    const { version, answer } = yield* probe.send("Fetch", {
      replicaId: -1,
      isolationLevel: READ_COMMITTED,
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: limits.maxBytes ?? 10 * 1024 * 1024,
      topics: Array.from(topics, ([topic, partitions]) => ({ topic, partitions })),
    })
    const position = new Map(at.map((p) => [`${p.topic}/${p.partition}`, p.offset]))
    return {
      version,
      errorCode: answer.errorCode,
      partitions: byTopicPartition(
        answer.responses.flatMap((t) =>
          t.partitions.map((p) => ({
            topic: side.labels.of(t.topicName),
            partition: p.partition,
            errorCode: p.errorCode,
            highWatermark: p.highWatermark,
            lastStableOffset: p.lastStableOffset,
            logStartOffset: p.lastStartOffset,
            offsets: p.messages
              .filter((m) => BigInt(m.offset) >= (position.get(`${t.topicName}/${p.partition}`) ?? 0n))
              .map((m) => `${m.offset}=${m.value?.toString() ?? "null"}`),
            below: p.messages.filter((m) => BigInt(m.offset) < (position.get(`${t.topicName}/${p.partition}`) ?? 0n)).map((m) => m.offset),
          })),
        ),
      ),
    }
  })

/** -2 earliest, -1 latest, else a timestamp. */
export const listOffsets = (side: Side, probe: WireProbe.Probe, at: ReadonlyArray<PartitionRef & { readonly timestamp: number }>) =>
  Effect.gen(function* () {
    const topics = new Map<string, Array<{ partition: number; timestamp: number }>>()
    for (const p of at) {
      const list = topics.get(p.topic) ?? []
      list.push({ partition: p.partition, timestamp: p.timestamp })
      topics.set(p.topic, list)
    }
    const { version, answer } = yield* probe.send("ListOffsets", {
      replicaId: -1,
      isolationLevel: READ_COMMITTED,
      topics: Array.from(topics, ([topic, partitions]) => ({ topic, partitions })),
    })
    return {
      version,
      partitions: byTopicPartition(
        answer.responses.flatMap((t) =>
          t.partitions.map((p) => ({
            topic: side.labels.of(t.topic),
            partition: p.partition,
            errorCode: p.errorCode,
            offset: p.offset,
            timestamp: p.timestamp,
          })),
        ),
      ),
    }
  })

/** DeleteRecords of one topic; per partition: code and low watermark. */
export const deleteRecords = (
  side: Side,
  probe: WireProbe.Probe,
  topic: string,
  partitions: ReadonlyArray<{ readonly partition: number; readonly offset: bigint }>,
) =>
  Effect.map(
    probe.send("DeleteRecords", {
      topics: [{ topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: p.offset.toString() })) }],
      timeout: 10_000,
    }),
    ({ version, answer }) => ({
      version,
      partitions: byTopicPartition(
        answer.topics.flatMap((t) =>
          t.partitions.map((p) => ({
            topic: side.labels.of(t.topic),
            partition: p.partition,
            errorCode: p.errorCode,
            lowWatermark: p.lowWatermark.toString(),
          })),
        ),
      ),
    }),
  )

/** CreateTopics of one topic; its code. */
export const createTopicRequest = (probe: WireProbe.Probe, topic: string, numPartitions: number, replicationFactor: number, validateOnly = false) =>
  Effect.map(
    probe.send("CreateTopics", { topics: [{ topic, numPartitions, replicationFactor }], validateOnly, timeout: 10_000 }),
    ({ version, answer }) => ({ version, errorCodes: answer.topicErrors.map((t) => t.errorCode) }),
  )

export const deleteTopics = (side: Side, probe: WireProbe.Probe, topics: ReadonlyArray<string>) =>
  Effect.map(probe.send("DeleteTopics", { topics, timeout: 10_000 }), ({ version, answer }) => ({
    version,
    topics: answer.topicErrors.map((t) => ({ topic: side.labels.of(t.topic), errorCode: t.errorCode })).sort((a, b) => (a.topic < b.topic ? -1 : 1)),
  }))

export const metadata = (side: Side, probe: WireProbe.Probe, topics: ReadonlyArray<string>, allowAutoTopicCreation: boolean) =>
  Effect.map(probe.send("Metadata", { topics, allowAutoTopicCreation }), ({ version, answer }) => ({
    version,
    brokers: answer.brokers.length,
    controllerIsABroker: answer.brokers.some((b) => b.nodeId === answer.controllerId),
    topics: answer.topicMetadata
      .map((t) => ({
        topic: side.labels.of(t.topic),
        errorCode: t.topicErrorCode,
        partitions: t.partitionMetadata.map((p) => ({ partition: p.partitionId, errorCode: p.partitionErrorCode })).sort((a, b) => a.partition - b.partition),
      }))
      .sort((a, b) => (a.topic < b.topic ? -1 : 1)),
  }))

// ---- groups ------------------------------------------------------------------------------------

export const SESSION_TIMEOUT = 10_000
export const REBALANCE_TIMEOUT = 20_000

/** One group member's connection (groups need one per member: a broker answers a connection's requests in order). */
export interface Member {
  readonly probe: WireProbe.Probe
  readonly clientId: string
}

export const member = (side: Side, clientId: string) => Effect.map(side.open(clientId), (probe): Member => ({ probe, clientId }))

/** Waits until the group's coordinator is this broker and answers (Kafka loads __consumer_offsets first). */
export const awaitCoordinator = (m: Member, groupId: string) =>
  Effect.gen(function* () {
    yield* until(
      `coordinator of ${groupId}`,
      m.probe.send("GroupCoordinator", { groupId, coordinatorType: 0 }),
      ({ answer }) => answer.errorCode === 0,
    )
    yield* until(
      `describable ${groupId}`,
      m.probe.send("DescribeGroups", { groupIds: [groupId] }),
      ({ answer }) => answer.groups.every((g) => g.errorCode === 0),
    )
  })

export const join = (
  side: Side,
  m: Member,
  groupId: string,
  memberId: string,
  options: { readonly protocolType?: string; readonly protocols?: ReadonlyArray<string>; readonly sessionTimeout?: number } = {},
) =>
  Effect.map(
    m.probe.send("JoinGroup", {
      groupId,
      sessionTimeout: options.sessionTimeout ?? SESSION_TIMEOUT,
      rebalanceTimeout: REBALANCE_TIMEOUT,
      memberId,
      protocolType: options.protocolType ?? "consumer",
      groupProtocols: (options.protocols ?? ["range"]).map((name) => ({ name, metadata: Buffer.from(`${m.clientId}:${name}`) })),
    }),
    ({ version, answer }) => ({
      version,
      /** The member id the broker gave or confirmed (not in the view: it differs between brokers). */
      memberId: answer.memberId,
      view: {
        errorCode: answer.errorCode,
        generationId: answer.generationId,
        protocol: answer.groupProtocol,
        leader: answer.leaderId === "" ? "" : side.labels.of(answer.leaderId),
        memberId: answer.memberId === "" ? "" : side.labels.of(answer.memberId),
        members: answer.members.map((x) => `${side.labels.of(x.memberId)}=${x.memberMetadata.toString()}`).sort(),
      },
    }),
  )

/**
 * The first step of a new member's join at JoinGroup v4+: an empty member id, answered
 * MEMBER_ID_REQUIRED with the id to join with. Names the id `label`; the view shows the id's shape.
 */
export const requestMemberId = (side: Side, m: Member, groupId: string, label: string) =>
  Effect.gen(function* () {
    const first = yield* join(side, m, groupId, "")
    side.labels.name(first.memberId, label)
    const firstView = { ...first.view, memberId: first.memberId.startsWith(`${m.clientId}-`) ? `${m.clientId}-…` : first.memberId }
    return { memberId: first.memberId, first: { version: first.version, ...firstView } }
  })

export const sync = (
  m: Member,
  groupId: string,
  generationId: number,
  memberId: string,
  assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: string }> = [],
) =>
  Effect.map(
    m.probe.send("SyncGroup", {
      groupId,
      generationId,
      memberId,
      groupAssignment: assignments.map((a) => ({ memberId: a.memberId, memberAssignment: Buffer.from(a.assignment) })),
    }),
    ({ version, answer }) => ({ version, errorCode: answer.errorCode, assignment: answer.memberAssignment.toString() }),
  )

export const heartbeat = (m: Member, groupId: string, generationId: number, memberId: string) =>
  Effect.map(m.probe.send("Heartbeat", { groupId, groupGenerationId: generationId, memberId }), ({ version, answer }) => ({
    version,
    errorCode: answer.errorCode,
  }))

export const leave = (side: Side, m: Member, groupId: string, memberId: string) =>
  Effect.map(
    m.probe.send("LeaveGroup", { groupId, memberId }),
    ({ version, answer }) => ({
      version,
      errorCode: answer.errorCode,
      members: answer.members.map((x) => ({ memberId: side.labels.of(x.memberId), errorCode: x.errorCode })),
    }),
  )

export const commit = (
  side: Side,
  m: Member,
  groupId: string,
  generationId: number,
  memberId: string,
  offsets: ReadonlyArray<PartitionRef & { readonly offset: bigint; readonly metadata?: string }>,
) =>
  Effect.gen(function* () {
    const topics = new Map<string, Array<{ partition: number; offset: string; metadata: string | null }>>()
    for (const o of offsets) {
      const list = topics.get(o.topic) ?? []
      list.push({ partition: o.partition, offset: o.offset.toString(), metadata: o.metadata ?? null })
      topics.set(o.topic, list)
    }
    const { version, answer } = yield* m.probe.send("OffsetCommit", {
      groupId,
      groupGenerationId: generationId,
      memberId,
      retentionTime: -1,
      topics: Array.from(topics, ([topic, partitions]) => ({ topic, partitions })),
    })
    return {
      version,
      partitions: byTopicPartition(
        answer.responses.flatMap((t) => t.partitions.map((p) => ({ topic: side.labels.of(t.topic), partition: p.partition, errorCode: p.errorCode }))),
      ),
    }
  })

export const committed = (side: Side, m: Member, groupId: string, partitions: ReadonlyArray<PartitionRef>) =>
  Effect.gen(function* () {
    const topics = new Map<string, Array<{ partition: number }>>()
    for (const p of partitions) {
      const list = topics.get(p.topic) ?? []
      list.push({ partition: p.partition })
      topics.set(p.topic, list)
    }
    const { version, answer } = yield* m.probe.send("OffsetFetch", {
      groupId,
      topics: Array.from(topics, ([topic, ps]) => ({ topic, partitions: ps })),
    })
    return {
      version,
      errorCode: answer.errorCode,
      partitions: byTopicPartition(
        answer.responses.flatMap((t) =>
          t.partitions.map((p) => ({
            topic: side.labels.of(t.topic),
            partition: p.partition,
            errorCode: p.errorCode,
            offset: p.offset,
            metadata: p.metadata,
          })),
        ),
      ),
    }
  })

export const describeGroup = (side: Side, m: Member, groupId: string) =>
  Effect.map(m.probe.send("DescribeGroups", { groupIds: [groupId] }), ({ version, answer }) => {
    const g = answer.groups[0]!
    return {
      version,
      errorCode: g.errorCode,
      state: g.state,
      protocolType: g.protocolType,
      protocol: g.protocol,
      members: g.members.map((x) => side.labels.of(x.memberId)).sort(),
      memberMetadata: g.members.map((x) => `${side.labels.of(x.memberId)}=${x.memberMetadata.toString()}/${x.memberAssignment.toString()}`).sort(),
    }
  })

/** ListGroups, this run's groups only (the shared broker has others). */
export const listGroups = (side: Side, m: Member) =>
  Effect.map(m.probe.send("ListGroups", {}), ({ version, answer }) => ({
    version,
    errorCode: answer.errorCode,
    groups: answer.groups
      .map((g) => ({ group: side.labels.of(g.groupId), protocolType: g.protocolType }))
      .filter((g) => !g.group.startsWith("?"))
      .sort((a, b) => (a.group < b.group ? -1 : 1)),
  }))

/** Waits until DescribeGroups shows the group in `state`. */
export const awaitGroupState = (side: Side, m: Member, groupId: string, state: string) =>
  until(`${groupId} ${state}`, describeGroup(side, m, groupId), (d) => d.state === state)
