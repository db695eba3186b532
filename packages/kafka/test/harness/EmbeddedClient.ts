/**
 * The live layers over the testkit's embedded wire broker (`Testing.layerEmbedded`): core's ports
 * are the kafka package's, speaking the Kafka protocol over TCP; the broker's controls come along.
 */
import type { SocketServerError } from "@effect/platform/SocketServer"
import type { KafkaError } from "@kafka-effect/core"
import type { EmbeddedBroker } from "@kafka-effect/testkit"
import type { Layer } from "effect"
import type * as KafkaClient from "../../src/KafkaClient.js"
import * as Testing from "../../src/Testing.js"

export type Services = Testing.EmbeddedServices

export const layer = (
  brokers: number,
  options: Omit<KafkaClient.KafkaOptions, "brokers"> = {},
  embedded: Omit<EmbeddedBroker.Options, "brokers"> = {},
): Layer.Layer<Services, KafkaError.InvalidConfig | SocketServerError> =>
  Testing.layerEmbedded({ ...embedded, brokers, client: options })
