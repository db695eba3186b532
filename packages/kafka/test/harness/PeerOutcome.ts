/**
 * What every peer of the comparison (aiokafka, the Java consumer, @platformatic/kafka) reports for a
 * case: where it started, what it delivered, where it reset to, whether it got the marker record
 * after the reset, and the error it ended with.
 */
import { Schema } from "effect"

export const fields = {
  id: Schema.String,
  setting: Schema.String,
  position: Schema.Number,
  offsets: Schema.Array(Schema.Number),
  resetTo: Schema.NullOr(Schema.Number),
  marker: Schema.NullOr(Schema.Number),
  markerDelivered: Schema.Boolean,
  error: Schema.NullOr(Schema.Struct({ type: Schema.String, message: Schema.String })),
  timedOut: Schema.Boolean,
}

/** One case of a peer with Kafka's settings (aiokafka, Java): a one-partition topic, a position to seek to, a reset setting. */
export interface Case {
  readonly id: string
  readonly topic: string
  readonly position: number
  readonly setting: "earliest" | "latest" | "none"
}
