/**
 * The live layer: core's `Fetcher` and `OffsetLister` over a real Kafka cluster, spoken through
 * kafkajs's cluster, broker and protocol modules. kafkajs's retrier is off; retries are Effect
 * Schedules. Fetch and ListOffsets answers are decoded here, without kafkajs's `parse`, so one errored
 * partition never costs the others their records.
 */
import { Fetcher, type KafkaError, OffsetLister } from "@kafka-effect/core"
import { Config, type ConfigError, Context, Effect, Layer, type Scope } from "effect"
import { scopedCluster } from "./internal/cluster.js"
import { type KafkaConfig, type KafkaOptions, config as optionsConfig, decode } from "./internal/config.js"
import type { MetadataError } from "./internal/errors.js"
import * as Fetch from "./internal/fetch.js"
import * as ListOffsets from "./internal/listOffsets.js"
import * as Metadata from "./internal/metadata.js"

export {
  decode,
  defaultRetrySchedule,
  type KafkaConfig,
  KafkaLogLevel,
  KafkaOptions,
  SaslMechanism,
  SaslOptions,
  validate,
} from "./internal/config.js"
export { brokerBackoffBaseMs, brokerBackoffMaxMs, metrics } from "./internal/fetch.js"
export { MetadataError } from "./internal/errors.js"

export interface KafkaClientService {
  readonly config: KafkaConfig
  readonly fetch: Context.Tag.Service<Fetcher.Fetcher>["fetch"]
  /** The leader of each partition from metadata (for the consumer's fetch loops, one per leader). */
  readonly leaders: NonNullable<Context.Tag.Service<Fetcher.Fetcher>["leaders"]>
  readonly listOffsets: Context.Tag.Service<OffsetLister.OffsetLister>["list"]
  /** The partition ids of a topic, from metadata. */
  readonly partitionsFor: (
    topic: string,
  ) => Effect.Effect<
    ReadonlyArray<number>,
    MetadataError | KafkaError.UnknownTopicOrPartition | KafkaError.TopicAuthorizationFailed
  >
}

export class KafkaClient extends Context.Tag("@kafka-effect/kafka/KafkaClient")<KafkaClient, KafkaClientService>() {}

/** Builds the client over a kafkajs cluster that lives as long as the scope. */
export const make = (options: KafkaOptions): Effect.Effect<KafkaClientService, KafkaError.InvalidConfig, Scope.Scope> =>
  makeFromInput(options)

const makeFromInput = (options: unknown): Effect.Effect<KafkaClientService, KafkaError.InvalidConfig, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* decode(options)
    const cluster = yield* scopedCluster(config, {
      clientId: config.clientId,
      isolationLevel: Fetch.isolationCode(config.isolationLevel),
    })
    const metadata = yield* Metadata.make(cluster)
    const fetch = yield* Fetch.make(config, cluster, metadata)
    const listOffsets = ListOffsets.make(config, cluster, metadata)

    return { config, fetch, leaders: metadata.leaders, listOffsets, partitionsFor: metadata.partitionsFor } satisfies KafkaClientService
  })

// ---------------------------------------------------------------------------------------------
// layers

/** `KafkaClient`, core's `Fetcher` and `OffsetLister`, over one cluster connection for the layer's lifetime. */
export const layer = (
  options: KafkaOptions,
): Layer.Layer<KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister, KafkaError.InvalidConfig> => layerFromInput(options)

const layerFromInput = (
  options: unknown,
): Layer.Layer<KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister, KafkaError.InvalidConfig> =>
  Layer.scopedContext(
    Effect.map(makeFromInput(options), (client) =>
      Context.make(KafkaClient, client)
        .pipe(Context.add(Fetcher.Fetcher, { fetch: client.fetch, leaders: client.leaders }))
        .pipe(Context.add(OffsetLister.OffsetLister, { list: client.listOffsets })),
    ),
  )

/**
 * `layer`, with the options read from `Config`: by default `KafkaClient.config`, the field names as
 * keys (`brokers=a:9092,b:9092`, `clientId`, `requestTimeout="10 seconds"`, `sasl.password`, …;
 * nest with `Config.nested`), or a record of `Config`s per field
 * (e.g. `{ brokers: Config.array(Config.string(), "KAFKA_BROKERS") }`). Validated like `layer`.
 */
export const layerConfig = (
  config: Config.Config<unknown> | Config.Config.Wrap<KafkaOptions> = optionsConfig,
): Layer.Layer<
  KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister,
  KafkaError.InvalidConfig | ConfigError.ConfigError
> =>
  Layer.unwrapEffect(
    Effect.map(Config.isConfig(config) ? config : Config.unwrap(config), layerFromInput),
  )

/** Options read from the `ConfigProvider` with the field names as keys (see `layerConfig`). */
export { optionsConfig as config }
