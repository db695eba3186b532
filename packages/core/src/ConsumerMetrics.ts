/**
 * The consumer's metrics, each tagged with `topic`. Updated once per fetched batch (per topic), never
 * per record.
 */
import { Metric } from "effect"

export const records = Metric.counter("kafka_consumer_records_total", {
  description: "Records delivered",
  incremental: true,
})

/** Key and value bytes of the records delivered. */
export const bytes = Metric.counter("kafka_consumer_bytes_total", {
  description: "Key and value bytes delivered",
  incremental: true,
})

export const offsetResets = Metric.counter("kafka_consumer_offset_resets_total", {
  description: "Positions moved after an OFFSET_OUT_OF_RANGE answer",
  incremental: true,
})

export const offsetsSkipped = Metric.counter("kafka_consumer_offsets_skipped_total", {
  description: "Offsets skipped over by out-of-range resets (never delivered)",
  bigint: true,
  incremental: true,
})

/** High watermark minus position after the last fetch, tagged with `topic` and `partition`. */
export const lag = Metric.gauge("kafka_consumer_lag", {
  description: "Offsets between the position and the high watermark",
  bigint: true,
})
