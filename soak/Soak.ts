/**
 * What every soak kind shares: its options, how a record's number is written and read, and the
 * run that ends with one JSON line of figures.
 */
import { Layer, Logger, LogLevel } from "effect"
import * as Ledger from "./Ledger.js"
import * as Prng from "./Prng.js"

export interface RunOptions {
  readonly seed: number
  readonly minutes: number
  /** Breaks the books on purpose (one delivery dropped, or one reported twice) to show the checks fail. */
  readonly sabotage?: "drop" | "duplicate"
  readonly verbose: boolean
}

export interface RunResult {
  readonly seconds: number
}

export type Runner = (options: RunOptions, ledger: Ledger.Ledger, prng: Prng.Prng) => Promise<RunResult>

const decoder = new TextDecoder()

/** The producer writes each record's number (per partition, from 0) as its value. */
export const decodeNumber = (value: Uint8Array | null): number => (value === null ? -1 : Number(decoder.decode(value)))

/** The ledger with one delivery dropped (the first of partition 0 at offset 10) or one repeated. */
const sabotaged = (ledger: Ledger.Ledger, sabotage: RunOptions["sabotage"]): Ledger.Ledger => {
  if (sabotage === undefined) return ledger
  let done = false
  return {
    ...ledger,
    deliver: (member, generation, partition, records) => {
      if (partition !== 0 || !records.some((r) => r.offset === 10)) return ledger.deliver(member, generation, partition, records)
      if (sabotage === "drop") return ledger.deliver(member, generation, partition, records.filter((r) => r.offset !== 10))
      ledger.deliver(member, generation, partition, records)
      if (!done) ledger.deliver(member, generation, partition, records.filter((r) => r.offset === 10))
      done = true
    },
  }
}

export const run = async (broker: Ledger.Broker, runner: Runner, options: RunOptions) => {
  const books = Ledger.make()
  const prng = Prng.make(options.seed).fork(broker)
  const result = await runner(options, sabotaged(books, options.sabotage), prng)
  return books.summarize({ seed: options.seed, broker, minutes: options.minutes, seconds: Math.round(result.seconds * 10) / 10 })
}

/** Logs on stderr (stdout carries the JSON lines), errors only unless verbose. */
export const logLayer = (verbose: boolean) =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)),
    Logger.minimumLogLevel(verbose ? LogLevel.Info : LogLevel.Error),
  )
