/**
 * Where to start or move a position: the log start, the log end, or an exact offset.
 */
import { Data } from "effect"

export type OffsetSpec = Data.TaggedEnum<{
  Earliest: {}
  Latest: {}
  Exact: { readonly offset: bigint }
}>

export const { Earliest, Latest, Exact, $is: is, $match: match } = Data.taggedEnum<OffsetSpec>()

export const earliest: OffsetSpec = Earliest()
export const latest: OffsetSpec = Latest()

/** What ListOffsets can be asked for: -2 (earliest, the log start offset) or -1 (latest, the high watermark). */
export type ListOffsetsSpec = "earliest" | "latest"
