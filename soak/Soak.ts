/**
 * What every soak kind shares: its options, how a record's number is written and read, and the
 * run that ends with one JSON line of figures.
 */
import type { ConsumerRecord } from "@kafka-effect/core"
import { Layer, Logger, LogLevel } from "effect"
import * as Ledger from "./Ledger.js"
import * as Prng from "./Prng.js"

export interface RunOptions {
  readonly seed: number
  readonly minutes: number
  /**
   * Breaks the books on purpose to show the checks fail: "drop" loses the deliveries of partition
   * 0's offset 10, "duplicate" reports partition 1's offset 10 twice (the run itself is the same).
   */
  readonly sabotage?: ReadonlyArray<Sabotage>
  /** The kafka kind: use this running cluster (no broker kills) instead of starting three nodes. */
  readonly bootstrap?: ReadonlyArray<string>
  readonly verbose: boolean
}

export type Sabotage = "drop" | "duplicate"

export interface RunResult {
  readonly seconds: number
}

export type Runner = (options: RunOptions, ledger: Ledger.Ledger, prng: Prng.Prng) => Promise<RunResult>

const decoder = new TextDecoder()

/** The producer writes each record's number (per partition, from 0) as its value. */
export const decodeNumber = (value: Uint8Array | null): number => (value === null ? -1 : Number(decoder.decode(value)))

/** A chunk's records per partition, as the ledger takes them. */
export const byPartition = (records: Iterable<ConsumerRecord.ConsumerRecord>): Map<number, Array<Ledger.Delivered>> => {
  const out = new Map<number, Array<Ledger.Delivered>>()
  for (const r of records) {
    const list = out.get(r.partition)
    const d = { offset: Number(r.offset), n: decodeNumber(r.value) }
    if (list === undefined) out.set(r.partition, [d])
    else list.push(d)
  }
  return out
}

/** The ledger with partition 0's offset 10 never delivered ("drop") or partition 1's reported twice once ("duplicate"). */
const sabotaged = (ledger: Ledger.Ledger, sabotage: RunOptions["sabotage"]): Ledger.Ledger => {
  if (sabotage === undefined || sabotage.length === 0) return ledger
  const drop = sabotage.includes("drop")
  let duplicate = sabotage.includes("duplicate")
  return {
    ...ledger,
    deliver: (member, generation, partition, records) => {
      const hit = records.some((r) => r.offset === 10)
      if (drop && partition === 0 && hit) return ledger.deliver(member, generation, partition, records.filter((r) => r.offset !== 10))
      ledger.deliver(member, generation, partition, records)
      if (duplicate && partition === 1 && hit) {
        duplicate = false
        ledger.deliver(member, generation, partition, records.filter((r) => r.offset === 10))
      }
    },
  }
}

export const run = async (broker: Ledger.Broker, runner: Runner, options: RunOptions) => {
  const books = Ledger.make()
  const prng = Prng.make(options.seed).fork(broker)
  const result = await runner(options, sabotaged(books, options.sabotage), prng)
  return books.summarize({ seed: options.seed, broker, minutes: options.minutes, seconds: Math.round(result.seconds * 10) / 10 })
}

/** Logs on stderr (stdout carries the JSON lines): from `quiet` up, or Info and up when verbose. */
export const logLayer = (verbose: boolean, quiet: LogLevel.LogLevel = LogLevel.Error) =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)),
    Logger.minimumLogLevel(verbose ? LogLevel.Info : quiet),
  )
