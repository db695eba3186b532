/**
 * The vocabulary every settings schema shares (the consumer's, the client's, the group's): durations
 * are written as `Duration.DurationInput` ("500 millis", `500` for milliseconds, `Duration.seconds(1)`)
 * and decoded to a `Duration`; sizes and counts are integers; a wrong value fails with `InvalidConfig`
 * naming the field (its path, e.g. `sasl.mechanism`) and the value, never a secret.
 *
 * @since 0.1.0
 */
import { Config, Duration, Effect, Either, Option, ParseResult, Redacted, Schema } from "effect"
import { InvalidConfig } from "./KafkaError.js"

/**
 * The longest duration a Kafka request field (an int32 of milliseconds) can carry.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxMillis = 2_147_483_647

// Duration.decode clamps a negative number to zero: refuse it before, so the value is named.
const isNegative = (u: unknown): boolean =>
  (typeof u === "number" && u < 0) || (typeof u === "bigint" && u < 0n) || (typeof u === "string" && u.trim().startsWith("-"))

const DurationInput = Schema.declare(
  (u: unknown): u is Duration.DurationInput => !isNegative(u) && Option.isSome(Duration.decodeUnknown(u)),
  { message: () => 'must be a duration >= 0, such as "500 millis", 500 (milliseconds) or Duration.seconds(1)' },
)

/**
 * A literal choice whose failure lists the choices ("must be a, b or c").
 *
 * @since 0.1.0
 * @category schemas
 */
export const oneOf = <const L extends readonly [string, ...Array<string>]>(...literals: L) => {
  const quoted = literals.map(String)
  const list = quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}` : quoted.join("")
  return Schema.Literal(...literals).annotations({ message: () => ({ message: `must be ${list}`, override: true }) })
}

/**
 * A duration setting: written as a `Duration.DurationInput`, decoded to a finite `Duration` of at
 * least `min` (default 0) and at most 2^31-1 milliseconds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const duration = (options: { readonly min?: Duration.DurationInput } = {}) => {
  const min = Duration.decode(options.min ?? 0)
  return Schema.transform(DurationInput, Schema.DurationFromSelf, {
    strict: true,
    decode: (input) => Duration.decode(input),
    encode: (d) => d,
  }).pipe(
    Schema.filter((d) => {
      if (!Duration.isFinite(d)) return "must be a finite duration"
      if (Duration.lessThan(d, min)) return `must be at least ${Duration.format(min)}`
      return Duration.toMillis(d) <= maxMillis || "must be at most 2^31-1 milliseconds"
    }),
  )
}

const mustBe = (what: string) => ({ message: () => ({ message: `must be ${what}`, override: true }) })
/**
 * An integer setting >= 0 (a count, a size that may be zero).
 *
 * @since 0.1.0
 * @category schemas
 */
export const nonNegativeInt = Schema.Number.pipe(Schema.int(mustBe("an integer >= 0")), Schema.nonNegative(mustBe("an integer >= 0")))
/**
 * An integer setting >= 1 (a size, a limit).
 *
 * @since 0.1.0
 * @category schemas
 */
export const positiveInt = Schema.Number.pipe(Schema.int(mustBe("an integer >= 1")), Schema.positive(mustBe("an integer >= 1")))
/**
 * A boolean setting (`true` or `false`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const boolean = Schema.Boolean.annotations(mustBe("true or false"))
/**
 * A string setting that must not be empty (an id, a name).
 *
 * @since 0.1.0
 * @category schemas
 */
export const nonEmptyString = Schema.String.pipe(Schema.minLength(1, { message: () => "must be a non-empty string" }))

const secretKey = /password|secret|token/i

/** The input's value at `path` (`undefined` where it is missing); secrets are never returned. */
const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let value = input
  for (const key of path) {
    if (typeof key === "string" && secretKey.test(key)) return "<not shown>"
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined
    value = Reflect.get(value, key)
  }
  return Redacted.isRedacted(value) ? "<not shown>" : value
}

const toInvalidConfig = (input: unknown, error: ParseResult.ParseError): InvalidConfig => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue?.path ?? []
  const field = path.length > 0 ? path.map(String).join(".") : "(config)"
  const reason =
    issue?._tag === "Missing"
      ? "is required"
      : issue?._tag === "Unexpected"
        ? `is not a setting here (${issue.message.replace(/^is unexpected, expected: /, "known: ").replaceAll('"', "").replaceAll(" | ", ", ")})`
        : (issue?.message ?? error.message)
  return new InvalidConfig({ field, value: path.length > 0 ? valueAt(input, path) : input, reason })
}

/**
 * What `decoder` builds: validation of a settings schema with `InvalidConfig` failures.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoder<A> {
  /** Validates a configuration; the failure names the first wrong field and its value. */
  readonly decode: (input: unknown) => Effect.Effect<A, InvalidConfig>
  /** The same, synchronously. */
  readonly decodeSync: (input: unknown) => Either.Either<A, InvalidConfig>
}

/**
 * Decoding with `InvalidConfig` failures; an unknown field is an error too (a typo is not ignored).
 *
 * @since 0.1.0
 * @category validation
 */
export const decoder = <A, I>(schema: Schema.Schema<A, I>): Decoder<A> => {
  const decodeEither = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "error" })
  const decodeSync = (input: unknown) => Either.mapLeft(decodeEither(input), (error) => toInvalidConfig(input, error))
  return {
    decodeSync,
    decode: (input) => Either.match(decodeSync(input), { onLeft: Effect.fail, onRight: Effect.succeed }),
  }
}

// Numbers arrive from a ConfigProvider as strings; a string that is not a number is passed on as
// is, so the schema's failure names it ("2 seconds" stays a duration string).
const fromConfigString = (raw: string): string | number | boolean => {
  if (raw === "true" || raw === "false") return raw === "true"
  const n = Number(raw)
  return raw.trim() !== "" && !Number.isNaN(n) ? n : raw
}

/**
 * Reads the named scalar fields from the current `ConfigProvider` (keys as the field names; nest
 * with `Config.nested`), without validating them: the schema's decoder does that.
 *
 * @since 0.1.0
 * @category config
 */
export const fields = (names: ReadonlyArray<string>): Config.Config<Record<string, string | number | boolean>> =>
  Config.all(
    names.map((name) => Config.option(Config.string(name)).pipe(Config.map((value) => ({ name, value })))),
  ).pipe(
    Config.map((entries) => {
      const out: Record<string, string | number | boolean> = {}
      for (const { name, value } of entries) {
        if (Option.isSome(value)) out[name] = fromConfigString(value.value)
      }
      return out
    }),
  )
