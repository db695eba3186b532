/**
 * What a consumer tells its users besides records. Subscribe with `Consumer.events` (a `Stream`)
 * or `Consumer.subscribeEvents` (a scoped queue, subscribed when it returns).
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Policy } from "./OffsetRecovery.js"

/**
 * The broker answered OFFSET_OUT_OF_RANGE at `requestedOffset`, and the consumer moved to
 * `newOffset`. `earliest` is the log start offset (the first offset still in the log); `latest` is
 * the end offset, the next offset to be written (the high watermark, or the last stable offset under
 * read_committed): no record has it yet, so the records still there are `earliest` to `latest - 1`
 * and `newOffset` is one of `earliest..latest`. `skipped` offsets will never be delivered (0 when
 * moving back).
 *
 * @since 0.1.0
 * @category models
 */
export class OffsetReset extends Data.TaggedClass("OffsetReset")<{
  readonly topic: string
  readonly partition: number
  readonly requestedOffset: bigint
  readonly earliest: bigint
  readonly latest: bigint
  readonly newOffset: bigint
  readonly skipped: bigint
  readonly policy: Policy
}> {}

/**
 * What the consumer announces on `subscribeEvents`: today only `OffsetReset`.
 *
 * @since 0.1.0
 * @category models
 */
export type ConsumerEvent = OffsetReset
