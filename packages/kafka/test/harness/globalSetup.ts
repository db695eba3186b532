/**
 * The kafka package's vitest global setup: one real Apache Kafka node (KRaft, broker+controller)
 * for the whole run, shared by every test file through `RealKafka.bootstrap()`. Tests use topics of
 * their own. With `KAFKA_EFFECT_TEST_BOOTSTRAP=host:port` set, that running broker is used instead.
 * If Kafka cannot start, the run fails with the reason (nothing is skipped).
 */
import { ApacheKafka } from "@kafka-effect/testkit"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBootstrap: string
    kafkaVersion: string
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.KAFKA_EFFECT_TEST_BOOTSTRAP
  if (external !== undefined && external !== "") {
    project.provide("kafkaBootstrap", external)
    project.provide("kafkaVersion", process.env.KAFKA_VERSION ?? "external")
    return undefined
  }
  const started = Date.now()
  const { cluster, close } = await ApacheKafka.start({ nodes: 1 })
  process.stderr.write(`Apache Kafka ${cluster.version} for the suite at ${cluster.bootstrap} (started in ${Date.now() - started} ms)\n`)
  project.provide("kafkaBootstrap", cluster.bootstrap)
  project.provide("kafkaVersion", cluster.version)
  return close
}
