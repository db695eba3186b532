import { Effect, HashMap, Logger, type LogLevel } from "effect"

export interface CapturedLog {
  readonly level: LogLevel.LogLevel["label"]
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps every log line, for assertions. */
export const makeTestLogger = Effect.sync(() => {
  const lines: Array<CapturedLog> = []
  const logger = Logger.make(({ logLevel, message, annotations }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push({ level: logLevel.label, message: text, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
  })
  return { layer: Logger.add(logger), lines: Effect.sync((): ReadonlyArray<CapturedLog> => [...lines]) }
})
