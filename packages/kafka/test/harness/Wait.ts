/**
 * Live-clock waits for tests over real sockets and processes (under TestClock use `TestKit.until`):
 * poll a condition until it holds, and die with what was awaited when it does not in time.
 */
import { ConsumerRecord } from "@kafka-effect/core"
import { Duration, Effect } from "effect"

/** Polls `check` every `every` until it holds; dies saying `what` after `within`. */
export const until = (
  what: string | (() => string),
  check: () => boolean,
  within: Duration.DurationInput = "30 seconds",
  every: Duration.DurationInput = "100 millis",
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(within))
    while (!check()) {
      if (Date.now() > deadline) {
        return yield* Effect.dieMessage(`timed out waiting for ${typeof what === "string" ? what : what()}`)
      }
      yield* Effect.sleep(every)
    }
  })

/** Runs `effect` every 10ms until `done` holds for its value; dies after `tries` runs. */
export const eventually = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean, tries = 300): Effect.Effect<A> =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      const a = yield* effect
      if (done(a)) return a
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.dieMessage(`still not there after ${tries} polls`)
  })

/** Records as `partition@offset=value` (values as UTF-8). */
export const seen = (records: Iterable<ConsumerRecord.ConsumerRecord>): Array<string> =>
  [...records].map((r) => `${r.partition}@${r.offset}=${ConsumerRecord.utf8(r.value)}`)
