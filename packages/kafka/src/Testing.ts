/**
 * The live ports over the testkit's embedded broker: `KafkaClient` (core's `Fetcher` and
 * `OffsetLister`) and `GroupCoordinatorLive` (core's `GroupCoordinator` and `TopicMetadata`) speak
 * the Kafka protocol through kafkajs over the embedded broker's TCP sockets, exactly as they do with
 * a real cluster. Use it to test a service with the code that runs in production, down to the wire.
 *
 * Which is which:
 * - `TestKit.layer()` (testkit): everything in memory, no socket, on `TestClock`.
 * - `EmbeddedBroker.layer()` (testkit): the broker listens on TCP for other clients (kafkajs, the
 *   CLI, librdkafka), but the ports it provides are still the in-memory ones.
 * - `Testing.layerEmbedded()` (this module): the same broker, and every port through the kafka
 *   package over its sockets. Real time (`it.live`), since the sockets are real.
 *
 * It needs `@kafka-effect/testkit` installed (an optional peer dependency of this package); the
 * rest of the package never loads it.
 *
 * @since 0.1.0
 */
import type { SocketServerError } from "@effect/platform/SocketServer"
import type { Fetcher, GroupCoordinator, KafkaError, OffsetLister } from "@kafka-effect/core"
import { BrokerModel, EmbeddedBroker, InMemoryCoordinator, TestBroker } from "@kafka-effect/testkit"
import { Context, Duration, Effect, Layer } from "effect"
import * as GroupCoordinatorLive from "./group/GroupCoordinatorLive.js"
import * as KafkaClient from "./KafkaClient.js"

/**
 * Options of the embedded-broker layers: the broker's options and the client's.
 *
 * @since 0.1.0
 * @category options
 */
export interface EmbeddedOptions extends EmbeddedBroker.Options {
  /** Client options (all but `brokers`, which are the embedded broker's). Default request timeout 5 seconds. */
  readonly client?: Omit<KafkaClient.KafkaOptions, "brokers">
}

/**
 * What `layerEmbedded` provides: the live ports, and the embedded broker's controls.
 *
 * @since 0.1.0
 * @category models
 */
export type EmbeddedServices =
  | KafkaClient.KafkaClient
  | Fetcher.Fetcher
  | OffsetLister.OffsetLister
  | GroupCoordinator.GroupCoordinator
  | GroupCoordinator.TopicMetadata
  | TestBroker.TestBroker
  | EmbeddedBroker.EmbeddedBroker
  | BrokerModel.BrokerModel
  | InMemoryCoordinator.InMemoryCoordinator

/**
 * An embedded broker on free ports, and `KafkaClient` plus `GroupCoordinatorLive` connected to it.
 * The controls (`TestBroker`: produce, faults, DeleteRecords, the request log; `EmbeddedBroker`:
 * addresses, leader moves; `InMemoryCoordinator`: the groups) act on the broker behind the sockets.
 * The broker's own in-memory ports stay inside: only the live ones are provided.
 *
 * @example
 * import { Consumer, TopicPartition } from "@kafka-effect/core"
 * import * as Testing from "@kafka-effect/kafka/Testing"
 * import { TestKit } from "@kafka-effect/testkit"
 * import { Effect, Layer } from "effect"
 *
 * // The kafka package's live layers over the embedded broker's sockets (real time).
 * const live = Consumer.layer({ config: { autoOffsetReset: "earliest" } }).pipe(
 *   Layer.provideMerge(Testing.layerEmbedded({ topics: { orders: 1 } })),
 * )
 *
 * export const test = Effect.gen(function* () {
 *   yield* TestKit.produce("orders", 0, ["a", "b"])
 *   const consumer = yield* Consumer.Consumer
 *   yield* consumer.assign([TopicPartition.make("orders", 0)])
 *   const records = yield* TestKit.take(consumer.records, 2)
 *   return TestKit.values(records) // ["a", "b"]
 * }).pipe(Effect.provide(live))
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEmbedded = (
  options: EmbeddedOptions = {},
): Layer.Layer<EmbeddedServices, KafkaError.InvalidConfig | SocketServerError> => {
  const { client: clientOptions = {}, ...embedded } = options
  const live = Layer.unwrapEffect(
    Effect.map(EmbeddedBroker.EmbeddedBroker, (b) => {
      const connection: KafkaClient.KafkaOptions = { requestTimeout: Duration.seconds(5), ...clientOptions, brokers: b.brokers }
      return Layer.merge(KafkaClient.layer(connection), GroupCoordinatorLive.layer(connection))
    }),
  )
  // Picked by tag: `Effect.context` alone would carry the in-memory ports along and shadow the live ones.
  const control = Layer.effectContext(
    Effect.map(
      Effect.context<
        TestBroker.TestBroker | EmbeddedBroker.EmbeddedBroker | BrokerModel.BrokerModel | InMemoryCoordinator.InMemoryCoordinator
      >(),
      Context.pick(TestBroker.TestBroker, EmbeddedBroker.EmbeddedBroker, BrokerModel.BrokerModel, InMemoryCoordinator.InMemoryCoordinator),
    ),
  )
  return Layer.merge(live, control).pipe(Layer.provide(EmbeddedBroker.layer(embedded)))
}
