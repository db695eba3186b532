/**
 * Testing your own service (README): demo/billing.ts, unchanged, over the testkit's in-memory
 * broker and group coordinator, on the TestClock. Nothing here opens a socket or sleeps.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, TopicPartition } from "@kafka-effect/core"
import { TestBroker, TestKit } from "@kafka-effect/testkit"
import { Effect, Fiber, Layer, Ref } from "effect"
import { billing, Ledger } from "./billing.js"

const order = (customer: string, cents: number) => JSON.stringify({ customer, cents })

// The service's dependencies: the consumer over the test broker and coordinator, and a ledger in a Ref.
const setup = Effect.gen(function* () {
  const booked = yield* Ref.make<ReadonlyArray<string>>([])
  const ledger = Layer.succeed(Ledger, {
    book: (customer, cents) => Ref.update(booked, (all) => [...all, `${customer}:${cents}`]),
  })
  return { booked, ledger }
})

const kit = Consumer.layer({ config: { autoOffsetReset: "earliest" } }).pipe(
  Layer.provideMerge(TestKit.layer({ topics: { orders: 2 } })),
)

const orders = [TopicPartition.make("orders", 0), TopicPartition.make("orders", 1)]

describe("billing (a user's service under the testkit)", () => {
  it.scoped("books every order and, when it stops, commits what it booked", () =>
    Effect.gen(function* () {
      const { booked, ledger } = yield* setup
      yield* TestKit.produce("orders", 0, [order("ada", 1200), order("bob", 300)])
      yield* TestKit.produce("orders", 1, [order("cy", 50)])
      const service = yield* Effect.fork(Effect.scoped(Effect.provide(billing, ledger)))
      yield* TestKit.until(Effect.map(Ref.get(booked), (b) => b.length === 3), { what: "three bookings" })
      expect([...(yield* Ref.get(booked))].sort()).toEqual(["ada:1200", "bob:300", "cy:50"])
      // Interrupting the service closes its scope: the group commits what was processed.
      yield* Fiber.interrupt(service)
      expect(yield* TestKit.committed("billing", orders)).toEqual({ "orders-0": 2n, "orders-1": 1n })
    }).pipe(Effect.provide(kit)),
  )

  it.scoped("skips a malformed order with a warning and goes on", () =>
    Effect.gen(function* () {
      const { booked, ledger } = yield* setup
      const logs = yield* TestKit.makeLogCapture()
      yield* TestKit.produce("orders", 0, ["not json", order("ada", 1)])
      yield* Effect.fork(Effect.scoped(Effect.provide(billing, ledger)).pipe(Effect.provide(logs.layer)))
      yield* TestKit.until(Effect.map(Ref.get(booked), (b) => b.length === 1))
      const warnings = yield* logs.warnings
      expect(warnings.map((w) => [w.message, w.annotations])).toEqual([["Skipping a malformed order", { partition: 0, offset: "0" }]])
    }).pipe(Effect.provide(kit)),
  )

  it.scoped("after retention deleted orders it had not read, it logs what was skipped and books the rest", () =>
    Effect.gen(function* () {
      const { booked, ledger } = yield* setup
      const broker = yield* TestBroker.TestBroker
      const logs = yield* TestKit.makeLogCapture()
      yield* TestKit.produce("orders", 0, [order("ada", 1)])
      const first = yield* Effect.fork(Effect.scoped(Effect.provide(billing, ledger)))
      yield* TestKit.until(Effect.map(Ref.get(booked), (b) => b.length === 1))
      yield* Fiber.interrupt(first)
      // While the service is down, three orders arrive and retention deletes two of them.
      yield* TestKit.produce("orders", 0, [order("bob", 2), order("cy", 3), order("dee", 4)])
      yield* broker.deleteRecords(orders[0]!, 3n)
      yield* Effect.fork(Effect.scoped(Effect.provide(billing, ledger)).pipe(Effect.provide(logs.layer)))
      yield* TestKit.until(Effect.map(Ref.get(booked), (b) => b.length === 2))
      expect(yield* Ref.get(booked)).toEqual(["ada:1", "dee:4"])
      const warnings = yield* logs.warnings
      expect(warnings.map((w) => w.message)).toEqual([
        "Offset out of range, resetting to 3 (orders-0: requested 1, log start 3, end 4, skipped 2)",
      ])
    }).pipe(Effect.provide(kit)),
  )

})
