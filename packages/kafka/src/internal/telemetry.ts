/**
 * Span attributes of one request to one broker, with OpenTelemetry's names (the core's `Tracing.attributes`).
 */
import { type TopicPartition, Tracing } from "@kafka-effect/core"
import type * as K from "./kafkajs.js"

/** `messaging.system`, `messaging.client.id`, `server.address`/`server.port` of the broker, its node id. */
export const brokerAttributes = (broker: K.Broker, nodeId: number, clientId: string): Record<string, string | number> => ({
  [Tracing.attributes.system]: "kafka",
  [Tracing.attributes.clientId]: clientId,
  [Tracing.attributes.serverAddress]: broker.connectionPool.host,
  [Tracing.attributes.serverPort]: broker.connectionPool.port,
  "messaging.kafka.broker.id": nodeId,
})

/** The destination (and partition) when a request names exactly one; the count of partitions always. */
export const partitionAttributes = (parts: ReadonlyArray<TopicPartition.TopicPartition>): Record<string, string | number> => {
  const topics = new Set(parts.map((p) => p.topic))
  const [only] = parts
  return {
    "messaging.kafka.partition_count": parts.length,
    ...(topics.size === 1 && only !== undefined ? { [Tracing.attributes.topic]: only.topic } : {}),
    ...(parts.length === 1 && only !== undefined ? { [Tracing.attributes.partition]: String(only.partition) } : {}),
  }
}
