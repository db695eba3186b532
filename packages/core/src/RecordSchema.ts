/**
 * Keys and values decoded with `Schema`. `decode({ value, key, onError })` turns a stream of byte
 * records into typed ones; a record that does not decode is a `RecordDecodeError` (topic, partition,
 * offset, which field, the parse issue formatted), and `onError` says what happens to it, per stream:
 *
 * - `"fail"` (the default): the records before it in its chunk are delivered, then the stream fails
 *   with the error (in a group nothing of that chunk is committed, so a restart meets it again);
 * - `"skip"`: a warning with the facts, `kafka.consumer.decode_errors` counts it, the stream goes on
 *   (the record is committed with its chunk: it is never delivered);
 * - a function: an Effect that gets the error (with the raw record) before the chunk's good records
 *   are delivered, e.g. producing it to a dead-letter topic; its failure fails the stream.
 *
 * Decoding is synchronous and chunk-wise: one pass over a chunk, no Effect per record; only bad
 * records cost an Effect (the warning or the handler).
 *
 * The schemas decode from what the record holds (`Uint8Array`, or `null` for a tombstone): `json`
 * and `utf8` build such schemas from a schema of the JSON value or of a string. The same schemas
 * encode on the Producer side (`Producer.withSchema`).
 *
 * @since 0.1.0
 */
import { Chunk, Data, Effect, Either, Metric, ParseResult, Schema, Stream } from "effect"
import * as ConsumerMetrics from "./ConsumerMetrics.js"
import type { ConsumerRecord } from "./ConsumerRecord.js"

// ---------------------------------------------------------------------------------------------
// schemas over bytes

/**
 * UTF-8 bytes ⇄ string; bytes that are not valid UTF-8 are a parse issue.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Utf8: Schema.Schema<string, Uint8Array> = Schema.transformOrFail(Schema.Uint8ArrayFromSelf, Schema.String, {
  strict: true,
  decode: (bytes, _, ast) =>
    Either.try({
      try: () => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
      catch: () => new ParseResult.Type(ast, bytes, "not valid UTF-8"),
    }),
  encode: (s) => ParseResult.succeed(new TextEncoder().encode(s)),
})

/**
 * A value read as UTF-8 text and then decoded by `schema` (e.g. `Schema.String`, `Schema.NumberFromString`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const utf8 = <A, R>(schema: Schema.Schema<A, string, R>): Schema.Schema<A, Uint8Array, R> =>
  Schema.compose(Utf8, schema)

/**
 * A value holding JSON (UTF-8): parsed, then decoded by `schema`; encoding writes `JSON.stringify`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const json = <A, I, R>(schema: Schema.Schema<A, I, R>): Schema.Schema<A, Uint8Array, R> =>
  Schema.compose(Utf8, Schema.parseJson(schema))

// ---------------------------------------------------------------------------------------------
// errors

/**
 * A record whose key or value did not decode. `record` is the record as fetched (bytes).
 *
 * @since 0.1.0
 * @category errors
 */
export class RecordDecodeError extends Data.TaggedError("RecordDecodeError")<{
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly field: "key" | "value"
  /** The parse issue, formatted (`TreeFormatter`). */
  readonly issue: string
  readonly record: ConsumerRecord
  readonly cause: ParseResult.ParseError
}> {
  override get message(): string {
    return `The ${this.field} of ${this.topic}-${this.partition}@${this.offset} does not decode: ${this.issue}`
  }
}

// ---------------------------------------------------------------------------------------------
// decoding

/**
 * What happens to a record that does not decode; see the module's note.
 *
 * @since 0.1.0
 * @category errors
 */
export type OnDecodeError<E = never, R = never> = "fail" | "skip" | ((error: RecordDecodeError) => Effect.Effect<void, E, R>)

type Field<S> = [S] extends [never] ? Uint8Array | null : Schema.Schema.Type<S>

/**
 * The typed record: `Schema.Type` of each schema given, bytes for a field without one.
 *
 * @since 0.1.0
 * @category models
 */
export type Decoded<VS, KS> = ConsumerRecord<Field<VS>, Field<KS>>

/**
 * The schemas to decode a record with: one for the value, one for the key, either may be left out.
 *
 * @since 0.1.0
 * @category models
 */
export interface Schemas<VS extends Schema.Schema.AnyNoContext, KS extends Schema.Schema.AnyNoContext> {
  /** Decodes `record.value` (`Uint8Array`, `null` for a tombstone). */
  readonly value?: VS
  /** Decodes `record.key` (`Uint8Array` or `null`). */
  readonly key?: KS
}

/**
 * A decoder for single records: `Right` the typed record, `Left` the error.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decoder = <VS extends Schema.Schema.AnyNoContext = never, KS extends Schema.Schema.AnyNoContext = never>(
  schemas: Schemas<VS, KS>,
): ((record: ConsumerRecord) => Either.Either<Decoded<VS, KS>, RecordDecodeError>) => {
  const decodeValue = schemas.value === undefined ? undefined : Schema.decodeUnknownEither(schemas.value)
  const decodeKey = schemas.key === undefined ? undefined : Schema.decodeUnknownEither(schemas.key)
  const failure = (record: ConsumerRecord, field: "key" | "value", cause: ParseResult.ParseError) =>
    Either.left(
      new RecordDecodeError({
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        field,
        issue: ParseResult.TreeFormatter.formatErrorSync(cause),
        record,
        cause,
      }),
    )
  return (record) => {
    let key: unknown = record.key
    let value: unknown = record.value
    if (decodeKey !== undefined) {
      const k = decodeKey(record.key)
      if (Either.isLeft(k)) return failure(record, "key", k.left)
      key = k.right
    }
    if (decodeValue !== undefined) {
      const v = decodeValue(record.value)
      if (Either.isLeft(v)) return failure(record, "value", v.left)
      value = v.right
    }
    return Either.right(typed<VS, KS>(record, key, value))
  }
}

// The decoders' outputs are `Schema.Type` of their schemas; TypeScript cannot follow that through
// the optional fields, so the record is rebuilt through this one signature.
function typed<VS, KS>(record: ConsumerRecord, key: unknown, value: unknown): Decoded<VS, KS>
function typed(record: ConsumerRecord, key: unknown, value: unknown): ConsumerRecord<unknown, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key,
    value,
    headers: record.headers,
  }
}

/** Decodes one chunk: the good records in order, and the errors. */
const decodeChunk = <A>(
  decode: (record: ConsumerRecord) => Either.Either<A, RecordDecodeError>,
  chunk: Chunk.Chunk<ConsumerRecord>,
  stopAtFirst: boolean,
): { readonly good: Array<A>; readonly bad: Array<RecordDecodeError> } => {
  const good: Array<A> = []
  const bad: Array<RecordDecodeError> = []
  for (const record of chunk) {
    const d = decode(record)
    if (Either.isRight(d)) good.push(d.right)
    else {
      bad.push(d.left)
      if (stopAtFirst) break
    }
  }
  return { good, bad }
}

const countError = (e: RecordDecodeError, policy: string) =>
  Metric.increment(ConsumerMetrics.tagged(ConsumerMetrics.forTopic(ConsumerMetrics.decodeErrors, e.topic), "policy", policy))

const warnSkipped = (e: RecordDecodeError) =>
  Effect.zipRight(
    Effect.logWarning(`Skipping a record that does not decode: ${e.message}`).pipe(
      Effect.annotateLogs({
        topic: e.topic,
        partition: e.partition,
        offset: String(e.offset),
        field: e.field,
        issue: e.issue,
      }),
    ),
    countError(e, "skip"),
  )

/**
 * One chunk in, one chunk (possibly empty) out, or the good prefix and then a failure. The per-chunk
 * work is one synchronous pass; Effects run only for bad records.
 */
const decodeChunkStream = <A, E2, R2>(
  decode: (record: ConsumerRecord) => Either.Either<A, RecordDecodeError>,
  onError: OnDecodeError<E2, R2>,
) => {
  const stopAtFirst = onError === "fail"
  return (chunk: Chunk.Chunk<ConsumerRecord>): Stream.Stream<Chunk.Chunk<A>, RecordDecodeError | E2, R2> => {
    const { good, bad } = decodeChunk(decode, chunk, stopAtFirst)
    const out = Chunk.unsafeFromArray(good)
    const first = bad[0]
    if (first === undefined) return Stream.succeed(out)
    if (onError === "fail") {
      return Stream.concat(
        good.length === 0 ? Stream.empty : Stream.succeed(out),
        Stream.fromEffect(Effect.zipRight(countError(first, "fail"), Effect.fail(first))),
      )
    }
    const handle =
      onError === "skip"
        ? Effect.forEach(bad, warnSkipped, { discard: true })
        : Effect.forEach(bad, (e) => Effect.zipRight(countError(e, "handler"), onError(e)), { discard: true })
    return Stream.fromEffect(Effect.as(handle, out))
  }
}

type DecodeStream<A, E2, R2> = <E, R>(self: Stream.Stream<ConsumerRecord, E, R>) => Stream.Stream<A, E | E2, R | R2>
type DecodeChunkStream<A, E2, R2> = <E, R>(
  self: Stream.Stream<Chunk.Chunk<ConsumerRecord>, E, R>,
) => Stream.Stream<Chunk.Chunk<A>, E | E2, R | R2>

/**
 * Decodes a record stream (e.g. `consumer.records`, `subscription.records`) chunk by chunk. The
 * error channel shows the policy: `"fail"` (the default) adds `RecordDecodeError`, `"skip"`
 * nothing, a handler its own errors and requirements.
 *
 * @example
 * import { RecordSchema } from "@kafka-effect/core"
 * import { Chunk, Effect, Schema, Stream } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.Number, item: Schema.String })
 * const bytes = (s: string) => new TextEncoder().encode(s)
 * const record = (offset: bigint, value: string) =>
 *   ({ topic: "orders", partition: 0, offset, timestamp: 0, key: null, value: bytes(value), headers: [] })
 *
 * // one record that is not an Order: skipped with a warning, the others decoded
 * const orders = Stream.make(record(0n, '{"id":1,"item":"tea"}'), record(1n, "not json"), record(2n, '{"id":2,"item":"jam"}')).pipe(
 *   RecordSchema.decode({ value: RecordSchema.json(Order), onError: "skip" }),
 * )
 *
 * Effect.runPromise(Stream.runCollect(orders)).then((decoded) => {
 *   assert.deepStrictEqual(Chunk.toArray(decoded).map((r) => r.value.item), ["tea", "jam"])
 * })
 *
 * @since 0.1.0
 * @category decoding
 */
export function decode<VS extends Schema.Schema.AnyNoContext = never, KS extends Schema.Schema.AnyNoContext = never>(
  options: Schemas<VS, KS> & { readonly onError?: "fail" },
): DecodeStream<Decoded<VS, KS>, RecordDecodeError, never>
export function decode<VS extends Schema.Schema.AnyNoContext = never, KS extends Schema.Schema.AnyNoContext = never>(
  options: Schemas<VS, KS> & { readonly onError: "skip" },
): DecodeStream<Decoded<VS, KS>, never, never>
export function decode<VS extends Schema.Schema.AnyNoContext = never, KS extends Schema.Schema.AnyNoContext = never, E2 = never, R2 = never>(
  options: Schemas<VS, KS> & { readonly onError: (error: RecordDecodeError) => Effect.Effect<void, E2, R2> },
): DecodeStream<Decoded<VS, KS>, E2, R2>
export function decode<VS extends Schema.Schema.AnyNoContext, KS extends Schema.Schema.AnyNoContext, E2, R2>(
  options: Schemas<VS, KS> & { readonly onError?: OnDecodeError<E2, R2> },
): DecodeStream<Decoded<VS, KS>, RecordDecodeError | E2, R2> {
  const perChunk = decodeChunkStream(decoder<VS, KS>(options), options.onError ?? "fail")
  return (self) => self.pipe(Stream.chunks, Stream.flatMap(perChunk), Stream.flattenChunks)
}

/**
 * The same over a stream of chunks (`consumer.chunks`): a chunk that loses every record is dropped.
 *
 * @since 0.1.0
 * @category decoding
 */
export function decodeChunks<VS extends Schema.Schema.AnyNoContext = never, KS extends Schema.Schema.AnyNoContext = never>(
  options: Schemas<VS, KS> & { readonly onError?: "fail" },
): DecodeChunkStream<Decoded<VS, KS>, RecordDecodeError, never>
export function decodeChunks<VS extends Schema.Schema.AnyNoContext = never, KS extends Schema.Schema.AnyNoContext = never>(
  options: Schemas<VS, KS> & { readonly onError: "skip" },
): DecodeChunkStream<Decoded<VS, KS>, never, never>
export function decodeChunks<
  VS extends Schema.Schema.AnyNoContext = never,
  KS extends Schema.Schema.AnyNoContext = never,
  E2 = never,
  R2 = never,
>(
  options: Schemas<VS, KS> & { readonly onError: (error: RecordDecodeError) => Effect.Effect<void, E2, R2> },
): DecodeChunkStream<Decoded<VS, KS>, E2, R2>
export function decodeChunks<VS extends Schema.Schema.AnyNoContext, KS extends Schema.Schema.AnyNoContext, E2, R2>(
  options: Schemas<VS, KS> & { readonly onError?: OnDecodeError<E2, R2> },
): DecodeChunkStream<Decoded<VS, KS>, RecordDecodeError | E2, R2> {
  const perChunk = decodeChunkStream(decoder<VS, KS>(options), options.onError ?? "fail")
  return (self) => self.pipe(Stream.flatMap(perChunk), Stream.filter(Chunk.isNonEmpty))
}
