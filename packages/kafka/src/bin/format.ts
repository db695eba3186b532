/**
 * How `consume` prints a record: one JSON object, or one tab-separated text line; keys and values as
 * UTF-8, parsed JSON or base64.
 */
import { ConsumerRecord } from "@kafka-effect/core"
import { Data, Either } from "effect"
import type { OutputFormat, ValueFormat } from "./options.js"

/** `--key-format json` / `--value-format json` met bytes that are not JSON. */
export class NotJson extends Data.TaggedError("NotJson")<{
  readonly option: "--key-format" | "--value-format"
  readonly record: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.option} json: ${this.record} is not JSON (${this.reason}); use utf8 or base64`
  }
}

type Field = { readonly bytes: Uint8Array | null; readonly option: "--key-format" | "--value-format"; readonly format: ValueFormat }

const decode = (r: ConsumerRecord.ConsumerRecord, { bytes, option, format }: Field): Either.Either<unknown, NotJson> => {
  if (bytes === null) return Either.right(null)
  if (format === "base64") return Either.right(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"))
  const text = ConsumerRecord.utf8(bytes)
  if (format === "utf8") return Either.right(text)
  return Either.try({
    try: () => JSON.parse(text ?? ""),
    catch: (e) => new NotJson({ option, record: `${r.topic}-${r.partition}@${r.offset}`, reason: e instanceof Error ? e.message : String(e) }),
  })
}

/** A function from a record to its line, for the formats chosen. */
export const formatter =
  (options: { readonly format: OutputFormat; readonly keyFormat: ValueFormat; readonly valueFormat: ValueFormat }) =>
  (r: ConsumerRecord.ConsumerRecord): Either.Either<string, NotJson> =>
    Either.gen(function* () {
      const key = yield* decode(r, { bytes: r.key, option: "--key-format", format: options.keyFormat })
      const value = yield* decode(r, { bytes: r.value, option: "--value-format", format: options.valueFormat })
      if (options.format === "json") {
        return JSON.stringify({ topic: r.topic, partition: r.partition, offset: String(r.offset), key, value })
      }
      const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v))
      return `${r.topic}-${r.partition}@${r.offset}\t${key === null ? "-" : show(key)}\t${show(value)}`
    })
