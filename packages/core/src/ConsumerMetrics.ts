/**
 * The consumer's metrics: one naming scheme. Where OpenTelemetry's messaging conventions have a
 * metric, it is that one (`messaging.client.consumed.messages`, `messaging.client.operation.duration`);
 * the Kafka-specific ones are `kafka.consumer.*`, named after the Java client's JMX metrics
 * (`bytes-consumed-total` → `kafka.consumer.bytes_consumed`, `records-lag` → `kafka.consumer.records_lag`,
 * `commit-total`, `rebalance-total`). Tags are the semantic-convention attribute names
 * (`messaging.destination.name`, `messaging.destination.partition.id`, `messaging.consumer.group.name`,
 * `messaging.client.id`); every metric carries `messaging.system=kafka`.
 *
 * Updated once per fetched chunk (per topic), never per record. The group and client id come from
 * the fiber's metric labels: `labelled` (or `GroupConsumer.subscribe`, which labels its streams).
 *
 * @since 0.1.0
 */
import { Array as Arr, Duration, Effect, Metric, MetricBoundaries, MetricLabel, Stream } from "effect"

/**
 * Tag keys: OpenTelemetry's messaging attribute names.
 *
 * @since 0.1.0
 * @category constants
 */
export const tags = {
  system: "messaging.system",
  topic: "messaging.destination.name",
  partition: "messaging.destination.partition.id",
  group: "messaging.consumer.group.name",
  clientId: "messaging.client.id",
  operation: "messaging.operation.name",
  errorType: "error.type",
} as const

/**
 * `metric` with the tag `key` = `value`: the same metric as `Metric.tagged` (the same key, tags in the
 * same order), but cheaper to update. `Metric.tagged` joins its tags with the fiber's metric labels in
 * a fresh array on every update, so that the metric below it (whose registry lookups are cached by
 * that array) builds and hashes a new key and looks it up in the registry every time; here the joined
 * array is made once per distinct labels array (a fiber's labels are one array until they change).
 *
 * @since 0.1.0
 * @category utils
 */
export const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, key: string, value: string): Metric.Metric<Type, In, Out> => {
  const own = [MetricLabel.make(key, value)]
  const joined = new WeakMap<ReadonlyArray<MetricLabel.MetricLabel>, ReadonlyArray<MetricLabel.MetricLabel>>()
  const withOwn = (extra: ReadonlyArray<MetricLabel.MetricLabel>): ReadonlyArray<MetricLabel.MetricLabel> => {
    let all = joined.get(extra)
    if (all === undefined) {
      all = Arr.union(own, extra)
      joined.set(extra, all)
    }
    return all
  }
  return Metric.make(
    metric.keyType,
    (input, extra) => metric.unsafeUpdate(input, withOwn(extra)),
    (extra) => metric.unsafeValue(withOwn(extra)),
    (input, extra) => metric.unsafeModify(input, withOwn(extra)),
  )
}

const kafka = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) => tagged(metric, tags.system, "kafka")

/**
 * Records delivered to the application, tagged with the topic.
 *
 * @since 0.1.0
 * @category metrics
 */
export const records = kafka(
  Metric.counter("messaging.client.consumed.messages", {
    description: "Records delivered to the application",
    incremental: true,
  }),
)

/**
 * Key and value bytes of the records delivered, tagged with the topic.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytes = kafka(
  Metric.counter("kafka.consumer.bytes_consumed", {
    description: "Key and value bytes of the records delivered",
    incremental: true,
  }),
)

/**
 * Positions moved after an OFFSET_OUT_OF_RANGE answer, tagged with the topic.
 *
 * @since 0.1.0
 * @category metrics
 */
export const offsetResets = kafka(
  Metric.counter("kafka.consumer.offset_resets", {
    description: "Positions moved after an OFFSET_OUT_OF_RANGE answer",
    incremental: true,
  }),
)

/**
 * Offsets skipped over by out-of-range resets (never delivered), tagged with the topic.
 *
 * @since 0.1.0
 * @category metrics
 */
export const offsetsSkipped = kafka(
  Metric.counter("kafka.consumer.offsets_skipped", {
    description: "Offsets skipped over by out-of-range resets (never delivered)",
    bigint: true,
    incremental: true,
  }),
)

/**
 * High watermark minus position after the last fetch, tagged with topic and partition.
 *
 * @since 0.1.0
 * @category metrics
 */
export const lag = kafka(
  Metric.gauge("kafka.consumer.records_lag", {
    description: "Offsets between the position and the high watermark",
    bigint: true,
  }),
)

/**
 * Fetch requests sent to brokers (one per fetch of a leader's loop).
 *
 * @since 0.1.0
 * @category metrics
 */
export const fetchRequests = kafka(
  Metric.counter("kafka.consumer.fetch_requests", { description: "Fetch requests sent to brokers", incremental: true }),
)

/**
 * Key and value bytes fetched and buffered, not yet delivered (bounded by `fetchBufferBytes`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const fetchBufferBytes = kafka(
  Metric.gauge("kafka.consumer.fetch_buffer_bytes", {
    description: "Key and value bytes fetched and buffered, not yet delivered to the application",
  }),
)

/**
 * OpenTelemetry's recommended buckets for messaging durations, in seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const durationBoundaries = MetricBoundaries.fromIterable([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
])

/**
 * Duration of one operation against a broker, in seconds, tagged with `messaging.operation.name`
 * (`fetch`, `list_offsets`, `commit`, `send`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const operationDuration = kafka(
  Metric.histogram(
    "messaging.client.operation.duration",
    durationBoundaries,
    "Duration of one operation against a broker, in seconds",
  ),
)

/**
 * The fetch latency: one Fetch request to one broker, request to answer, in seconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const fetchLatency = tagged(operationDuration, tags.operation, "fetch")

/**
 * The commit latency: one OffsetCommit, in seconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const commitLatency = tagged(operationDuration, tags.operation, "commit")

/**
 * Commits sent to the group coordinator, tagged with the group and `error.type` when one failed.
 *
 * @since 0.1.0
 * @category metrics
 */
export const commits = kafka(
  Metric.counter("kafka.consumer.commits", { description: "Offset commits sent to the group coordinator", incremental: true }),
)

/**
 * Rebalances this member went through (each JoinGroup round after the first), tagged with the group and the reason.
 *
 * @since 0.1.0
 * @category metrics
 */
export const rebalances = kafka(
  Metric.counter("kafka.consumer.rebalances", { description: "Rebalances this member went through", incremental: true }),
)

/**
 * Records whose key or value did not decode with the stream's `Schema`, tagged with the topic and the policy.
 *
 * @since 0.1.0
 * @category metrics
 */
export const decodeErrors = kafka(
  Metric.counter("kafka.consumer.decode_errors", {
    description: "Records whose key or value did not decode with the stream's Schema",
    incremental: true,
  }),
)

/**
 * `metric` tagged with a topic.
 *
 * @since 0.1.0
 * @category utils
 */
export const forTopic = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, topic: string) => tagged(metric, tags.topic, topic)

/**
 * `metric` tagged with a topic and a partition.
 *
 * @since 0.1.0
 * @category utils
 */
export const forPartition = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, topic: string, partition: number) =>
  tagged(tagged(metric, tags.topic, topic), tags.partition, String(partition))

/**
 * Records the duration of `effect` in seconds in a histogram (e.g. `fetchLatency`).
 *
 * @since 0.1.0
 * @category utils
 */
export const timed =
  (histogram: Metric.Metric.Histogram<number>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Metric.trackDurationWith(histogram, (d: Duration.Duration) => Duration.toMillis(d) / 1000)(effect)

/**
 * Who is consuming: the labels every consumer metric updated inside gets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Labels {
  readonly groupId?: string | undefined
  readonly clientId?: string | undefined
}

const labelPairs = (labels: Labels): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  if (labels.groupId !== undefined) out.push([tags.group, labels.groupId])
  if (labels.clientId !== undefined) out.push([tags.clientId, labels.clientId])
  return out
}

/**
 * Runs `effect` with the metrics it updates tagged with the group and client id.
 *
 * @since 0.1.0
 * @category utils
 */
export const labelEffect =
  (labels: Labels) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    labelPairs(labels).reduce((e, [k, v]) => Effect.tagMetrics(e, k, v), effect)

/**
 * Runs `stream` with the metrics it updates (records, bytes, lag, resets, fetch latency) tagged with
 * the group and client id; fibers the stream forks inherit the labels.
 *
 * @since 0.1.0
 * @category utils
 */
export const labelled =
  (labels: Labels) =>
  <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> => {
    const pairs = labelPairs(labels)
    return pairs.length === 0
      ? stream
      : Stream.unwrapScoped(
          Effect.as(
            Effect.forEach(pairs, ([k, v]) => Effect.tagMetricsScoped(k, v), { discard: true }),
            stream,
          ),
        )
  }
