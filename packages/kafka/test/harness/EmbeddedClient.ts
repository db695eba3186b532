/**
 * The live layer (`KafkaClient.layer`, kafkajs underneath) over the testkit's embedded wire broker:
 * core's `Fetcher` and `OffsetLister` are the kafka package's, speaking the Kafka protocol over TCP;
 * `TestBroker` (control: produce, DeleteRecords, compaction, truncation, faults, the request log),
 * `EmbeddedBroker` (addresses, leader moves) and the `BrokerModel` come from the embedded broker.
 * The embedded broker's own in-memory `Fetcher`/`OffsetLister` stay inside this layer: only the
 * kafka ones are in its output, so nothing can pick the wrong one.
 */
import type { Fetcher, KafkaError, OffsetLister } from "@kafka-effect/core"
import { BrokerModel, EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import type { SocketServerError } from "@effect/platform/SocketServer"
import { Context, Effect, Layer } from "effect"
import * as KafkaClient from "../../src/KafkaClient.js"

export type Services =
  | KafkaClient.KafkaClient
  | Fetcher.Fetcher
  | OffsetLister.OffsetLister
  | TestBroker.TestBroker
  | EmbeddedBroker.EmbeddedBroker
  | BrokerModel.BrokerModel

export const layer = (
  brokers: number,
  options: Partial<KafkaClient.KafkaOptions> = {},
  embedded: Omit<EmbeddedBroker.Options, "brokers"> = {},
): Layer.Layer<Services, KafkaError.InvalidConfig | SocketServerError> => {
  const client = Layer.unwrapEffect(
    Effect.map(EmbeddedBroker.EmbeddedBroker, (b) =>
      KafkaClient.layer({ requestTimeout: "5 seconds", ...options, brokers: b.brokers }),
    ),
  )
  // Control and addresses of the broker, re-exported without its in-memory ports (`Effect.context`
  // alone would carry them along at run time, whatever its type says, and shadow the kafka ones).
  const control = Layer.effectContext(
    Effect.map(
      Effect.context<TestBroker.TestBroker | EmbeddedBroker.EmbeddedBroker | BrokerModel.BrokerModel>(),
      Context.pick(TestBroker.TestBroker, EmbeddedBroker.EmbeddedBroker, BrokerModel.BrokerModel),
    ),
  )
  return Layer.merge(client, control).pipe(Layer.provide(EmbeddedBroker.layer({ ...embedded, brokers })))
}
