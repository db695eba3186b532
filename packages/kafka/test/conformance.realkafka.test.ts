/**
 * The testkit's conformance suite through the live layer (`KafkaClient.layer`) over real Apache
 * Kafka: the suite's shared single node, and a three-node cluster of its own (replication factor 3,
 * leaders spread over the nodes). Faults, latency and the request log come from a `FaultProxy`
 * between the client and the brokers; records, topics and DeleteRecords go straight to the brokers
 * through kafkajs. Scenarios that need a fault real Kafka cannot show on request (compaction now,
 * truncation) are listed by the suite as not run, with the capability they need.
 */
import { afterAll } from "@effect/vitest"
import { ApacheKafka } from "@kafka-effect/testkit"
import { conformance } from "@kafka-effect/testkit/Conformance"
import { Schedule } from "effect"
import * as RealKafka from "./harness/RealKafka.js"
import * as RealKafkaTestBroker from "./harness/RealKafkaTestBroker.js"

const retrySchedule = Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(5)))

conformance("KafkaClient over real Apache Kafka (1 node)", RealKafkaTestBroker.layer(RealKafka.brokers(), { retrySchedule }), {
  live: true,
  wire: true,
  capabilities: RealKafkaTestBroker.capabilities,
})

// One cluster for all the scenarios (each uses topics of its own); a start failure fails the file.
const three = await ApacheKafka.start({ nodes: 3 })
afterAll(() => three.close(), 60_000)

conformance("KafkaClient over real Apache Kafka (3 nodes)", RealKafkaTestBroker.layer(three.cluster.brokers, { retrySchedule }), {
  live: true,
  wire: true,
  capabilities: RealKafkaTestBroker.capabilities,
})
