/**
 * The testkit's conformance suite (the scenarios a broker can produce) against the live layer
 * over librdkafka's mock cluster, with 1 and with 3 brokers. Scenarios that need capabilities the
 * mock lacks (DeleteRecords, compaction, truncation, request log) are listed by the suite as not run.
 */
import { Schedule } from "effect"
import { conformance } from "@kafka-effect/testkit/Conformance"
import * as MockTestBroker from "./harness/MockTestBroker.js"

const retrySchedule = Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(5)))

conformance("KafkaClient over librdkafka's mock cluster (1 broker)", MockTestBroker.layer(1, { retrySchedule }), {
  live: true,
  capabilities: MockTestBroker.capabilities,
})

conformance("KafkaClient over librdkafka's mock cluster (3 brokers)", MockTestBroker.layer(3, { retrySchedule }), {
  live: true,
  capabilities: MockTestBroker.capabilities,
})
