/**
 * `consume --group G`: joins the group, starts each partition at the group's committed offset (else
 * where `--from` says), hands each chunk to `print`, commits what was printed, and leaves the group
 * when the scope closes (after `--max` records, or on Ctrl-C).
 */
import { type Consumer, type ConsumerRecord, GroupConsumer, TopicPartition } from "@kafka-effect/core"
import { type Chunk, Deferred, Effect, Layer, Stream } from "effect"
import * as GroupCoordinatorLive from "../group/GroupCoordinatorLive.js"
import type { KafkaClient } from "../KafkaClient.js"
import type { From } from "./options.js"

export interface GroupConsumeArgs {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  readonly group: string
  readonly from: From
  readonly max: number | undefined
}

export const consumeGroup = <E1, E2>(
  client: KafkaClient["Type"],
  consumer: Consumer.Service<never>,
  args: GroupConsumeArgs,
  print: (records: Chunk.Chunk<ConsumerRecord.ConsumerRecord>) => Effect.Effect<void, E1, E2>,
) =>
  Effect.gen(function* () {
    // The coordinator connection lives as long as the command (built in its scope, not per call).
    const coordinator = yield* Layer.build(
      GroupCoordinatorLive.layer({
        brokers: args.brokers,
        clientId: client.config.clientId,
        ssl: client.config.ssl,
        ...(client.config.sasl === undefined ? {} : { sasl: client.config.sasl }),
      }),
    )
    const ready = yield* Deferred.make<GroupConsumer.GroupSubscription>()
    const from = args.from
    // `--from <offset>`: partitions the group has no offset for start there.
    const onAssigned = (partitions: ReadonlyArray<TopicPartition.TopicPartition>) =>
      from._tag !== "Offset" || partitions.length === 0
        ? Effect.void
        : Effect.gen(function* () {
            const sub = yield* Deferred.await(ready)
            const committed = yield* sub.membership.committed(partitions)
            for (const c of committed) {
              if (c.offset === undefined) yield* consumer.seek(TopicPartition.make(c.topic, c.partition), from.offset)
            }
          }).pipe(Effect.catchAll((e) => Effect.logWarning(`--from ${from.offset}: could not read the group's offsets: ${e.message}`)))
    // A short session: a CLI that is killed should not hold its partitions for long.
    const sub = yield* GroupConsumer.subscribe(consumer, [args.topic], {
      groupId: args.group,
      sessionTimeout: "10 seconds",
      heartbeatInterval: "1 second",
      listener: { onAssigned },
    }).pipe(Effect.provide(coordinator))
    yield* Deferred.succeed(ready, sub)
    const records = args.max === undefined ? sub.records : sub.records.pipe(Stream.take(args.max))
    yield* records.pipe(
      Stream.chunks,
      Stream.runForEach((chunk) => Effect.zipRight(print(chunk), sub.markProcessed([...chunk]))),
    )
  })
