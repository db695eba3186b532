/**
 * The in-memory Kafka broker model: a cluster of brokers, topics and partitions with a log start
 * offset, a high watermark and a log of record batches, on Effect's `Clock` (deterministic under
 * `TestClock`). It answers requests as a broker does (Fetch with long poll and size limits,
 * ListOffsets) and is the single source of truth for every face of the testkit: the in-memory
 * ports (`TestBroker.layer`) and the embedded wire broker serve the same model.
 *
 * Control operations (`produce`, `deleteRecords`, `compact`, `truncate`, `moveLeader`) change the
 * state directly. Requests (`fetch`, `listOffsets`, and anything wrapped in `serve`) go through the
 * request path: the request log, latency, injected faults.
 *
 * @since 0.1.0
 */
import { type ConsumerRecord, ErrorCode, type KafkaError, TopicPartition } from "@kafka-effect/core"
import { Clock, Context, Data, Deferred, Duration, Effect, Exit, Layer } from "effect"
import { Faults, type Injection, injectedCode } from "./internal/faults.js"
import { encodeText, type NewRecord, PartitionLog } from "./internal/partitionLog.js"
import type { Fault, ProducedRecord } from "./TestBroker.js"

export {
  /**
   * The compression bits of a record batch's attributes.
   *
   * @since 0.1.0
   * @category constants
   */
  ATTR_COMPRESSION_MASK,
  /**
   * The attribute bit of a control batch (transaction markers).
   *
   * @since 0.1.0
   * @category constants
   */
  ATTR_CONTROL,
  /**
   * The attribute bit of a batch whose timestamps are the broker's LogAppendTime.
   *
   * @since 0.1.0
   * @category constants
   */
  ATTR_LOG_APPEND_TIME,
  /**
   * The attribute bit of a transactional batch.
   *
   * @since 0.1.0
   * @category constants
   */
  ATTR_TRANSACTIONAL,
  /**
   * The size in bytes of one record as the partition log encodes it.
   *
   * @since 0.1.0
   * @category utils
   */
  recordSize,
} from "./internal/partitionLog.js"

/**
 * Every API a request can be logged, delayed or failed under.
 *
 * @since 0.1.0
 * @category models
 */
export type Api =
  | KafkaError.ApiName
  | "ApiVersions"
  | "Produce"
  | "CreateTopics"
  | "DeleteTopics"
  | "DeleteRecords"
  | "InitProducerId"
  | "SaslHandshake"
  | "SaslAuthenticate"

/**
 * A broker of the model: node id, host, port and rack.
 *
 * @since 0.1.0
 * @category models
 */
export interface BrokerNode {
  readonly nodeId: number
  readonly host: string
  /** 0 until a listener (the wire broker) binds one. */
  readonly port: number
  readonly rack: string | null
}

/**
 * Options of the in-memory broker: the number of brokers, the topics to create (name → partitions),
 * the cluster id, and whether unknown topics are created on first use.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** Number of brokers (node ids 0..n-1); partition leaders are spread over them. Default 1. */
  readonly brokers?: number
  /** Topics created at start: name → partition count. */
  readonly topics?: Readonly<Record<string, number>>
  readonly clusterId?: string
  /** Produce to an unknown topic creates it with this many partitions (Kafka's auto.create.topics.enable). */
  readonly autoCreateTopics?: { readonly partitions: number }
}

/**
 * A failure a control operation or a request answers with: a Kafka error code.
 *
 * @since 0.1.0
 * @category errors
 */
export class BrokerModelError extends Data.TaggedError("BrokerModelError")<{
  readonly code: number
  readonly name: string
  readonly retriable: boolean
  readonly detail: string
}> {
  override get message(): string {
    return `${this.name} (${this.code}): ${this.detail}`
  }
}

const modelError = (code: number, detail: string): BrokerModelError => {
  const info = ErrorCode.info(code)
  return new BrokerModelError({ code, name: info.name, retriable: info.retriable, detail })
}

/**
 * A request that got no answer: the connection closed (`Network`) or it timed out (`Timeout`).
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestFault extends Data.TaggedError("RequestFault")<{
  readonly api: Api
  readonly reason: "Network" | "Timeout"
}> {
  override get message(): string {
    return `${this.api} request failed (${this.reason})`
  }
}

/**
 * A batch as stored: the records still in the log plus what the producer sent with them.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordBatch {
  readonly baseOffset: bigint
  /** The last offset as produced; compaction keeps it (records may be missing inside), truncation lowers it. */
  readonly lastOffset: bigint
  /** The records still in the log, in offset order (may start below the log start offset). */
  readonly records: ReadonlyArray<ConsumerRecord.ConsumerRecord>
  /** RecordBatch v2 attributes: compression (bits 0-2), LogAppendTime (3), transactional (4), control (5). */
  readonly attributes: number
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly baseSequence: number
  readonly partitionLeaderEpoch: number
  readonly baseTimestamp: number
  readonly maxTimestamp: number
  /** The bytes as produced (e.g. a compressed batch), kept while the batch is intact. */
  readonly raw: Uint8Array | undefined
  /** What the batch costs in a fetch answer (raw length, or records + header). */
  readonly sizeBytes: number
}

/**
 * Producer facts of a batch, as a wire Produce request carries them. All optional.
 *
 * @since 0.1.0
 * @category options
 */
export interface BatchOptions {
  readonly attributes?: number
  readonly producerId?: bigint
  readonly producerEpoch?: number
  readonly baseSequence?: number
  /** The batch bytes as produced, served back as they are while the batch stays intact. */
  readonly raw?: Uint8Array
  /**
   * Decodes `raw`'s records again. With it the log keeps only the bytes of a batch (its records are
   * decoded when something asks for them), as a broker that serves what producers sent.
   */
  readonly decodeRaw?: (raw: Uint8Array) => ReadonlyArray<{
    readonly key: Uint8Array | null
    readonly value: Uint8Array | null
    readonly headers: ReadonlyArray<ConsumerRecord.RecordHeader>
    readonly timestamp: number
  }>
}

/**
 * A partition's log as the model holds it: log start, high watermark, the offsets present, leader
 * and leader epoch.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartitionState {
  readonly topic: string
  readonly partition: number
  readonly logStartOffset: bigint
  readonly highWatermark: bigint
  /** Offsets in [logStartOffset, highWatermark) that hold a record. */
  readonly offsets: ReadonlyArray<bigint>
  readonly leader: number
  readonly leaderEpoch: number
}

/**
 * A partition in a metadata answer: its number, leader and leader epoch.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartitionMetadata {
  readonly partition: number
  readonly leader: number
  readonly leaderEpoch: number
  readonly replicas: ReadonlyArray<number>
  readonly isr: ReadonlyArray<number>
}

/**
 * A topic in a metadata answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface TopicMetadata {
  readonly name: string
  readonly partitions: ReadonlyArray<PartitionMetadata>
}

/**
 * One partition of a fetch: the offset to read from and the most bytes to return.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchPartitionRequest {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  /** Per-partition byte limit (soft for the first record/batch of the partition). */
  readonly maxBytes: number
}

/**
 * A fetch request to the model.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchRequest {
  readonly partitions: ReadonlyArray<FetchPartitionRequest>
  readonly maxWaitMs: number
  readonly minBytes: number
  /** Response byte limit (soft for the first partition that returns data). */
  readonly maxBytes: number
  /**
   * "record" (default): limits count key+value+headers bytes per record and the answer starts at
   * the requested offset. "batch": whole stored batches, as a wire broker sends them.
   */
  readonly granularity?: "record" | "batch"
  /** The broker the request was sent to; partitions it does not lead answer NOT_LEADER_OR_FOLLOWER. */
  readonly brokerId?: number
}

/**
 * The model's answer for one partition of a fetch: records, or an error code with the log's bounds.
 *
 * @since 0.1.0
 * @category models
 */
export type FetchPartitionResult =
  | {
      readonly _tag: "Records"
      readonly topic: string
      readonly partition: number
      readonly highWatermark: bigint
      readonly lastStableOffset: bigint
      readonly logStartOffset: bigint
      /** Records at offsets >= the requested offset, in offset order. */
      readonly records: ReadonlyArray<ConsumerRecord.ConsumerRecord>
      /** The stored batches those records come from (whole; may start below the requested offset). */
      readonly batches: ReadonlyArray<RecordBatch>
      readonly bytes: number
      /** Set when the answer reached the end of the log past offsets without records (compaction holes). */
      readonly nextOffset: bigint | undefined
    }
  | {
      readonly _tag: "Error"
      readonly topic: string
      readonly partition: number
      readonly code: number
      /** -1n when the partition is unknown. */
      readonly highWatermark: bigint
      readonly logStartOffset: bigint
    }

/**
 * -2 / -1 in the protocol, or a timestamp (the first offset whose record time is >= it).
 *
 * @since 0.1.0
 * @category models
 */
export type ListOffsetsSpec = "earliest" | "latest" | { readonly timestamp: number }

/**
 * The model's ListOffsets answer for one partition.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOffsetsPartitionResult {
  readonly topic: string
  readonly partition: number
  /** 0 when the offset is valid. */
  readonly code: number
  /** -1n when there is none (error, or no record at or after the timestamp). */
  readonly offset: bigint
  readonly timestamp: number
  readonly leaderEpoch: number
}

/**
 * An error code the answer carried for one partition.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartitionErrorCode {
  readonly topic: string
  readonly partition: number
  readonly code: number
}

/**
 * A request the model received, for tests that check what a client asked.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestLogEntry {
  readonly api: Api
  /** Clock time in milliseconds when the request arrived. */
  readonly at: number
  readonly partitions: ReadonlyArray<TopicPartition.TopicPartition>
  /** "fault" when an injected fault (Network, Timeout or error codes) shaped the answer. */
  readonly outcome: "ok" | "fault"
  /** The request-level fault, when one failed the request. */
  readonly fault?: Fault
  /** Partition errors in the answer, injected or the broker's own (e.g. OFFSET_OUT_OF_RANGE). */
  readonly errors: ReadonlyArray<PartitionErrorCode>
  /** The broker the request was addressed to, when known. */
  readonly brokerId?: number
}

/**
 * What `serve` hands to the answering code.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeContext {
  /** The injected error code for a partition, if any. */
  readonly injectedCode: (tp: TopicPartition.TopicPartition) => number | undefined
  /** The injected error code for the request as a whole (a rule without partitions), if any. */
  readonly requestCode: number | undefined
  /** Records partition errors of the answer in the request log. */
  readonly reportErrors: (errors: ReadonlyArray<PartitionErrorCode>) => void
}

/**
 * An offset a group committed in the model.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommittedOffset {
  readonly topic: string
  readonly partition: number
  /** -1n when the group has no committed offset for the partition. */
  readonly offset: bigint
  readonly metadata: string | null
}

/**
 * The in-memory broker: topics and partition logs, produce, fetch, list offsets, retention,
 * compaction, leader moves and injected faults, all on the Effect clock.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly clusterId: string
  readonly brokers: ReadonlyArray<BrokerNode>
  readonly controllerId: number
  /** Records the listener address of a broker (the wire broker binds ports after the model exists). */
  readonly setBrokerAddress: (nodeId: number, host: string, port: number) => Effect.Effect<void, BrokerModelError>

  readonly createTopic: (topic: string, partitions: number) => Effect.Effect<void, BrokerModelError>
  readonly deleteTopic: (topic: string) => Effect.Effect<void, BrokerModelError>
  /** Metadata of the given topics (all when omitted); unknown names are left out. */
  readonly metadata: (topics?: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<TopicMetadata>>

  /** Appends one batch to a partition (timestamps from the Clock unless given); returns its base offset. */
  readonly produce: (
    tp: TopicPartition.TopicPartition,
    records: ReadonlyArray<ProducedRecord>,
    batch?: BatchOptions,
  ) => Effect.Effect<bigint, BrokerModelError>
  /**
   * Moves the log start offset up to `beforeOffset` (-1n = the high watermark); returns the new
   * log start offset. Beyond the high watermark: OFFSET_OUT_OF_RANGE, as DeleteRecords answers.
   */
  readonly deleteRecords: (tp: TopicPartition.TopicPartition, beforeOffset: bigint) => Effect.Effect<bigint, BrokerModelError>
  /** Keeps the latest record per key (null keys stay), leaving holes inside [logStart, HW). */
  readonly compact: (tp: TopicPartition.TopicPartition) => Effect.Effect<void, BrokerModelError>
  /** Moves the high watermark down to `toOffset` (unclean leader election). Above it: INVALID_REQUEST. */
  readonly truncate: (tp: TopicPartition.TopicPartition, toOffset: bigint) => Effect.Effect<void, BrokerModelError>
  /** Makes `brokerId` the partition's leader and bumps the leader epoch. */
  readonly moveLeader: (tp: TopicPartition.TopicPartition, brokerId: number) => Effect.Effect<void, BrokerModelError>
  readonly partitionState: (tp: TopicPartition.TopicPartition) => Effect.Effect<PartitionState, BrokerModelError>
  /** `partitionState` without the list of offsets: O(1), for the per-request paths (wire Produce, DeleteRecords). */
  readonly partitionOffsets: (
    tp: TopicPartition.TopicPartition,
  ) => Effect.Effect<Omit<PartitionState, "offsets">, BrokerModelError>
  /** The stored batches of a partition, oldest first. */
  readonly batches: (tp: TopicPartition.TopicPartition) => Effect.Effect<ReadonlyArray<RecordBatch>, BrokerModelError>

  /** A Fetch request: long poll on the Clock, size limits, one result per requested partition in request order. */
  readonly fetch: (request: FetchRequest) => Effect.Effect<ReadonlyArray<FetchPartitionResult>, RequestFault>
  /** A ListOffsets request: one result per partition in request order. */
  readonly listOffsets: (
    partitions: ReadonlyArray<TopicPartition.TopicPartition>,
    spec: ListOffsetsSpec,
    options?: { readonly brokerId?: number },
  ) => Effect.Effect<ReadonlyArray<ListOffsetsPartitionResult>, RequestFault>
  /**
   * The request path for any other API: logs the request, waits the API's latency, applies the
   * injected faults (a Network/Timeout fault fails with `RequestFault`; error codes are handed to
   * `answer` through the context), then runs `answer`.
   */
  readonly serve: <A, E, R>(
    api: Api,
    partitions: ReadonlyArray<TopicPartition.TopicPartition>,
    answer: (context: ServeContext) => Effect.Effect<A, E, R>,
    options?: { readonly brokerId?: number },
  ) => Effect.Effect<A, E | RequestFault, R>

  /** The next `count` requests of `api` (touching one of `partitions`, when given) get `fault`. */
  readonly failNext: (
    api: Api,
    count: number,
    fault: Fault,
    partitions?: ReadonlyArray<TopicPartition.TopicPartition>,
  ) => Effect.Effect<void>
  /** Every request of `api` is answered after `latency` on the Clock (0 removes it). */
  readonly setLatency: (api: Api, latency: Duration.DurationInput) => Effect.Effect<void>
  /** Removes every pending fault and latency. */
  readonly clearFaults: Effect.Effect<void>
  readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>>
  readonly clearRequests: Effect.Effect<void>

  /** Committed offsets of consumer groups (OffsetCommit / OffsetFetch). */
  readonly commitOffsets: (
    group: string,
    offsets: ReadonlyArray<{
      readonly topic: string
      readonly partition: number
      readonly offset: bigint
      readonly metadata?: string | null
    }>,
  ) => Effect.Effect<void>
  readonly committedOffsets: (
    group: string,
    partitions: ReadonlyArray<TopicPartition.TopicPartition>,
  ) => Effect.Effect<ReadonlyArray<CommittedOffset>>
}

/**
 * The in-memory broker's tag.
 *
 * @since 0.1.0
 * @category services
 */
export class BrokerModel extends Context.Tag("@kafka-effect/testkit/BrokerModel")<BrokerModel, Service>() {}

interface MutableEntry {
  api: Api
  at: number
  partitions: ReadonlyArray<TopicPartition.TopicPartition>
  outcome: "ok" | "fault"
  fault?: Fault
  errors: ReadonlyArray<PartitionErrorCode>
  brokerId?: number
}

const toBytes = (v: string | Uint8Array | null | undefined): Uint8Array | null =>
  v === undefined || v === null ? null : typeof v === "string" ? encodeText(v) : v

const toHeaders = (headers: ProducedRecord["headers"]): ReadonlyArray<ConsumerRecord.RecordHeader> => {
  if (headers === undefined) return []
  if (isHeaderList(headers)) return headers
  return Object.entries(headers).map(([key, value]) => ({ key, value: toBytes(value) }))
}

const isHeaderList = (
  headers: NonNullable<ProducedRecord["headers"]>,
): headers is ReadonlyArray<ConsumerRecord.RecordHeader> => Array.isArray(headers)

const noErrors: ReadonlyArray<PartitionErrorCode> = []

/**
 * Builds a model. Its state lives as long as the returned service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.sync(() => {
    const brokerCount = Math.max(1, options.brokers ?? 1)
    const brokers: Array<BrokerNode> = Array.from({ length: brokerCount }, (_, nodeId) => ({
      nodeId,
      host: "127.0.0.1",
      port: 0,
      rack: null,
    }))
    const clusterId = options.clusterId ?? "kafka-effect-testkit"
    const topics = new Map<string, Array<PartitionLog>>()
    const groups = new Map<string, Map<string, CommittedOffset>>()
    const faults = new Faults()
    const log: Array<MutableEntry> = []
    // Long-polling fetches waiting for the log to change.
    const waiters = new Set<Deferred.Deferred<void>>()

    const notify = (): void => {
      if (waiters.size === 0) return
      for (const d of waiters) Deferred.unsafeDone(d, Exit.void)
      waiters.clear()
    }

    const createTopicSync = (topic: string, partitions: number): void => {
      const logs: Array<PartitionLog> = []
      // Leaders spread round-robin, shifted per topic as Kafka's assignment does.
      const shift = topics.size
      for (let p = 0; p < partitions; p++) logs.push(new PartitionLog(topic, p, (p + shift) % brokerCount))
      topics.set(topic, logs)
    }
    for (const [name, count] of Object.entries(options.topics ?? {})) createTopicSync(name, count)

    const lookup = (tp: TopicPartition.TopicPartition): PartitionLog | undefined => topics.get(tp.topic)?.[tp.partition]

    const partitionLog = (tp: TopicPartition.TopicPartition): Effect.Effect<PartitionLog, BrokerModelError> =>
      Effect.suspend(() => {
        const p = lookup(tp)
        return p === undefined
          ? Effect.fail(modelError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${TopicPartition.format(tp)} does not exist`))
          : Effect.succeed(p)
      })

    const setBrokerAddress = (nodeId: number, host: string, port: number) =>
      Effect.suspend(() => {
        if (brokers[nodeId] === undefined) return Effect.fail(modelError(ErrorCode.INVALID_REQUEST, `no broker ${nodeId}`))
        brokers[nodeId] = { ...brokers[nodeId], host, port }
        return Effect.void
      })

    const createTopic = Effect.fn("BrokerModel.createTopic")(function* (topic: string, partitions: number) {
      if (topics.has(topic)) return yield* modelError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${topic} exists`)
      if (!Number.isInteger(partitions) || partitions < 1) {
        return yield* modelError(ErrorCode.INVALID_PARTITIONS, `${partitions} partitions`)
      }
      createTopicSync(topic, partitions)
    })

    const deleteTopic = Effect.fn("BrokerModel.deleteTopic")(function* (topic: string) {
      if (!topics.delete(topic)) return yield* modelError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic} does not exist`)
      notify()
    })

    const metadata = (names?: ReadonlyArray<string>) =>
      Effect.sync(() => {
        const out: Array<TopicMetadata> = []
        for (const name of names ?? Array.from(topics.keys())) {
          const logs = topics.get(name)
          if (logs === undefined) continue
          out.push({
            name,
            partitions: logs.map((p) => ({
              partition: p.partition,
              leader: p.leader,
              leaderEpoch: p.leaderEpoch,
              replicas: [p.leader],
              isr: [p.leader],
            })),
          })
        }
        return out
      })

    const produce = Effect.fn("BrokerModel.produce")(function* (
      tp: TopicPartition.TopicPartition,
      records: ReadonlyArray<ProducedRecord>,
      batch?: BatchOptions,
    ) {
      if (!topics.has(tp.topic) && options.autoCreateTopics !== undefined) {
        createTopicSync(tp.topic, options.autoCreateTopics.partitions)
      }
      const p = yield* partitionLog(tp)
      const now = yield* Clock.currentTimeMillis
      const incoming: Array<NewRecord> = new Array(records.length)
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        incoming[i] = {
          key: toBytes(r.key),
          value: toBytes(r.value),
          headers: toHeaders(r.headers),
          timestamp: r.timestamp ?? now,
        }
      }
      const base = p.append(
        incoming,
        {
          attributes: batch?.attributes ?? 0,
          producerId: batch?.producerId ?? -1n,
          producerEpoch: batch?.producerEpoch ?? -1,
          baseSequence: batch?.baseSequence ?? -1,
          raw: batch?.raw,
          decodeRaw: batch?.decodeRaw,
        },
        now,
      )
      notify()
      return base
    })

    const deleteRecords = Effect.fn("BrokerModel.deleteRecords")(function* (
      tp: TopicPartition.TopicPartition,
      beforeOffset: bigint,
    ) {
      const p = yield* partitionLog(tp)
      const target = beforeOffset === -1n ? p.highWatermark : beforeOffset
      if (target < 0n || target > p.highWatermark) {
        return yield* modelError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `${TopicPartition.format(tp)}: ${beforeOffset} is beyond the high watermark ${p.highWatermark}`,
        )
      }
      p.deleteBefore(target)
      notify()
      return p.logStartOffset
    })

    const compact = Effect.fn("BrokerModel.compact")(function* (tp: TopicPartition.TopicPartition) {
      const p = yield* partitionLog(tp)
      p.compact()
      notify()
    })

    const truncate = Effect.fn("BrokerModel.truncate")(function* (tp: TopicPartition.TopicPartition, toOffset: bigint) {
      const p = yield* partitionLog(tp)
      if (toOffset < 0n || toOffset > p.highWatermark) {
        return yield* modelError(
          ErrorCode.INVALID_REQUEST,
          `${TopicPartition.format(tp)}: cannot truncate to ${toOffset}, high watermark is ${p.highWatermark}`,
        )
      }
      p.truncate(toOffset)
      notify()
    })

    const moveLeader = Effect.fn("BrokerModel.moveLeader")(function* (tp: TopicPartition.TopicPartition, brokerId: number) {
      const p = yield* partitionLog(tp)
      if (brokers[brokerId] === undefined) return yield* modelError(ErrorCode.INVALID_REQUEST, `no broker ${brokerId}`)
      p.leader = brokerId
      p.leaderEpoch += 1
      notify()
    })

    const stateOf = (p: PartitionLog): PartitionState => ({
      topic: p.topic,
      partition: p.partition,
      logStartOffset: p.logStartOffset,
      highWatermark: p.highWatermark,
      offsets: p.offsets(),
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
    })

    const partitionState = (tp: TopicPartition.TopicPartition) => Effect.map(partitionLog(tp), stateOf)
    const partitionOffsets = (tp: TopicPartition.TopicPartition) =>
      Effect.map(partitionLog(tp), (p): Omit<PartitionState, "offsets"> => ({
        topic: p.topic,
        partition: p.partition,
        logStartOffset: p.logStartOffset,
        highWatermark: p.highWatermark,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
      }))
    const batches = (tp: TopicPartition.TopicPartition) =>
      Effect.map(partitionLog(tp), (p): ReadonlyArray<RecordBatch> => p.batches.slice())

    // The request path: log, latency, faults.
    const begin = (api: Api, partitions: ReadonlyArray<TopicPartition.TopicPartition>, brokerId: number | undefined) =>
      Effect.gen(function* () {
        const at = yield* Clock.currentTimeMillis
        const entry: MutableEntry = { api, at, partitions, outcome: "ok", errors: noErrors }
        if (brokerId !== undefined) entry.brokerId = brokerId
        log.push(entry)
        const latency = faults.latency.get(api)
        if (latency !== undefined) yield* Effect.sleep(latency)
        const injection = faults.take(api, partitions.map(TopicPartition.key))
        if (injection._tag === "Fail") {
          entry.outcome = "fault"
          entry.fault = injection.fault
          return yield* new RequestFault({ api, reason: injection.fault._tag === "Network" ? "Network" : "Timeout" })
        }
        if (injection._tag === "Codes") entry.outcome = "fault"
        return { entry, injection }
      })

    const serve = <A, E, R>(
      api: Api,
      partitions: ReadonlyArray<TopicPartition.TopicPartition>,
      answer: (context: ServeContext) => Effect.Effect<A, E, R>,
      serveOptions?: { readonly brokerId?: number },
    ): Effect.Effect<A, E | RequestFault, R> =>
      Effect.flatMap(begin(api, partitions, serveOptions?.brokerId), ({ entry, injection }) =>
        answer({
          injectedCode: (tp) => injectedCode(injection, TopicPartition.key(tp)),
          requestCode: injection._tag === "Codes" ? injection.all : undefined,
          reportErrors: (errors) => {
            entry.errors = errors
          },
        }),
      ).pipe(Effect.withSpan(`BrokerModel.serve ${api}`))

    const readFetch = (
      request: FetchRequest,
      injection: Injection,
      keys: ReadonlyArray<string>,
    ): { results: Array<FetchPartitionResult>; count: number; bytes: number; errors: Array<PartitionErrorCode> } => {
      const results: Array<FetchPartitionResult> = new Array(request.partitions.length)
      const errors: Array<PartitionErrorCode> = []
      let count = 0
      let bytes = 0
      const granularity = request.granularity ?? "record"
      for (let i = 0; i < request.partitions.length; i++) {
        const req = request.partitions[i]
        const p = lookup(req)
        let code = injectedCode(injection, keys[i])
        if (code === undefined) {
          if (p === undefined) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          else if (request.brokerId !== undefined && p.leader !== request.brokerId) code = ErrorCode.NOT_LEADER_OR_FOLLOWER
          else if (req.offset < p.logStartOffset || req.offset > p.highWatermark) code = ErrorCode.OFFSET_OUT_OF_RANGE
        }
        if (code !== undefined || p === undefined) {
          const c = code ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          errors.push({ topic: req.topic, partition: req.partition, code: c })
          results[i] = {
            _tag: "Error",
            topic: req.topic,
            partition: req.partition,
            code: c,
            highWatermark: p?.highWatermark ?? -1n,
            logStartOffset: p?.logStartOffset ?? -1n,
          }
          continue
        }
        const read = p.read(req.offset, {
          partitionMaxBytes: req.maxBytes,
          responseRemaining: request.maxBytes - bytes,
          responseEmpty: count === 0,
          granularity,
        })
        let records: ReadonlyArray<ConsumerRecord.ConsumerRecord> | undefined
        count += read.count
        bytes += read.bytes
        results[i] = {
          _tag: "Records",
          topic: req.topic,
          partition: req.partition,
          highWatermark: p.highWatermark,
          lastStableOffset: p.highWatermark,
          logStartOffset: p.logStartOffset,
          // Under "batch" granularity built only if someone reads them (the wire broker serves bytes).
          get records() {
            if (granularity === "record") return read.records
            records ??= read.batches.flatMap((b) => b.records.filter((r) => r.offset >= req.offset))
            return records
          },
          batches: read.batches,
          bytes: read.bytes,
          nextOffset: read.nextOffset,
        }
      }
      return { results, count, bytes, errors }
    }

    const fetch = Effect.fn("BrokerModel.fetch")(function* (request: FetchRequest) {
      const tps = request.partitions.map((p) => TopicPartition.make(p.topic, p.partition))
      const keys = tps.map(TopicPartition.key)
      const { entry, injection } = yield* begin("Fetch", tps, request.brokerId)
      const deadline = (yield* Clock.currentTimeMillis) + Math.max(0, request.maxWaitMs)
      let answer = readFetch(request, injection, keys)
      // Long poll: hold the request while it has no error and less than minBytes, waking on any log change.
      const satisfied = (): boolean =>
        answer.errors.length > 0 || request.minBytes <= 0 || (answer.count > 0 && answer.bytes >= request.minBytes) ||
        (answer.count > 0 && request.minBytes <= 1)
      while (!satisfied()) {
        const remaining = deadline - (yield* Clock.currentTimeMillis)
        if (remaining <= 0) break
        const wake = yield* Deferred.make<void>()
        waiters.add(wake)
        yield* Deferred.await(wake).pipe(
          Effect.timeoutOption(Duration.millis(remaining)),
          Effect.ensuring(Effect.sync(() => waiters.delete(wake))),
        )
        answer = readFetch(request, injection, keys)
      }
      entry.errors = answer.errors
      return answer.results
    })

    const listOffsets = Effect.fn("BrokerModel.listOffsets")(function* (
      partitions: ReadonlyArray<TopicPartition.TopicPartition>,
      spec: ListOffsetsSpec,
      listOptions?: { readonly brokerId?: number },
    ) {
      const brokerId = listOptions?.brokerId
      const { entry, injection } = yield* begin("ListOffsets", partitions, brokerId)
      const errors: Array<PartitionErrorCode> = []
      const results = partitions.map((tp): ListOffsetsPartitionResult => {
        const p = lookup(tp)
        let code = injectedCode(injection, TopicPartition.key(tp))
        if (code === undefined) {
          if (p === undefined) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          else if (brokerId !== undefined && p.leader !== brokerId) code = ErrorCode.NOT_LEADER_OR_FOLLOWER
        }
        if (code !== undefined || p === undefined) {
          const c = code ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          errors.push({ topic: tp.topic, partition: tp.partition, code: c })
          return { topic: tp.topic, partition: tp.partition, code: c, offset: -1n, timestamp: -1, leaderEpoch: -1 }
        }
        const base = { topic: tp.topic, partition: tp.partition, code: ErrorCode.NONE, leaderEpoch: p.leaderEpoch }
        if (spec === "earliest") return { ...base, offset: p.logStartOffset, timestamp: -1 }
        if (spec === "latest") return { ...base, offset: p.highWatermark, timestamp: -1 }
        const found = p.offsetForTimestamp(spec.timestamp)
        return found === undefined ? { ...base, offset: -1n, timestamp: -1 } : { ...base, ...found }
      })
      entry.errors = errors
      return results
    })

    const failNext = (api: Api, count: number, fault: Fault, partitions?: ReadonlyArray<TopicPartition.TopicPartition>) =>
      Effect.sync(() => faults.add(api, count, fault, partitions))

    const setLatency = (api: Api, latency: Duration.DurationInput) =>
      Effect.sync(() => {
        const d = Duration.decode(latency)
        if (Duration.toMillis(d) <= 0) faults.latency.delete(api)
        else faults.latency.set(api, d)
      })

    const commitOffsets: Service["commitOffsets"] = (group, offsets) =>
      Effect.sync(() => {
        let g = groups.get(group)
        if (g === undefined) {
          g = new Map()
          groups.set(group, g)
        }
        for (const o of offsets) {
          g.set(TopicPartition.key(o), {
            topic: o.topic,
            partition: o.partition,
            offset: o.offset,
            metadata: o.metadata ?? null,
          })
        }
      })

    const committedOffsets: Service["committedOffsets"] = (group, partitions) =>
      Effect.sync(() => {
        const g = groups.get(group)
        return partitions.map(
          (tp) => g?.get(TopicPartition.key(tp)) ?? { topic: tp.topic, partition: tp.partition, offset: -1n, metadata: null },
        )
      })

    const service: Service = {
      clusterId,
      brokers,
      controllerId: 0,
      setBrokerAddress,
      createTopic,
      deleteTopic,
      metadata,
      produce,
      deleteRecords,
      compact,
      truncate,
      moveLeader,
      partitionState,
      partitionOffsets,
      batches,
      fetch,
      listOffsets,
      serve,
      failNext,
      setLatency,
      clearFaults: Effect.sync(() => faults.clear()),
      requests: Effect.sync((): ReadonlyArray<RequestLogEntry> => log.slice()),
      clearRequests: Effect.sync(() => {
        log.length = 0
      }),
      commitOffsets,
      committedOffsets,
    }
    return service
  })

/**
 * A fresh model per layer build.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<BrokerModel> => Layer.effect(BrokerModel, make(options))
