/**
 * The Producer: records into Kafka over kafkajs's producer, on a kafkajs cluster of its own that
 * lives as long as the scope (connected when the layer is built, disconnected when it closes).
 * kafkajs's retrier is off (the idempotent producer keeps the one retry kafkajs insists on); a failed
 * send is retried on an Effect `Schedule` while its error is retriable. Each send is one span with
 * Kafka's messaging attributes, writes that span's W3C `traceparent` into every record's headers (so
 * a consumer's `Tracing.withRecordSpan` continues the trace; `propagateTrace: false` turns it off),
 * and counts records, bytes and errors as metrics. `withSchema` sends typed values, encoded by a
 * `Schema` (the same schemas `RecordSchema.decode` reads with).
 *
 * @since 0.1.0
 */
import {
  Config,
  type ConfigError,
  Context,
  Data,
  Duration,
  Effect,
  Either,
  Layer,
  Metric,
  Option,
  ParseResult,
  Schedule,
  Schema,
  type Scope,
  SynchronizedRef,
} from "effect"
import { ConsumerMetrics, KafkaError, Tracing } from "@kafka-effect/core"
import * as KafkaClient from "./KafkaClient.js"
import { scopedCluster } from "./internal/cluster.js"
import * as Errors from "./internal/errors.js"
import * as K from "./internal/kafkajs.js"
import { InvalidRecord, PartitionerAnswer, type ProduceError, produceError } from "./internal/produceErrors.js"

export {
  /**
   * A record that cannot be sent as given: names the record's place, the field and the value.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidRecord,
  /**
   * A send failed and no record of it is known to be written: the reason (tagged), whether a retry
   * can help, the topic and partition when the send had one, Kafka's error code when a broker answered.
   *
   * @since 0.1.0
   * @category errors
   */
  ProduceError,
  /**
   * How a send failed: the transport reasons of the consumer side, or a broker's answer.
   *
   * @since 0.1.0
   * @category errors
   */
  type ProduceErrorReason,
} from "./internal/produceErrors.js"

// ---------------------------------------------------------------------------------------------
// options

/**
 * `all`: every in-sync replica (-1); `leader`: the leader alone (1); `none`: no answer at all (0).
 *
 * @since 0.1.0
 * @category models
 */
export type Acks = "all" | "leader" | "none"

/**
 * `gzip` is built into kafkajs. `snappy`, `lz4` and `zstd` work once a codec is registered in
 * kafkajs's `CompressionCodecs` (e.g. from the `kafkajs-snappy` package); without one they are an
 * `InvalidConfig` when the producer is made.
 *
 * @since 0.1.0
 * @category models
 */
export type Compression = "none" | "gzip" | "snappy" | "lz4" | "zstd"

/**
 * Where a record without an explicit `partition` goes. `murmur2`: Java's partitioner (murmur2 of the
 * key, so keys land where Java and librdkafka's `murmur2_random` put them; round robin without a key).
 * `legacy`: kafkajs 1.x's hash. A function answers a partition in `[0, partitionCount)`.
 *
 * @since 0.1.0
 * @category models
 */
export type Partitioner =
  | "murmur2"
  | "legacy"
  | ((record: { readonly topic: string; readonly partitionCount: number; readonly key: Uint8Array | null }) => number)

/**
 * Options of the Producer: the client's connection options plus acks, idempotence, compression, the
 * partitioner, the ack timeout, topic auto-creation, the retry schedule and trace propagation.
 *
 * @since 0.1.0
 * @category options
 */
export interface ProducerOptions
  extends Pick<
    KafkaClient.KafkaOptions,
    "brokers" | "clientId" | "ssl" | "sasl" | "connectionTimeout" | "requestTimeout" | "logLevel"
  > {
  /** Default `all`. */
  readonly acks?: Acks
  /**
   * The idempotent producer (a producer id and per-partition sequence numbers, so that a retried
   * batch is written once). Needs `acks: "all"`. Default false.
   */
  readonly idempotent?: boolean
  /** Default `none`. */
  readonly compression?: Compression
  /** Default `murmur2`. */
  readonly partitioner?: Partitioner
  /** How long the broker may wait for the replicas' acknowledgement (the Produce request's timeout). Default 30 seconds. */
  readonly ackTimeout?: Duration.DurationInput
  /**
   * Whether the producer's Metadata requests may create a topic that does not exist (the broker's
   * `auto.create.topics.enable` must allow it too). Default false: a send to an unknown topic fails
   * with `UnknownTopicOrPartition`.
   */
  readonly allowAutoTopicCreation?: boolean
  /** Retries of a failed send while its error is retriable. Default: exponential from 100ms, jittered, 5 retries. */
  readonly retrySchedule?: Schedule.Schedule<unknown, unknown>
  /**
   * Whether each record gets a `traceparent` header naming the send's span (W3C trace context; a
   * record that already has one keeps its own). Default true.
   */
  readonly propagateTrace?: boolean
}

/**
 * The validated options.
 *
 * @since 0.1.0
 * @category options
 */
export interface ProducerConfig {
  readonly connection: KafkaClient.KafkaConfig
  readonly acks: Acks
  readonly idempotent: boolean
  readonly compression: Compression
  readonly partitioner: Partitioner
  readonly ackTimeoutMs: number
  readonly allowAutoTopicCreation: boolean
  readonly retrySchedule: Schedule.Schedule<unknown, unknown>
  readonly propagateTrace: boolean
}

/**
 * The retry schedule of a retriable send failure: exponential from 100 ms, jittered, at most 5 retries.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(5)),
)

const invalid = (field: string, value: unknown, reason: string) =>
  Either.left(new KafkaError.InvalidConfig({ field, value, reason }))

const acksCode: Record<Acks, number> = { all: -1, leader: 1, none: 0 }

const compressionCode: Record<Compression, number> = {
  none: K.CompressionTypes.None,
  gzip: K.CompressionTypes.GZIP,
  snappy: K.CompressionTypes.Snappy,
  lz4: K.CompressionTypes.LZ4,
  zstd: K.CompressionTypes.ZSTD,
}

/**
 * Checks every option; the error names the first bad field and its value (never a password).
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (options: ProducerOptions): Either.Either<ProducerConfig, KafkaError.InvalidConfig> =>
  Either.gen(function* () {
    const {
      acks: _acks,
      idempotent: _idempotent,
      compression: _compression,
      partitioner: _partitioner,
      ackTimeout: _ackTimeout,
      allowAutoTopicCreation: _allowAutoTopicCreation,
      retrySchedule: _retrySchedule,
      propagateTrace: _propagateTrace,
      ...connectionOptions
    } = options
    // The producer's own fields are checked below; anything else must be a client option.
    const connection = yield* KafkaClient.validate(connectionOptions)
    const acks = options.acks ?? "all"
    if (!Object.hasOwn(acksCode, acks)) return yield* invalid("acks", acks, "must be all, leader or none")
    const idempotent = options.idempotent ?? false
    if (typeof idempotent !== "boolean") return yield* invalid("idempotent", idempotent, "must be a boolean")
    if (idempotent && acks !== "all") {
      return yield* invalid("acks", acks, "the idempotent producer needs acks all")
    }
    const compression = options.compression ?? "none"
    if (!Object.hasOwn(compressionCode, compression)) {
      return yield* invalid("compression", compression, "must be none, gzip, snappy, lz4 or zstd")
    }
    if (compression !== "none" && !K.hasCodec(compressionCode[compression])) {
      return yield* invalid(
        "compression",
        compression,
        "kafkajs has no codec for it: register one in kafkajs's CompressionCodecs first (gzip is built in)",
      )
    }
    const partitioner = options.partitioner ?? "murmur2"
    if (partitioner !== "murmur2" && partitioner !== "legacy" && typeof partitioner !== "function") {
      return yield* invalid("partitioner", partitioner, "must be murmur2, legacy or a function")
    }
    let ackTimeoutMs = 30_000
    if (options.ackTimeout !== undefined) {
      const d = Duration.decodeUnknown(options.ackTimeout)
      if (Option.isNone(d) || !Duration.isFinite(d.value)) {
        return yield* invalid("ackTimeout", options.ackTimeout, "must be a finite duration")
      }
      ackTimeoutMs = Math.round(Duration.toMillis(d.value))
      if (ackTimeoutMs < 1 || ackTimeoutMs > 2_147_483_647) {
        return yield* invalid("ackTimeout", options.ackTimeout, "must be between 1ms and 2^31-1 ms")
      }
    }
    const allowAutoTopicCreation = options.allowAutoTopicCreation ?? false
    if (typeof allowAutoTopicCreation !== "boolean") {
      return yield* invalid("allowAutoTopicCreation", allowAutoTopicCreation, "must be a boolean")
    }
    if (options.retrySchedule !== undefined && !Schedule.isSchedule(options.retrySchedule)) {
      return yield* invalid("retrySchedule", options.retrySchedule, "must be a Schedule")
    }
    const propagateTrace = options.propagateTrace ?? true
    if (typeof propagateTrace !== "boolean") return yield* invalid("propagateTrace", propagateTrace, "must be a boolean")
    return {
      propagateTrace,
      connection,
      acks,
      idempotent,
      compression,
      partitioner,
      ackTimeoutMs,
      allowAutoTopicCreation,
      retrySchedule: options.retrySchedule ?? defaultRetrySchedule,
    }
  })

// ---------------------------------------------------------------------------------------------
// records

/**
 * A key, value or header value: a string is written as its UTF-8 bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type Bytes = string | Uint8Array

/**
 * A record to send: key, value (`null` is a tombstone), an optional partition, headers and timestamp.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProducerRecord {
  readonly key?: Bytes | null
  /** `null` is a tombstone (deletes the key under compaction). */
  readonly value: Bytes | null
  /** An explicit partition; without one the partitioner picks. */
  readonly partition?: number
  /** Header values; an array writes the same header name several times, in order. */
  readonly headers?: Readonly<Record<string, Bytes | ReadonlyArray<Bytes>>>
  /** The record's CreateTime (epoch millis, or a Date). Default: now. */
  readonly timestamp?: bigint | number | Date
}

/**
 * Where a sent batch landed: one entry per partition written (none when `acks` is `none`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordMetadata {
  readonly topic: string
  readonly partition: number
  /** The offset of the first record of the batch written to this partition. */
  readonly baseOffset: bigint
  /** The broker's append time when the topic uses LogAppendTime, -1 otherwise (Kafka's convention). */
  readonly logAppendTime: bigint
}

/**
 * Records for one topic, for `sendBatch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TopicRecords {
  readonly topic: string
  readonly records: ReadonlyArray<ProducerRecord>
}

const isBytes = (u: unknown): u is Bytes => typeof u === "string" || u instanceof Uint8Array

const toBuffer = (b: Bytes): Buffer =>
  typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b.buffer, b.byteOffset, b.byteLength)

interface Converted {
  readonly message: K.ProducerMessage
  readonly bytes: number
}

const convert = (
  topic: string,
  index: number,
  record: ProducerRecord,
  traceparent: Buffer | undefined,
): Either.Either<Converted, InvalidRecord> => {
  const bad = (field: string, value: unknown, reason: string) =>
    Either.left(new InvalidRecord({ topic, index, field, value, reason }))
  if (typeof record !== "object" || record === null) return bad("record", record, "must be an object")
  if (record.value !== null && !isBytes(record.value)) return bad("value", record.value, "must be a string, a Uint8Array or null")
  if (record.key !== undefined && record.key !== null && !isBytes(record.key)) {
    return bad("key", record.key, "must be a string, a Uint8Array or null")
  }
  if (record.partition !== undefined && !(Number.isSafeInteger(record.partition) && record.partition >= 0)) {
    return bad("partition", record.partition, "must be a non-negative integer")
  }
  const value = record.value === null ? null : toBuffer(record.value)
  const key = record.key === undefined || record.key === null ? null : toBuffer(record.key)
  let bytes = (value?.byteLength ?? 0) + (key?.byteLength ?? 0)
  let headers: Record<string, Buffer | Array<Buffer>> | undefined
  if (record.headers !== undefined) {
    if (typeof record.headers !== "object" || record.headers === null) return bad("headers", record.headers, "must be an object")
    headers = {}
    for (const [name, v] of Object.entries(record.headers)) {
      if (Array.isArray(v)) {
        const values: Array<Buffer> = []
        for (const one of v) {
          if (!isBytes(one)) return bad(`headers.${name}`, one, "must be a string or a Uint8Array")
          values.push(toBuffer(one))
        }
        headers[name] = values
        for (const one of values) bytes += name.length + one.byteLength
      } else if (isBytes(v)) {
        const one = toBuffer(v)
        headers[name] = one
        bytes += name.length + one.byteLength
      } else {
        return bad(`headers.${name}`, v, "must be a string, a Uint8Array or an array of them")
      }
    }
  }
  if (traceparent !== undefined && (headers === undefined || !Object.hasOwn(headers, Tracing.traceparentHeader))) {
    headers = { ...headers, [Tracing.traceparentHeader]: traceparent }
    bytes += Tracing.traceparentHeader.length + traceparent.byteLength
  }
  let timestamp: string | undefined
  if (record.timestamp !== undefined) {
    const t = record.timestamp
    const ms = t instanceof Date ? t.getTime() : typeof t === "bigint" ? Number(t) : t
    if (!(typeof ms === "number" && Number.isSafeInteger(ms) && ms >= 0)) {
      return bad("timestamp", t, "must be a non-negative epoch millisecond count or a valid Date")
    }
    timestamp = String(ms)
  }
  return Either.right({
    message: {
      key,
      value,
      ...(record.partition === undefined ? {} : { partition: record.partition }),
      ...(headers === undefined ? {} : { headers }),
      ...(timestamp === undefined ? {} : { timestamp }),
    },
    bytes,
  })
}

// ---------------------------------------------------------------------------------------------
// the service

/**
 * The Producer service: `send` and `sendBatch`, with typed errors, spans and metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProducerService {
  readonly config: ProducerConfig
  /** Sends records to one topic. */
  readonly send: (
    topic: string,
    records: ReadonlyArray<ProducerRecord>,
  ) => Effect.Effect<ReadonlyArray<RecordMetadata>, ProduceError | InvalidRecord>
  /** Sends records to several topics in one go (one Produce request per leader). */
  readonly sendBatch: (
    batches: ReadonlyArray<TopicRecords>,
  ) => Effect.Effect<ReadonlyArray<RecordMetadata>, ProduceError | InvalidRecord>
}

/**
 * The Producer service's tag.
 *
 * @since 0.1.0
 * @category services
 */
export class Producer extends Context.Tag("@kafka-effect/kafka/Producer")<Producer, ProducerService>() {}

const kafkaSystem = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) =>
  ConsumerMetrics.tagged(metric, ConsumerMetrics.tags.system, "kafka")

/**
 * Records and bytes (keys, values, header names and values) acknowledged, per topic
 * (`messaging.destination.name`); failed sends, per `error.type` (the `ProduceError` reason); the
 * duration of each send (`messaging.client.operation.duration`, operation `send`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  recordsSent: kafkaSystem(
    Metric.counter("messaging.client.sent.messages", { description: "Records written by the producer", incremental: true }),
  ),
  bytesSent: kafkaSystem(
    Metric.counter("kafka.producer.bytes_sent", {
      description: "Key, value and header bytes of the records written by the producer",
      incremental: true,
    }),
  ),
  sendErrors: kafkaSystem(
    Metric.counter("kafka.producer.send_errors", { description: "Sends that failed after their retries", incremental: true }),
  ),
  sendDuration: ConsumerMetrics.tagged(ConsumerMetrics.operationDuration, ConsumerMetrics.tags.operation, "send"),
} as const

const partitionerFactory = (p: Partitioner, indexOf: WeakMap<K.ProducerMessage, number>): K.PartitionerFactory => {
  if (p === "murmur2") return K.DefaultPartitioner
  if (p === "legacy") return K.LegacyPartitioner
  return () =>
    ({ topic, partitionMetadata, message }) => {
      if (message.partition !== undefined) return message.partition
      const partitionCount = partitionMetadata.length
      const answer = p({ topic, partitionCount, key: message.key })
      if (!(Number.isSafeInteger(answer) && answer >= 0 && answer < partitionCount)) {
        throw new PartitionerAnswer(topic, indexOf.get(message) ?? -1, answer, partitionCount)
      }
      return answer
    }
}

/**
 * Each message keeps the partition the partitioner first gave it, so that a retried send writes the
 * same batches (and an idempotent producer's sequence numbers mean the same records).
 */
const pinnedPartitioner = (factory: K.PartitionerFactory): K.PartitionerFactory => () => {
  const partitioner = factory()
  const pinned = new WeakMap<K.ProducerMessage, number>()
  return (args) => {
    const earlier = pinned.get(args.message)
    if (earlier !== undefined && earlier < args.partitionMetadata.length) return earlier
    const answer = partitioner(args)
    pinned.set(args.message, answer)
    return answer
  }
}

/**
 * The producer, connected for as long as the scope lives (and, when idempotent, with its producer
 * id). No broker reachable at start: a `MetadataError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: ProducerOptions): Effect.Effect<ProducerService, KafkaError.InvalidConfig | KafkaClient.MetadataError, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* validate(options)
    const cluster = yield* scopedCluster(config.connection, {
      clientId: config.connection.clientId,
      isolationLevel: 0,
      allowAutoTopicCreation: config.allowAutoTopicCreation,
    })
    const indexOf = new WeakMap<K.ProducerMessage, number>()
    const createPartitioner = pinnedPartitioner(partitionerFactory(config.partitioner, indexOf))
    const newProducer = () =>
      K.producer(cluster, {
        createPartitioner,
        // kafkajs refuses an idempotent producer without retries; it gets the one retry kafkajs insists on.
        retry: config.idempotent ? { retries: 1, initialRetryTime: 100, maxRetryTime: 100 } : { retries: 0 },
        idempotent: config.idempotent,
      })
    const connect = <E>(producer: K.KafkaJSProducer, onError: (e: unknown) => E) =>
      Effect.as(Effect.tryPromise({ try: () => producer.connect(), catch: onError }), producer)
    // The kafkajs producer in use, and whether it must be replaced before the next send. An idempotent
    // send that failed may still have been written: kafkajs then keeps the partitions' sequence numbers
    // where they were and hands them to the next batch, which the broker takes for a duplicate of the
    // written one and acknowledges without writing it. A new producer (a new producer id, sequences from
    // 0) before the next send keeps every acknowledgement true, as the Java producer bumps its epoch.
    const current = yield* Effect.acquireRelease(
      Effect.flatMap(connect(newProducer(), (e) => Errors.metadataError(e, [])), (producer) => SynchronizedRef.make({ producer, stale: false })),
      (ref) =>
        Effect.flatMap(SynchronizedRef.get(ref), ({ producer }) =>
          Effect.tryPromise(() => producer.disconnect()).pipe(
            Effect.catchAll((e) => Effect.logDebug("kafka: producer disconnect failed", e)),
          ),
        ),
    )
    /** The producer to send with: a stale one is replaced first (its cluster, shared, stays connected). */
    const producerForSend = <E>(onError: (e: unknown) => E) => SynchronizedRef.modifyEffect(current, (s) =>
      s.stale
        ? Effect.map(
            Effect.tap(connect(newProducer(), onError), () => Effect.logDebug("kafka: idempotent producer replaced after a failed send")),
            (producer) => [producer, { producer, stale: false }] as const,
          )
        : Effect.succeed([s.producer, s] as const),
    )
    const markStale = (used: K.KafkaJSProducer) =>
      SynchronizedRef.update(current, (s) => (s.producer === used ? { ...s, stale: true } : s))

    const acks = acksCode[config.acks]
    const compression = compressionCode[config.compression]

    const sendBatch = (batches: ReadonlyArray<TopicRecords>, spanName: string) =>
      Effect.gen(function* () {
        const traceparent = config.propagateTrace
          ? Option.getOrUndefined(Option.map(yield* Tracing.currentTraceparent, (t) => Buffer.from(t, "latin1")))
          : undefined
        const topicMessages: Array<{ topic: string; messages: Array<K.ProducerMessage> }> = []
        const bytesPerTopic = new Map<string, number>()
        const partitions = new Set<number | undefined>()
        let records = 0
        for (const { topic, records: rs } of batches) {
          if (typeof topic !== "string" || topic.length === 0) {
            return yield* new InvalidRecord({ topic: String(topic), index: -1, field: "topic", value: topic, reason: "must be a non-empty string" })
          }
          const messages: Array<K.ProducerMessage> = []
          let bytes = 0
          for (let i = 0; i < rs.length; i++) {
            const c = yield* convert(topic, i, rs[i]!, traceparent)
            indexOf.set(c.message, i)
            messages.push(c.message)
            partitions.add(c.message.partition)
            bytes += c.bytes
          }
          records += messages.length
          bytesPerTopic.set(topic, (bytesPerTopic.get(topic) ?? 0) + bytes)
          topicMessages.push({ topic, messages })
        }
        const topics = [...bytesPerTopic.keys()]
        const [onlyPartition] = partitions
        const partition = partitions.size === 1 ? onlyPartition : undefined
        yield* Effect.annotateCurrentSpan({
          "messaging.system": "kafka",
          "messaging.operation.name": "send",
          "messaging.operation.type": "send",
          "messaging.batch.message_count": records,
          "messaging.client.id": config.connection.clientId,
          ...(topics.length === 1 ? { "messaging.destination.name": topics[0] } : { "messaging.destination.names": topics }),
          ...(partition === undefined ? {} : { "messaging.destination.partition.id": String(partition) }),
        })
        if (records === 0) return []
        const producer = yield* producerForSend((e) => produceError(e, { topics, partition, records }))
        const answer = yield* Effect.tryPromise({
          try: () => producer.sendBatch({ acks, timeout: config.ackTimeoutMs, compression, topicMessages }),
          catch: (e) => produceError(e, { topics, partition, records }),
        }).pipe(
          ConsumerMetrics.timed(metrics.sendDuration),
          // Retries send the same records to the same partitions (the partitioner's answers are pinned)
          // with the same sequence numbers, so the broker drops a retry of a batch it already wrote.
          Effect.retry({
            schedule: config.retrySchedule,
            while: (e) => e._tag === "ProduceError" && e.retriable,
          }),
          Effect.tapError((e) => (config.idempotent && e._tag === "ProduceError" ? markStale(producer) : Effect.void)),
          Effect.tapError((e) => {
            const reason: string = e._tag === "ProduceError" ? e.reason : "InvalidRecord"
            return Metric.increment(ConsumerMetrics.tagged(metrics.sendErrors, ConsumerMetrics.tags.errorType, reason))
          }),
        )
        for (const [topic, bytes] of bytesPerTopic) {
          const count = topicMessages.filter((t) => t.topic === topic).reduce((n, t) => n + t.messages.length, 0)
          yield* Metric.incrementBy(ConsumerMetrics.forTopic(metrics.recordsSent, topic), count)
          yield* Metric.incrementBy(ConsumerMetrics.forTopic(metrics.bytesSent, topic), bytes)
        }
        const written: Array<RecordMetadata> = answer.map((r) => ({
          topic: r.topicName,
          partition: r.partition,
          baseOffset: BigInt(r.baseOffset ?? "-1"),
          logAppendTime: BigInt(r.logAppendTime ?? "-1"),
        }))
        const landed = new Set(written.map((w) => w.partition))
        const [first] = written
        if (partition === undefined && landed.size === 1 && first !== undefined) {
          yield* Effect.annotateCurrentSpan("messaging.destination.partition.id", String(first.partition))
        }
        if (written.length === 1 && first !== undefined) {
          yield* Effect.annotateCurrentSpan("messaging.kafka.offset", Number(first.baseOffset))
        }
        return written
      }).pipe(Effect.withSpan(spanName, { kind: "producer" }), ConsumerMetrics.labelEffect({ clientId: config.connection.clientId }))

    const send = (topic: string, records: ReadonlyArray<ProducerRecord>) => sendBatch([{ topic, records }], "Producer.send")

    return {
      config,
      send,
      sendBatch: (batches: ReadonlyArray<TopicRecords>) => sendBatch(batches, "Producer.sendBatch"),
    } satisfies ProducerService
  })

// ---------------------------------------------------------------------------------------------
// typed values

/**
 * A record whose key and value are typed; `withSchema`'s schemas encode them to bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedRecord<V, K> extends Omit<ProducerRecord, "key" | "value"> {
  readonly key?: K
  readonly value: V
}

/**
 * A key or value that its schema could not encode; nothing of the send was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class RecordEncodeError extends Data.TaggedError("RecordEncodeError")<{
  readonly topic: string
  /** The record's index in its topic's records. */
  readonly index: number
  readonly field: "key" | "value"
  /** The parse issue, formatted (`TreeFormatter`). */
  readonly issue: string
  readonly cause: ParseResult.ParseError
}> {
  override get message(): string {
    return `The ${this.field} of record ${this.index} for ${this.topic} does not encode: ${this.issue}`
  }
}

/**
 * A Producer whose values (and keys) are encoded with a `Schema` before they are sent.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedProducer<V, K> {
  readonly send: (
    topic: string,
    records: ReadonlyArray<TypedRecord<V, K>>,
  ) => Effect.Effect<ReadonlyArray<RecordMetadata>, ProduceError | InvalidRecord | RecordEncodeError, Producer>
  readonly sendBatch: (
    batches: ReadonlyArray<{ readonly topic: string; readonly records: ReadonlyArray<TypedRecord<V, K>> }>,
  ) => Effect.Effect<ReadonlyArray<RecordMetadata>, ProduceError | InvalidRecord | RecordEncodeError, Producer>
}

/**
 * Sends typed values through the `Producer`: each value (and key, with a key schema) is encoded by
 * its schema before anything is sent; the first that does not encode fails the send with
 * `RecordEncodeError`. `RecordSchema.json(schema)` writes JSON.
 *
 * @example
 * import { RecordSchema } from "@kafka-effect/core"
 * import { Producer } from "@kafka-effect/kafka"
 * import { Schema } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.Number, item: Schema.String })
 * const orders = Producer.withSchema(RecordSchema.json(Order))
 *
 * // fails with RecordEncodeError before anything is sent if a value does not encode
 * export const sent = orders.send("orders", [{ key: "o-1", value: { id: 1, item: "tea" } }])
 *
 * @since 0.1.0
 * @category schemas
 */
export function withSchema<V, IV extends Bytes | null>(value: Schema.Schema<V, IV>): TypedProducer<V, Bytes | null>
export function withSchema<V, IV extends Bytes | null, K, IK extends Bytes | null>(
  value: Schema.Schema<V, IV>,
  key: Schema.Schema<K, IK>,
): TypedProducer<V, K>
export function withSchema<V, IV extends Bytes | null, K, IK extends Bytes | null>(
  value: Schema.Schema<V, IV>,
  key?: Schema.Schema<K, IK>,
): TypedProducer<V, K> | TypedProducer<V, Bytes | null> {
  const encodeValue = Schema.encodeEither(value)
  return key === undefined
    ? typedProducer(encodeValue, (k: Bytes | null) => Either.right(k))
    : typedProducer(encodeValue, Schema.encodeEither(key))
}

const typedProducer = <V, K>(
  encodeValue: (v: V) => Either.Either<Bytes | null, ParseResult.ParseError>,
  encodeKey: (k: K) => Either.Either<Bytes | null, ParseResult.ParseError>,
): TypedProducer<V, K> => {
  const failure = (topic: string, index: number, field: "key" | "value") => (cause: ParseResult.ParseError) =>
    new RecordEncodeError({ topic, index, field, issue: ParseResult.TreeFormatter.formatErrorSync(cause), cause })
  const encodeBatch = (topic: string, records: ReadonlyArray<TypedRecord<V, K>>) =>
    Either.gen(function* () {
      const out: Array<ProducerRecord> = []
      for (let i = 0; i < records.length; i++) {
        const { key: k, value: v, ...rest } = records[i]!
        const encoded = yield* Either.mapLeft(encodeValue(v), failure(topic, i, "value"))
        // A record without a key stays without one; a key schema sees every key given, null included.
        const encodedKey = k === undefined ? undefined : yield* Either.mapLeft(encodeKey(k), failure(topic, i, "key"))
        out.push({ ...rest, value: encoded, ...(encodedKey === undefined ? {} : { key: encodedKey }) })
      }
      return { topic, records: out }
    })
  return {
    send: (topic, records) =>
      Effect.flatMap(encodeBatch(topic, records), (batch) => Effect.flatMap(Producer, (p) => p.send(batch.topic, batch.records))),
    sendBatch: (batches) =>
      Effect.flatMap(
        Effect.forEach(batches, (b) => encodeBatch(b.topic, b.records)),
        (encoded) => Effect.flatMap(Producer, (p) => p.sendBatch(encoded)),
      ),
  }
}

// ---------------------------------------------------------------------------------------------
// layers

/**
 * The `Producer`, connected while the layer lives.
 *
 * @example
 * import { Producer } from "@kafka-effect/kafka"
 * import { Effect } from "effect"
 *
 * export const program = Effect.gen(function* () {
 *   const producer = yield* Producer.Producer
 *   const written = yield* producer.send("orders", [{ key: "o-1", value: "tea", headers: { source: "shop" } }])
 *   yield* Effect.log(`written at ${written[0]?.baseOffset}`)
 * })
 *
 * export const main = program.pipe(
 *   Effect.provide(Producer.layer({ brokers: ["127.0.0.1:9092"], acks: "all", idempotent: true, compression: "gzip" })),
 * )
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ProducerOptions): Layer.Layer<Producer, KafkaError.InvalidConfig | KafkaClient.MetadataError> =>
  Layer.scoped(Producer, make(options))

/**
 * `layer`, with options read from `Config` (e.g. `Config.array(Config.string(), "KAFKA_BROKERS")`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<ProducerOptions>,
): Layer.Layer<Producer, KafkaError.InvalidConfig | KafkaClient.MetadataError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
