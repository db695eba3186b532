/**
 * Where to start or move a position: the log start, the log end, or an exact offset.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * What to ask ListOffsets for: the earliest offset, the latest, or an exact one.
 *
 * @since 0.1.0
 * @category models
 */
export type OffsetSpec = Data.TaggedEnum<{
  Earliest: {}
  Latest: {}
  Exact: { readonly offset: bigint }
}>

/**
 * The constructors of `OffsetSpec` (`Earliest`, `Latest`, `Exact`), its guard `is` and `match`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const { Earliest, Latest, Exact, $is: is, $match: match } = Data.taggedEnum<OffsetSpec>()

/**
 * The log start offset.
 *
 * @since 0.1.0
 * @category constructors
 */
export const earliest: OffsetSpec = Earliest()
/**
 * The high watermark (the offset the next record will get).
 *
 * @since 0.1.0
 * @category constructors
 */
export const latest: OffsetSpec = Latest()

/**
 * What ListOffsets can be asked for: -2 (earliest, the log start offset) or -1 (latest, the high watermark).
 *
 * @since 0.1.0
 * @category models
 */
export type ListOffsetsSpec = "earliest" | "latest"
