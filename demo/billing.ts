/**
 * A user's own service, as the README's "Testing your own service" tests it
 * (demo/billing.test.ts): a member of the consumer group `billing` that reads orders
 * (`{"customer":"ada","cents":1200}`), books each one in a `Ledger`, and marks it processed so the
 * group commits it. A malformed order is logged and skipped, never fatal.
 */
import { Consumer, ConsumerRecord, GroupConsumer } from "@kafka-effect/core"
import { Context, Effect, Either, Schema, Stream } from "effect"

/** Where bookings go: a database in production, a `Ref` in a test. */
export class Ledger extends Context.Tag("demo/Ledger")<
  Ledger,
  { readonly book: (customer: string, cents: number) => Effect.Effect<void> }
>() {}

const Order = Schema.parseJson(Schema.Struct({ customer: Schema.String, cents: Schema.Int }))
const decodeOrder = Schema.decodeUnknownEither(Order)

/** Runs until interrupted; closing its scope commits what was booked and leaves the group. */
export const billing = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  const ledger = yield* Ledger
  const group = yield* GroupConsumer.subscribe(consumer, ["orders"], { groupId: "billing" })
  yield* group.records.pipe(
    Stream.runForEach((record) =>
      Either.match(decodeOrder(ConsumerRecord.utf8(record.value) ?? ""), {
        onLeft: () =>
          Effect.logWarning("Skipping a malformed order").pipe(
            Effect.annotateLogs({ partition: record.partition, offset: String(record.offset) }),
          ),
        onRight: (order) => ledger.book(order.customer, order.cents),
      }).pipe(Effect.zipRight(group.markProcessed([record]))),
    ),
  )
})
