import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "kafka",
    include: ["test/**/*.test.ts"],
    // One real Apache Kafka node for the whole run (RealKafka.bootstrap()).
    globalSetup: ["test/harness/globalSetup.ts"],
    // Tests over real brokers create topics and wait for leaders; with files running side by side a
    // first request can take longer than vitest's default 5 s.
    testTimeout: 30_000,
  },
})
