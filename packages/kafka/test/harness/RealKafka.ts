/**
 * The suite's shared real Apache Kafka broker (started once per run by `globalSetup.ts`). Tests use
 * their own topics (see `topicName`). A test that needs three nodes or kills brokers starts its own
 * with `ApacheKafka.layer({ nodes: 3 })` from the testkit.
 */
import { randomBytes } from "node:crypto"
import { inject } from "vitest"
import "./globalSetup.js"

/** `host:port[,…]` of the shared broker. */
export const bootstrap = (): string => inject("kafkaBootstrap")

export const brokers = (): ReadonlyArray<string> => bootstrap().split(",")

/** The Kafka version the shared broker runs ("external" for a broker given by the environment). */
export const version = (): string => inject("kafkaVersion")

/** A topic name no other test uses. */
export const topicName = (prefix: string): string => `${prefix}-${randomBytes(4).toString("hex")}`
