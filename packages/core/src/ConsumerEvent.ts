/**
 * What a consumer tells its users besides records. Subscribe with `Consumer.events` (a `Stream`)
 * or `Consumer.subscribeEvents` (a scoped queue, subscribed when it returns).
 */
import { Data } from "effect"
import type { Policy } from "./OffsetRecovery.js"

/**
 * The broker answered OFFSET_OUT_OF_RANGE at `requestedOffset`, and the consumer moved to
 * `newOffset` inside `[earliest, latest]`. `skipped` offsets will never be delivered (0 when moving back).
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

export type ConsumerEvent = OffsetReset
