/**
 * The testkit's conformance suite through the live layer (`KafkaClient.layer`) over real Apache
 * Kafka: the suite's shared single node. Faults, latency and the request log come from a
 * `FaultProxy` between the client and the broker; records, topics and DeleteRecords go straight to
 * the broker through kafkajs. Scenarios that need a fault real Kafka cannot show on request
 * (compaction now, truncation) are listed by the suite as not run, with the capability they need.
 */
import { Schedule } from "effect"
import { conformance } from "@kafka-effect/testkit/Conformance"
import * as RealKafka from "./harness/RealKafka.js"
import * as RealKafkaTestBroker from "./harness/RealKafkaTestBroker.js"

const retrySchedule = Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(5)))

conformance("KafkaClient over real Apache Kafka (1 node)", RealKafkaTestBroker.layer(RealKafka.brokers(), { retrySchedule }), {
  live: true,
  wire: true,
  capabilities: RealKafkaTestBroker.capabilities,
})
