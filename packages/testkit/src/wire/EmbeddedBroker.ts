/**
 * The embedded Kafka broker: the testkit's in-memory `BrokerModel` served over TCP in the Kafka
 * wire protocol, one listener (port) per broker of the model, partition leaders spread over them.
 * Real clients (kafkajs, librdkafka/kcat, Python clients) talk to it; a test controls it through the
 * same `TestBroker` contract as the in-memory broker, because both share the model.
 *
 * Shape after franz-go's kfake: a real listener over an in-memory cluster with control hooks.
 * Each connection answers its requests in order, one at a time, as Kafka does.
 *
 * It is held against Apache Kafka 4.4 by a differential test (the kafka package's
 * `differential.realkafka.test.ts`: the same request sequences to both, answers compared).
 * Known differences from Apache Kafka (docs/DESIGN.md has the full list):
 * - a Metadata request that auto-creates a topic is answered with the topic (Kafka answers it
 *   `UNKNOWN_TOPIC_OR_PARTITION` and has the topic moments later);
 * - record timestamps are not checked (Kafka 4 refuses a CreateTime more than an hour ahead with
 *   `INVALID_TIMESTAMP`), because the broker often runs on a `TestClock`;
 * - older API version ranges than Kafka 4.4 (kafkajs negotiates the same versions with both), no
 *   transactions, no replication, no time or size retention, compaction only on request.
 *
 * @since 0.1.0
 */
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import type { SocketServerError } from "@effect/platform/SocketServer"
import type { Fetcher, GroupCoordinator as GroupCoordinatorPort, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { Context, Effect, Layer, type Scope } from "effect"
import * as BrokerModel from "../BrokerModel.js"
import * as InMemoryCoordinator from "../InMemoryCoordinator.js"
import * as TestBroker from "../TestBroker.js"
import * as Connection from "./Connection.js"
import type * as Dispatch from "./Dispatch.js"
import { ProducerState } from "./ProducerState.js"
import * as Sasl from "./Sasl.js"
import * as WireCoordinator from "./WireCoordinator.js"

/**
 * How the embedded broker is set up: brokers, ports, topics, auto-creation, SASL, size limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Brokers (listeners) when this layer builds the model. Default 1. */
  readonly brokers?: number
  /** Partitions of topics created by Metadata auto-creation or CreateTopics with -1. Default 1. */
  readonly partitions?: number
  /** Port of the first broker; the others take the next ones. Default 0: a free port for each. */
  readonly port?: number
  /** Interface to bind and to advertise. Default 127.0.0.1. */
  readonly host?: string
  /** Topics created at start: name → partition count. */
  readonly topics?: Readonly<Record<string, number>>
  /** Metadata requests create unknown topics (auto.create.topics.enable). Default true. */
  readonly autoCreateTopics?: boolean
  readonly clusterId?: string
  /** Session timeout bounds of JoinGroup over the wire (default as Kafka's: 6 s to 30 min). */
  readonly group?: WireCoordinator.Options
  /** Largest record batch a Produce may carry (Kafka's message.max.bytes). Default 1048588, as Kafka. */
  readonly maxMessageBytes?: number
  /**
   * Require SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) on every listener, as a SASL_PLAINTEXT
   * listener of Kafka: a connection may send only ApiVersions and SaslHandshake until it has
   * authenticated; wrong credentials get SASL_AUTHENTICATION_FAILED and the connection closes.
   */
  readonly sasl?: Sasl.Options
  /** Largest request frame accepted (socket.request.max.bytes); a larger one closes the connection. Default 100 MiB. */
  readonly maxRequestBytes?: number
}

/**
 * One broker's listener: its node id and the address it is bound to and advertises.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  readonly nodeId: number
  readonly host: string
  readonly port: number
}

/**
 * The running embedded broker: its addresses, leader moves, open connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `host:port` of every broker, comma separated: what clients take as bootstrap servers. */
  readonly bootstrap: string
  readonly brokers: ReadonlyArray<string>
  readonly listeners: ReadonlyArray<Listener>
  /** Moves a partition's leadership (clients get NOT_LEADER_OR_FOLLOWER from the old leader and refresh metadata). */
  readonly moveLeader: (tp: TopicPartition.TopicPartition, brokerId: number) => Effect.Effect<void, BrokerModel.BrokerModelError>
  /** Connections open right now, over all listeners. */
  readonly connections: Effect.Effect<number>
}

/**
 * The embedded broker's addresses and controls, provided by `layer` and `layerFromModel`.
 *
 * @since 0.1.0
 * @category services
 */
export class EmbeddedBroker extends Context.Tag("@kafka-effect/testkit/EmbeddedBroker")<EmbeddedBroker, Service>() {}

/**
 * Binds one listener per broker of the model in context and serves it until the scope closes.
 * The model's broker addresses are set to the bound ports (what Metadata advertises).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {},
): Effect.Effect<Service, SocketServerError, BrokerModel.BrokerModel | Scope.Scope> =>
  Effect.gen(function* () {
    const model = yield* BrokerModel.BrokerModel
    const host = options.host ?? "127.0.0.1"
    // Groups: the testkit's InMemoryCoordinator in context (wire clients and the in-memory port then
    // meet in the same groups), else one over the model for this broker alone.
    const inContext = yield* Effect.serviceOption(InMemoryCoordinator.InMemoryCoordinator)
    const coordinator = WireCoordinator.fromInMemory(
      inContext._tag === "Some" ? inContext.value : yield* InMemoryCoordinator.make(),
      options.group,
    )
    const producers = new ProducerState()
    const sasl = options.sasl === undefined ? undefined : Sasl.make(options.sasl)
    const open = { count: 0 }
    const maxFrame = options.maxRequestBytes ?? 100 * 1024 * 1024
    const listeners: Array<Listener> = []
    for (const node of model.brokers) {
      const port = options.port === undefined || options.port === 0 ? 0 : options.port + node.nodeId
      const server = yield* NodeSocketServer.make({ host, port })
      const bound = server.address._tag === "TcpAddress" ? server.address.port : port
      yield* Effect.orDie(model.setBrokerAddress(node.nodeId, host, bound))
      listeners.push({ nodeId: node.nodeId, host, port: bound })
      const ctx: Dispatch.ListenerContext = {
        model,
        coordinator,
        producers,
        nodeId: node.nodeId,
        clientHost: `/${host}`,
        autoCreateTopics: options.autoCreateTopics !== false,
        defaultPartitions: options.partitions ?? 1,
        maxMessageBytes: options.maxMessageBytes ?? 1_048_588,
        sasl,
      }
      yield* Effect.forkScoped(server.run(Connection.serve(ctx, maxFrame, open)))
    }
    const brokers = listeners.map((l) => `${l.host}:${l.port}`)
    yield* Effect.logDebug(`Embedded broker listening on ${brokers.join(",")}`)
    return {
      bootstrap: brokers.join(","),
      brokers,
      listeners,
      moveLeader: model.moveLeader,
      connections: Effect.sync(() => open.count),
    }
  })

/**
 * The wire broker over the `BrokerModel` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromModel = (options: Options = {}): Layer.Layer<EmbeddedBroker, SocketServerError, BrokerModel.BrokerModel> =>
  Layer.scoped(EmbeddedBroker, make(options))

/**
 * A fresh model served over TCP: `EmbeddedBroker` (addresses), `TestBroker` (control: produce,
 * faults, latency, compaction, DeleteRecords, truncation, the request log), core's `Fetcher` and
 * `OffsetLister` over the same model, the `BrokerModel` itself, and the shared `InMemoryCoordinator`
 * with core's `GroupCoordinator` and `TopicMetadata` ports: wire clients and in-memory consumers
 * meet in the same groups.
 *
 * The ports this layer provides are the in-memory ones: a `Consumer` built on it never touches TCP,
 * only other clients (kafkajs, the CLI, librdkafka) do. For the kafka package's live ports over these
 * sockets use `Testing.layerEmbedded()` from `@kafka-effect/kafka/Testing`; for no sockets at all,
 * `TestKit.layer()`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {},
): Layer.Layer<
  | EmbeddedBroker
  | TestBroker.TestBroker
  | Fetcher.Fetcher
  | OffsetLister.OffsetLister
  | BrokerModel.BrokerModel
  | InMemoryCoordinator.InMemoryCoordinator
  | GroupCoordinatorPort.GroupCoordinator
  | GroupCoordinatorPort.TopicMetadata,
  SocketServerError
> => {
  const model = BrokerModel.layer({
    brokers: options.brokers ?? 1,
    ...(options.topics === undefined ? {} : { topics: options.topics }),
    ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }),
  })
  const wire = Layer.provideMerge(layerFromModel(options), InMemoryCoordinator.layerFromModel())
  return Layer.provideMerge(Layer.merge(wire, TestBroker.layerFromModel), model)
}
