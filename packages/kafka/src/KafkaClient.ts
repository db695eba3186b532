/**
 * The live layer: core's `Fetcher` and `OffsetLister` over a real Kafka cluster, spoken through
 * kafkajs's cluster, broker and protocol modules. kafkajs's retrier is off; retries are Effect
 * Schedules. Fetch and ListOffsets answers are decoded here, without kafkajs's `parse`, so one errored
 * partition never costs the others their records.
 *
 * @since 0.1.0
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
  /**
   * Validates the options, as an Effect: the `InvalidConfig` names the first bad field and its
   * value (never a password).
   *
   * @since 0.1.0
   * @category validation
   */
  decode,
  /**
   * The default `retrySchedule`: exponential from 50ms, jittered, at most 8 retries (of partitions
   * that lost their leader, after a metadata refresh, inside one `fetch` or `list`).
   *
   * @since 0.1.0
   * @category constants
   */
  defaultRetrySchedule,
  /**
   * The validated options, every field present (the defaults filled in).
   *
   * @since 0.1.0
   * @category models
   */
  type KafkaConfig,
  /**
   * The least severe kafkajs log entry routed into Effect's logger: `nothing`, `error`, `warn`,
   * `info` or `debug` (a `Schema`, and its type).
   *
   * @since 0.1.0
   * @category schemas
   */
  KafkaLogLevel,
  /**
   * The client's options as a `Schema`, and as a type what a user writes: the bootstrap brokers,
   * the client id, TLS, SASL, the connect and request timeouts, the isolation level of ListOffsets,
   * the retry schedule, the log level and the CRC check of fetched batches.
   *
   * @since 0.1.0
   * @category schemas
   */
  KafkaOptions,
  /**
   * A SASL mechanism: `plain`, `scram-sha-256` or `scram-sha-512` (a `Schema`, and its type).
   *
   * @since 0.1.0
   * @category schemas
   */
  SaslMechanism,
  /**
   * SASL credentials: the mechanism, a non-empty username, and the password as a `Redacted` string
   * (a `Schema`, and its type).
   *
   * @since 0.1.0
   * @category schemas
   */
  SaslOptions,
  /**
   * Checks every option, synchronously: the `InvalidConfig` names the first bad field and its value
   * (never a password).
   *
   * @since 0.1.0
   * @category validation
   */
  validate,
} from "./internal/config.js"
export {
  /**
   * The first delay, in milliseconds, of the per-broker Fetch backoff after a transport failure; it
   * doubles with each failure in a row.
   *
   * @since 0.1.0
   * @category constants
   */
  brokerBackoffBaseMs,
  /**
   * The longest delay, in milliseconds, of the per-broker Fetch backoff; a successful fetch resets it.
   *
   * @since 0.1.0
   * @category constants
   */
  brokerBackoffMaxMs,
  /**
   * The client's metrics: `fetchRequests`, the Fetch requests sent to brokers (core's
   * `ConsumerMetrics.fetchRequests`). Records are counted by the consumer when it delivers them.
   *
   * @since 0.1.0
   * @category metrics
   */
  metrics,
} from "./internal/fetch.js"
export {
  /**
   * Metadata could not be loaded (no broker reachable, timeout): the topics asked for, the
   * transport reason, and whether a retry can help.
   *
   * @since 0.1.0
   * @category errors
   */
  MetadataError,
} from "./internal/errors.js"

/**
 * The client: its validated options, Fetch and the leader of each partition (what core's `Fetcher`
 * needs), ListOffsets (core's `OffsetLister`), and the partition ids of a topic.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * The client over one kafkajs cluster connection; `layer` provides it with core's `Fetcher` and
 * `OffsetLister` over the same connection.
 *
 * @since 0.1.0
 * @category services
 */
export class KafkaClient extends Context.Tag("@kafka-effect/kafka/KafkaClient")<KafkaClient, KafkaClientService>() {}

/**
 * Builds the client over a kafkajs cluster that lives as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
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

/**
 * `KafkaClient`, core's `Fetcher` and `OffsetLister`, over one cluster connection for the layer's lifetime.
 *
 * @since 0.1.0
 * @category layers
 */
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
 *
 * @since 0.1.0
 * @category layers
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

export {
  /**
   * Options read from the `ConfigProvider` with the field names as keys (see `layerConfig`).
   *
   * @since 0.1.0
   * @category config
   */
  optionsConfig as config,
}
