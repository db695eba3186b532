/**
 * The CLI's options, typed and checked as they are parsed: a bad value is a `ValidationError` whose
 * one line names the option and the value given.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { Config, Effect } from "effect"

export type From = { readonly _tag: "Beginning" } | { readonly _tag: "End" } | { readonly _tag: "Offset"; readonly offset: bigint }

export type ValueFormat = "utf8" | "json" | "base64"
export type OutputFormat = "json" | "text"
export type Progress = "auto" | "always" | "never"

export const invalid = (message: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message)))

const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/

/** `--brokers`, else `KAFKA_BROKERS`; the message names whichever was used. */
export const brokers = Options.text("brokers").pipe(
  Options.withPseudoName("host:port[,host:port...]"),
  Options.withDescription("the bootstrap brokers (default: KAFKA_BROKERS)"),
  Options.map((value) => ({ source: "--brokers", value })),
  Options.withFallbackConfig(
    Config.string("KAFKA_BROKERS").pipe(
      Config.withDefault(""),
      Config.map((value) => ({ source: "KAFKA_BROKERS", value })),
    ),
  ),
  Options.mapEffect(({ source, value }) => {
    if (value.trim() === "") return invalid("--brokers: missing (or set KAFKA_BROKERS)")
    const list = value.split(",").map((b) => b.trim())
    const bad = list.find((b) => !hostPort.test(b) || Number(b.slice(b.lastIndexOf(":") + 1)) > 65535)
    return bad === undefined
      ? Effect.succeed(list)
      : invalid(`${source}: expected host:port[,host:port...], got ${JSON.stringify(bad)}`)
  }),
)

export const topic = Options.text("topic").pipe(
  Options.withDescription("the topic"),
  Options.mapEffect((t) => (t === "" ? invalid("--topic: must not be empty") : Effect.succeed(t))),
)

export const partitions = Options.text("partitions").pipe(
  Options.withPseudoName("0,1,..."),
  Options.withDescription("only these partitions (default: all; not with --group)"),
  Options.mapEffect((raw) => {
    const list = raw.split(",").map((p) => p.trim())
    if (list.some((p) => !/^\d+$/.test(p) || Number(p) > 2_147_483_647)) {
      return invalid(`--partitions: expected partition numbers like 0,1,2, got ${JSON.stringify(raw)}`)
    }
    const numbers = list.map(Number)
    return new Set(numbers).size === numbers.length
      ? Effect.succeed(numbers)
      : invalid(`--partitions: a partition is listed twice in ${JSON.stringify(raw)}`)
  }),
  Options.optional,
)

export const from = Options.text("from").pipe(
  Options.withPseudoName("beginning|end|<offset>"),
  Options.withDescription("where to start (with --group: where a partition without a committed offset starts)"),
  Options.withDefault("end"),
  Options.mapEffect((raw): Effect.Effect<From, ValidationError.ValidationError> => {
    if (raw === "beginning") return Effect.succeed({ _tag: "Beginning" })
    if (raw === "end") return Effect.succeed({ _tag: "End" })
    if (/^\d+$/.test(raw) && BigInt(raw) < 2n ** 63n) return Effect.succeed({ _tag: "Offset", offset: BigInt(raw) })
    return invalid(`--from: expected beginning, end or an offset, got ${JSON.stringify(raw)}`)
  }),
)

export const max = Options.text("max").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("exit 0 after N records"),
  Options.mapEffect((raw) => {
    const n = Number(raw)
    return /^\d+$/.test(raw) && Number.isSafeInteger(n) && n >= 1
      ? Effect.succeed(n)
      : invalid(`--max: expected a positive integer, got ${JSON.stringify(raw)}`)
  }),
  Options.optional,
)

export const group = Options.text("group").pipe(
  Options.withDescription("consume as a member of this group: its partitions, commits of what was printed, leave on exit"),
  Options.mapEffect((g) => (g === "" ? invalid("--group: must not be empty") : Effect.succeed(g))),
  Options.optional,
)

/** One of `values`; the message names the option and the value given. */
const oneOf = <const A extends string>(name: string, values: ReadonlyArray<A>, fallback: A, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName(values.join("|")),
    Options.withDescription(description),
    Options.withDefault(fallback),
    Options.mapEffect((raw) => {
      const found = values.find((v) => v === raw)
      return found === undefined ? invalid(`--${name}: expected ${values.join(", ")}, got ${JSON.stringify(raw)}`) : Effect.succeed(found)
    }),
  )

export const format = oneOf<OutputFormat>("format", ["json", "text"], "json", "json: one JSON object per record; text: topic-partition@offset, key, value, tab-separated")

const valueFormats: ReadonlyArray<ValueFormat> = ["utf8", "json", "base64"]

export const keyFormat = oneOf("key-format", valueFormats, "utf8", "how keys are shown (json: the key parsed as JSON)")

export const valueFormat = oneOf("value-format", valueFormats, "utf8", "how values are shown (json: the value parsed as JSON)")

export const progress = oneOf<Progress>(
  "progress",
  ["auto", "always", "never"],
  "auto",
  "a live line on stderr (records/s, lag per partition, resets); auto: when stderr is a terminal",
)
