import { ConsumerRecord, type Fetcher, TopicPartition } from "@kafka-effect/core"

export const tp = TopicPartition.make

/** A Fetch request over `(topic, partition, offset)` triples, answering at once unless `maxWaitMs` says otherwise. */
export const fetchRequest = (
  partitions: ReadonlyArray<readonly [string, number, bigint]>,
  options: { readonly maxWaitMs?: number; readonly minBytes?: number; readonly maxBytes?: number; readonly partitionMaxBytes?: number } = {},
): Fetcher.FetchRequest => ({
  partitions: partitions.map(([topic, partition, offset]) => ({
    topic,
    partition,
    offset,
    maxBytes: options.partitionMaxBytes ?? 1024 * 1024,
  })),
  maxWaitMs: options.maxWaitMs ?? 0,
  minBytes: options.minBytes ?? 1,
  maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
  isolationLevel: "read_uncommitted",
})

/** What a test compares: per partition, the values (or the error tag). */
export const summary = (results: ReadonlyArray<Fetcher.PartitionFetchResult>) =>
  results.map((r) =>
    r._tag === "Records"
      ? {
          tp: `${r.topic}-${r.partition}`,
          offsets: r.records.map((rec) => rec.offset),
          values: r.records.map((rec) => ConsumerRecord.utf8(rec.value)),
        }
      : { tp: `${r.topic}-${r.partition}`, error: r.error._tag },
  )

export const values = (...vs: ReadonlyArray<string>) => vs.map((value) => ({ value }))
