/**
 * `consume`'s live line on stderr: records/s since the last tick, lag per partition (the last fetch's
 * high watermark minus the position) and the offset resets so far, redrawn in place once a second.
 */
import type { Consumer } from "@kafka-effect/core"
import { Clock, Effect, Queue, Ref, Schedule } from "effect"

export const clearLine = "\r\x1b[K"

const shown = 8

/** The line for one tick (also used by the tests, through the CLI, with `--progress always`). */
export const render = (
  rate: number,
  lags: ReadonlyArray<{ readonly partition: number; readonly lag: bigint | undefined }>,
  resets: number,
): string => {
  const known = lags.filter((l) => l.lag !== undefined)
  const total = known.reduce((n, l) => n + (l.lag ?? 0n), 0n)
  const parts = lags.slice(0, shown).map((l) => `${l.partition}:${l.lag ?? "?"}`)
  const more = lags.length > shown ? ` +${lags.length - shown} more` : ""
  return `${Math.round(rate)} records/s  lag ${total} (${parts.join(" ")}${more})  resets ${resets}`
}

/**
 * Starts the live line for the scope; returns the counter that `consume` bumps per printed chunk.
 * The line is cleared when the scope closes, so the shell prompt starts on a clean line.
 */
export const start = <E>(consumer: Consumer.Service<E>, write: (text: string) => void) =>
  Effect.gen(function* () {
    // Added first, so it runs after the fibers below are interrupted: nothing redraws after it.
    yield* Effect.addFinalizer(() => Effect.sync(() => write(clearLine)))
    const printed = yield* Ref.make(0)
    const resets = yield* Ref.make(0)
    const events = yield* consumer.subscribeEvents
    yield* Queue.take(events).pipe(
      Effect.flatMap(() => Ref.update(resets, (n) => n + 1)),
      Effect.forever,
      Effect.forkScoped,
    )
    let last = { at: yield* Clock.currentTimeMillis, count: 0 }
    const tick = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const count = yield* Ref.get(printed)
      const rate = now > last.at ? ((count - last.count) * 1000) / (now - last.at) : 0
      last = { at: now, count }
      const partitions = yield* consumer.state.partitions
      const lags = [...partitions]
        .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
        .map((p) => ({
          partition: p.partition,
          lag: p.highWatermark === undefined || p.position === undefined ? undefined : p.highWatermark > p.position ? p.highWatermark - p.position : 0n,
        }))
      write(`${clearLine}${render(rate, lags, yield* Ref.get(resets))}`)
    })
    yield* tick.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.delay("1 second"), Effect.forkScoped)
    return printed
  })
