/**
 * The testkit's conformance suite through the live layer (`KafkaClient.layer`, kafkajs's protocol
 * layer) over the testkit's embedded wire broker, with 1 and with 3 brokers. Unlike librdkafka's
 * mock, the embedded broker can cut the log (DeleteRecords), compact it with holes, truncate it and
 * log every request it served, so every scenario runs here, over TCP. `wire: true` makes the
 * request-log scenarios (4, 5) also check that each request they count reached a broker over TCP.
 */
import { Schedule } from "effect"
import { conformance } from "@kafka-effect/testkit/Conformance"
import * as EmbeddedClient from "./harness/EmbeddedClient.js"

const retrySchedule = Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(5)))

conformance("KafkaClient over the embedded wire broker (1 broker)", EmbeddedClient.layer(1, { retrySchedule }), {
  live: true,
  wire: true,
})

conformance("KafkaClient over the embedded wire broker (3 brokers)", EmbeddedClient.layer(3, { retrySchedule }), {
  live: true,
  wire: true,
})
