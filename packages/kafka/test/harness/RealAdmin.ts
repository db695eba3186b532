/**
 * kafkajs's admin client (the public client, no one here wrote it) as a scoped resource, for what
 * the tests do to a real broker besides producing: create and delete topics (with topic configs),
 * DeleteRecords, alter topic configs, read partition leaders. Every wait is bounded.
 */
import { KafkaError, type TopicPartition } from "@kafka-effect/core"
import { Duration, Effect } from "effect"
import { type Admin, ConfigResourceTypes, Kafka, logLevel } from "kafkajs"

export interface TopicSpec {
  readonly topic: string
  readonly partitions?: number
  readonly replicationFactor?: number
  readonly config?: Readonly<Record<string, string>>
}

export interface RealAdmin {
  readonly admin: Admin
  readonly createTopic: (spec: TopicSpec) => Effect.Effect<void>
  /** Deletes the topic and waits until the broker no longer lists it. */
  readonly deleteTopic: (topic: string) => Effect.Effect<void>
  /** DeleteRecords: moves the partition's log start offset up to `offset` (fails as kafkajs does). */
  readonly deleteRecords: (topic: string, partition: number, offset: bigint) => Effect.Effect<void, unknown>
  readonly alterTopicConfig: (topic: string, config: Readonly<Record<string, string>>) => Effect.Effect<void>
  /** The leader's node id of each partition, by partition id. */
  readonly leaders: (topic: string) => Effect.Effect<ReadonlyMap<number, number>>
}

/** Polls `check` every `every` until it gives `Some`; dies naming `what` after `within`. */
export const eventually = <A, E, R>(
  what: string,
  check: Effect.Effect<A | undefined, E, R>,
  within: Duration.DurationInput = "20 seconds",
  every: Duration.DurationInput = "100 millis",
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(within))
    for (;;) {
      const a = yield* check
      if (a !== undefined) return a
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out after ${Duration.format(within)} waiting for ${what}`)
      yield* Effect.sleep(every)
    }
  })

export const make = (brokers: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const kafka = new Kafka({
      brokers: [...brokers],
      clientId: "test-admin",
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 },
    })
    const admin = kafka.admin()
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.connect()),
      () => Effect.promise(() => admin.disconnect()),
    )
    // kafkajs's waitForLeaders fails when the broker it asks has not heard of the new topic yet
    // (a three-node cluster): wait for the leaders here instead, tolerating that.
    const createTopic = (spec: TopicSpec) =>
      Effect.promise(() =>
        admin.createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic: spec.topic,
              numPartitions: spec.partitions ?? 1,
              replicationFactor: spec.replicationFactor ?? -1,
              configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
        }),
      ).pipe(
        Effect.zipRight(
          eventually(
            `leaders for every partition of ${spec.topic}`,
            Effect.map(Effect.either(Effect.tryPromise(() => admin.fetchTopicMetadata({ topics: [spec.topic] }))), (r) => {
              if (r._tag === "Left") return undefined
              const partitions = r.right.topics[0]?.partitions ?? []
              return partitions.length === (spec.partitions ?? 1) && partitions.every((p) => p.leader >= 0) ? true : undefined
            }),
          ),
        ),
        Effect.asVoid,
      )
    const deleteTopic = (topic: string) =>
      Effect.promise(() => admin.deleteTopics({ topics: [topic], timeout: 10_000 })).pipe(
        Effect.zipRight(
          eventually(
            `topic ${topic} deleted`,
            Effect.map(
              Effect.promise(() => admin.listTopics()),
              (topics) => (topics.includes(topic) ? undefined : true),
            ),
          ),
        ),
        Effect.asVoid,
      )
    // kafkajs's deleteTopicRecords routes by the admin's cached metadata: load the topic's first.
    const deleteRecords = (topic: string, partition: number, offset: bigint) =>
      Effect.tryPromise({
        try: async () => {
          await admin.fetchTopicMetadata({ topics: [topic] })
          await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: offset.toString() }] })
        },
        catch: (e) => e,
      })
    const alterTopicConfig = (topic: string, config: Readonly<Record<string, string>>) =>
      Effect.promise(() =>
        admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: topic,
              configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
            },
          ],
        }),
      ).pipe(Effect.asVoid)
    const leaders = (topic: string) =>
      Effect.map(
        Effect.promise(() => admin.fetchTopicMetadata({ topics: [topic] })),
        (meta) => new Map(meta.topics[0]!.partitions.map((p) => [p.partitionId, p.leader])),
      )
    return { admin, createTopic, deleteTopic, deleteRecords, alterTopicConfig, leaders } satisfies RealAdmin
  })

/**
 * A partition's log start, high watermark and offsets as kafkajs's admin reports them (every
 * offset in between counted as present): `TestBroker.partitionState` over a real broker.
 */
export const partitionState = (admin: Admin, tp: TopicPartition.TopicPartition) =>
  Effect.promise(() => admin.fetchTopicOffsets(tp.topic)).pipe(
    Effect.flatMap((offsets) => {
      const p = offsets.find((o) => o.partition === tp.partition)
      if (p === undefined) {
        return Effect.die(new KafkaError.UnknownTopicOrPartition({ topic: tp.topic, partition: tp.partition, api: "ListOffsets" }))
      }
      const low = BigInt(p.low)
      const high = BigInt(p.high)
      const all: Array<bigint> = []
      for (let o = low; o < high; o++) all.push(o)
      return Effect.succeed({ logStartOffset: low, highWatermark: high, offsets: all })
    }),
  )
