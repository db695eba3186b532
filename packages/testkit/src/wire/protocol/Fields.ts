/**
 * Response encoders as field lists: each API's answer is written by one `struct` of `field`s in
 * the order of Kafka's message definition, with the versions each field exists in. What every
 * encoder used to repeat by hand (version gates, compact or classic strings and arrays, a
 * tagged-field section closing each struct of a flexible version) is said once here.
 *
 * A field names a key of the value it writes, so `struct<FetchResponse>(…)` fails to compile when
 * a key is missing or has another type.
 */
import { isFlexible } from "./ApiKeys.js"
import type { Reader, Writer } from "./Codec.js"
import { endStruct } from "./Header.js"

/** The version being written; `f`: it is flexible (compact strings and arrays, tagged fields). */
export interface At {
  readonly v: number
  readonly f: boolean
}

/** Writes a value of type `A` at a version. */
export type Encoder<A> = (w: Writer, at: At, value: A) => void

/** The versions a field exists in (both ends included). */
export interface Versions {
  readonly since?: number
  readonly until?: number
}

const present = (at: At, versions: Versions | undefined): boolean =>
  versions === undefined || (at.v >= (versions.since ?? 0) && at.v <= (versions.until ?? Number.MAX_SAFE_INTEGER))

export const int8: Encoder<number> = (w, _, v) => {
  w.int8(v)
}
export const int16: Encoder<number> = (w, _, v) => {
  w.int16(v)
}
export const int32: Encoder<number> = (w, _, v) => {
  w.int32(v)
}
export const int64: Encoder<bigint> = (w, _, v) => {
  w.int64(v)
}
export const bool: Encoder<boolean> = (w, _, v) => {
  w.bool(v)
}
export const string: Encoder<string> = (w, at, v) => {
  w.str(at.f, v)
}
export const nullableString: Encoder<string | null> = (w, at, v) => {
  w.nullableStr(at.f, v)
}
export const bytes: Encoder<Uint8Array | null> = (w, at, v) => {
  w.byteArray(at.f, v)
}
/** A 16-byte UUID (topic ids). */
export const uuid: Encoder<Uint8Array> = (w, _, v) => {
  w.raw(v)
}

/** An array (null for a nullable one), compact in flexible versions. */
export const array =
  <A>(item: Encoder<A>): Encoder<ReadonlyArray<A> | null> =>
  (w, at, items) => {
    w.array(at.f, items, (w, a) => item(w, at, a))
  }

/** The fields in order, then the struct's tagged-field section in flexible versions. */
export const struct =
  <A>(...fields: ReadonlyArray<Encoder<A>>): Encoder<A> =>
  (w, at, value) => {
    for (const field of fields) field(w, at, value)
    if (at.f) w.emptyTags()
  }

/** `value[key]`, written in the versions that have it. */
export const field =
  <K extends string, A>(key: K, encoder: Encoder<A>, versions?: Versions): Encoder<{ readonly [P in K]: A }> =>
  (w, at, value) => {
    if (present(at, versions)) encoder(w, at, value[key])
  }

/** A field this broker always answers the same (authorized operations, preferred read replica…). */
export const constant =
  <A>(encoder: Encoder<A>, value: A, versions?: Versions): Encoder<unknown> =>
  (w, at) => {
    if (present(at, versions)) encoder(w, at, value)
  }

/** Fields that exist only in some versions (a shape that changed: ListOffsets v0's offsets list). */
export const when =
  <A>(versions: Versions, encoder: Encoder<A>): Encoder<A> =>
  (w, at, value) => {
    if (present(at, versions)) encoder(w, at, value)
  }

/** A topic as per-partition answers carry it: its name (under `nameKey`), then its partitions. */
export type Topic<K extends string, P> = { readonly [k in K]: string } & { readonly partitions: ReadonlyArray<P> }

/** The topics of a per-partition answer (Produce, Fetch, ListOffsets, OffsetCommit…), each partition written by `partition`. */
export const topics = <K extends string, P>(nameKey: K, partition: Encoder<P>): Encoder<ReadonlyArray<Topic<K, P>> | null> =>
  array(struct<Topic<K, P>>(field(nameKey, string), field("partitions", array(partition))))

/**
 * The topics of a per-partition request: each a name and its partitions, `partition` reading one
 * (its struct's tagged fields are read here).
 */
export const readTopics = <P>(
  r: Reader,
  f: boolean,
  partition: (r: Reader) => P,
): Array<{ readonly name: string; readonly partitions: Array<P> }> =>
  r.array(f, (r) => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => {
      const p = partition(r)
      endStruct(r, f)
      return p
    })
    endStruct(r, f)
    return { name, partitions }
  })

/** A topic of partition indexes (OffsetFetch's topics, Fetch's forgotten topics): read one. */
export const readTopicIndexes =
  (f: boolean) =>
  (r: Reader): { readonly name: string; readonly partitions: Array<number> } => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => r.int32())
    endStruct(r, f)
    return { name, partitions }
  }

/** The encoder of one API's body: `(writer, version, value)`. */
export const body =
  <A>(apiKey: number, encoder: Encoder<A>) =>
  (w: Writer, v: number, value: A): void =>
    encoder(w, { v, f: isFlexible(apiKey, v) }, value)

/** The empty list, null and the null UUID: the fields this broker answers empty. */
export const none: ReadonlyArray<never> = []
export const zeroUuid = new Uint8Array(16)
/** Kafka's "authorized operations not asked for" (INT32_MIN). */
export const omittedOperations = -2147483648
