/**
 * A minimal fetch loop over the `Fetcher` port (the consumer-level loop is core's `Consumer`):
 * positions advance by the records delivered (or `nextOffset`), until each partition reaches its
 * target offset. Retriable failures (of the whole request, or of one leader's partitions) are retried,
 * after a short pause when nothing else arrived.
 */
import { type ConsumerRecord, Fetcher, type KafkaError, TopicPartition } from "@kafka-effect/core"
import { Effect } from "effect"

export interface DrainOptions {
  readonly maxPartitionBytes?: number
  readonly maxBytes?: number
  readonly isolationLevel?: Fetcher.IsolationLevel
  /** Runs after every fetch with the number of records delivered so far (fault injection hooks). */
  readonly afterFetch?: (delivered: number) => Effect.Effect<void>
  /** Give up after this many fetches. */
  readonly maxFetches?: number
}

export interface Drained {
  readonly records: Map<string, Array<ConsumerRecord.ConsumerRecord>>
  readonly fetches: number
  /** Retriable FetchErrors: whole-request failures and per-partition ones (a leader that could not be reached). */
  readonly retriedFailures: ReadonlyArray<KafkaError.FetchFailure>
  readonly partitionErrors: ReadonlyArray<Fetcher.PartitionError>
}

export const drain = (
  targets: ReadonlyArray<TopicPartition.TopicPartition & { readonly from: bigint; readonly until: bigint }>,
  options: DrainOptions = {},
) =>
  Effect.gen(function* () {
    const fetcher = yield* Fetcher.Fetcher
    const positions = new Map(targets.map((t) => [TopicPartition.key(t), t.from]))
    const until = new Map(targets.map((t) => [TopicPartition.key(t), t.until]))
    const records = new Map<string, Array<ConsumerRecord.ConsumerRecord>>(targets.map((t) => [TopicPartition.key(t), []]))
    const retriedFailures: Array<KafkaError.FetchFailure> = []
    const partitionErrors: Array<Fetcher.PartitionError> = []
    let fetches = 0
    let delivered = 0
    const maxFetches = options.maxFetches ?? 10_000
    while ([...positions].some(([k, p]) => p < until.get(k)!)) {
      if (fetches++ >= maxFetches) return yield* Effect.dieMessage(`drain: no progress after ${maxFetches} fetches`)
      const partitions = [...positions]
        .filter(([k, p]) => p < until.get(k)!)
        .map(([k, offset]) => ({ ...TopicPartition.fromKey(k), offset, maxBytes: options.maxPartitionBytes ?? 1 << 20 }))
      const result = yield* fetcher
        .fetch({
          partitions,
          maxWaitMs: 100,
          minBytes: 1,
          maxBytes: options.maxBytes ?? 1 << 24,
          isolationLevel: options.isolationLevel ?? "read_uncommitted",
        })
        .pipe(
          Effect.catchIf(
            (e) => e._tag === "FetchError" && e.retriable,
            (e) => Effect.as(Effect.zipRight(Effect.sync(() => retriedFailures.push(e)), Effect.sleep("100 millis")), []),
          ),
        )
      let unreachable = false
      const before = delivered
      for (const r of result) {
        const k = TopicPartition.key(r)
        if (r._tag === "Error") {
          if (r.error._tag === "FetchError" && r.error.retriable) {
            retriedFailures.push(r.error)
            unreachable = true
          } else partitionErrors.push(r)
          continue
        }
        const list = records.get(k)!
        for (const rec of r.records) list.push(rec)
        delivered += r.records.length
        const last = r.records.length > 0 ? r.records[r.records.length - 1]!.offset + 1n : positions.get(k)!
        positions.set(k, r.nextOffset !== undefined && r.nextOffset > last ? r.nextOffset : last)
      }
      if (unreachable && delivered === before) yield* Effect.sleep("100 millis")
      if (options.afterFetch) yield* options.afterFetch(delivered)
    }
    return { records, fetches, retriedFailures, partitionErrors } satisfies Drained
  })

export const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString("utf8"))
