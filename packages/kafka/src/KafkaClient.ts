/**
 * The live layer: core's `Fetcher` and `OffsetLister` over a real Kafka cluster, spoken through
 * kafkajs's cluster, broker and protocol modules. kafkajs's retrier is off; retries are Effect
 * Schedules. Fetch and ListOffsets answers are decoded here, without kafkajs's `parse`, so one errored
 * partition never costs the others their records.
 */
import { Fetcher, type KafkaError, OffsetLister, type TopicPartition } from "@kafka-effect/core"
import { Config, type ConfigError, Context, Effect, Layer, type Scope } from "effect"
import { scopedCluster } from "./internal/cluster.js"
import { type KafkaConfig, type KafkaOptions, validate } from "./internal/config.js"
import type { MetadataError } from "./internal/errors.js"
import * as Fetch from "./internal/fetch.js"
import * as ListOffsets from "./internal/listOffsets.js"
import * as Metadata from "./internal/metadata.js"

export {
  defaultRetrySchedule,
  type KafkaConfig,
  type KafkaLogLevel,
  type KafkaOptions,
  type SaslMechanism,
  type SaslOptions,
  validate,
} from "./internal/config.js"
export { brokerBackoffBaseMs, brokerBackoffMaxMs, metrics } from "./internal/fetch.js"
export { MetadataError } from "./internal/errors.js"

export interface KafkaClientService {
  readonly config: KafkaConfig
  readonly fetch: Context.Tag.Service<Fetcher.Fetcher>["fetch"]
  readonly listOffsets: Context.Tag.Service<OffsetLister.OffsetLister>["list"]
  /** The partition ids of a topic, from metadata. */
  readonly partitionsFor: (
    topic: string,
  ) => Effect.Effect<
    ReadonlyArray<number>,
    MetadataError | KafkaError.UnknownTopicOrPartition | KafkaError.TopicAuthorizationFailed
  >
  /** A FetchRequest for these positions with the client's configured wait and sizes. */
  readonly fetchRequest: (positions: ReadonlyArray<TopicPartition.TopicPartition & { readonly offset: bigint }>) => Fetcher.FetchRequest
}

export class KafkaClient extends Context.Tag("@kafka-effect/kafka/KafkaClient")<KafkaClient, KafkaClientService>() {}

/** Builds the client over a kafkajs cluster that lives as long as the scope. */
export const make = (options: KafkaOptions): Effect.Effect<KafkaClientService, KafkaError.InvalidConfig, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* validate(options)
    const cluster = yield* scopedCluster(config, {
      clientId: config.clientId,
      isolationLevel: Fetch.isolationCode(config.isolationLevel),
    })
    const metadata = Metadata.make(cluster)
    const fetch = Fetch.make(config, cluster, metadata)
    const listOffsets = ListOffsets.make(config, cluster, metadata)

    const fetchRequest = (
      positions: ReadonlyArray<TopicPartition.TopicPartition & { readonly offset: bigint }>,
    ): Fetcher.FetchRequest => ({
      partitions: positions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.offset,
        maxBytes: config.fetchMaxPartitionBytes,
      })),
      maxWaitMs: config.fetchMaxWaitMs,
      minBytes: config.fetchMinBytes,
      maxBytes: config.fetchMaxBytes,
      isolationLevel: config.isolationLevel,
    })

    return { config, fetch, listOffsets, partitionsFor: metadata.partitionsFor, fetchRequest } satisfies KafkaClientService
  })

// ---------------------------------------------------------------------------------------------
// layers

/** `KafkaClient`, core's `Fetcher` and `OffsetLister`, over one cluster connection for the layer's lifetime. */
export const layer = (
  options: KafkaOptions,
): Layer.Layer<KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister, KafkaError.InvalidConfig> =>
  Layer.scopedContext(
    Effect.map(make(options), (client) =>
      Context.make(KafkaClient, client)
        .pipe(Context.add(Fetcher.Fetcher, { fetch: client.fetch }))
        .pipe(Context.add(OffsetLister.OffsetLister, { list: client.listOffsets })),
    ),
  )

/** `layer`, with options read from `Config` (e.g. `Config.array(Config.string(), "KAFKA_BROKERS")`). */
export const layerConfig = (
  config: Config.Config.Wrap<KafkaOptions>,
): Layer.Layer<
  KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister,
  KafkaError.InvalidConfig | ConfigError.ConfigError
> => Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

