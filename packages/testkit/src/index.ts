/**
 * `@kafka-effect/testkit`: what tests of kafka-effect and of its users' services run on: the
 * in-memory broker model and group coordinator, `TestKit` (one layer plus TestClock drivers and a log
 * capture), the embedded Kafka wire broker, real Apache Kafka on demand, and a Kafka-aware fault proxy.
 *
 * @since 0.1.0
 */

/**
 * The in-memory Kafka broker model.
 *
 * @since 0.1.0
 * @category modules
 */
export * as BrokerModel from "./BrokerModel.js"
/**
 * The control side of a test broker.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TestBroker from "./TestBroker.js"
/**
 * An in-memory group coordinator over the `BrokerModel`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as InMemoryCoordinator from "./InMemoryCoordinator.js"
/**
 * The embedded Kafka broker.
 *
 * @since 0.1.0
 * @category modules
 */
export * as EmbeddedBroker from "./wire/EmbeddedBroker.js"
/**
 * Real Apache Kafka on this machine, for tests, the demo and the bench.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ApacheKafka from "./ApacheKafka.js"
/**
 * A Kafka-frame-aware TCP proxy for putting faults in front of any broker (Apache Kafka, the embedded broker, librdkafka's mock).
 *
 * @since 0.1.0
 * @category modules
 */
export * as FaultProxy from "./FaultProxy.js"
/**
 * Testing your own service.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TestKit from "./TestKit.js"
