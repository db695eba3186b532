/**
 * A kafkajs cluster (connections, SASL, TLS, metadata) that lives as long as the scope, with
 * kafkajs's retrier off (Effect's schedules retry) and its logs routed into Effect's logger.
 * The client and the group layer each make their own, so that a blocking JoinGroup never holds a
 * fetch or a heartbeat back on a shared connection.
 */
import { Duration, Effect, LogLevel, Redacted, Runtime, type Scope } from "effect"
import type { KafkaConfig, KafkaLogLevel } from "./config.js"
import * as K from "./kafkajs.js"

const kafkajsLevel: Record<KafkaLogLevel, number> = {
  nothing: K.LogLevel.NOTHING,
  error: K.LogLevel.ERROR,
  warn: K.LogLevel.WARN,
  info: K.LogLevel.INFO,
  debug: K.LogLevel.DEBUG,
}

// kafkajs logs every failed request and connection at ERROR (namespace "Connection"), and every
// failed send (namespace "Producer"); the same failure reaches the caller as a typed error, so those
// entries are debug here, the rest warnings.
const effectLevel = (level: number, namespace: string): LogLevel.LogLevel =>
  level === K.LogLevel.DEBUG || namespace === "Connection" || namespace === "Producer"
    ? LogLevel.Debug
    : level <= K.LogLevel.WARN
      ? LogLevel.Warning
      : LogLevel.Info

export const scopedCluster = (
  config: KafkaConfig,
  options: { readonly clientId: string; readonly isolationLevel: number; readonly allowAutoTopicCreation?: boolean },
): Effect.Effect<K.Cluster, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runLog = Runtime.runSync(yield* Effect.runtime<never>())
    const logger = K.createLogger({
      level: kafkajsLevel[config.logLevel],
      logCreator: () => (entry) => {
        const { message, timestamp: _t, logger: _l, ...extra } = entry.log
        runLog(
          Effect.logWithLevel(effectLevel(entry.level, entry.namespace), `kafkajs: ${message}`).pipe(
            Effect.annotateLogs({ ...extra, kafkajsNamespace: entry.namespace }),
          ),
        )
      },
    })
    const sasl = config.sasl
    const cluster = new K.Cluster({
      logger,
      socketFactory: K.socketFactory(),
      brokers: config.brokers,
      clientId: options.clientId,
      ssl: config.ssl,
      sasl:
        sasl === undefined
          ? undefined
          : { mechanism: sasl.mechanism, username: sasl.username, password: Redacted.value(sasl.password) },
      connectionTimeout: Duration.toMillis(config.connectionTimeout),
      authenticationTimeout: Duration.toMillis(config.connectionTimeout),
      requestTimeout: Duration.toMillis(config.requestTimeout),
      enforceRequestTimeout: true,
      metadataMaxAge: 300_000,
      retry: { retries: 0 },
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
      maxInFlightRequests: null,
      isolationLevel: options.isolationLevel,
      offsets: new Map(),
    })
    yield* Effect.addFinalizer(() =>
      Effect.tryPromise(() => cluster.disconnect()).pipe(
        Effect.catchAll((e) => Effect.logDebug(`kafka: disconnect of ${options.clientId} failed`, e)),
      ),
    )
    return cluster
  })
