import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "kafka",
    include: ["test/**/*.test.ts"],
    // One real Apache Kafka node for the whole run (RealKafka.bootstrap()).
    globalSetup: ["test/harness/globalSetup.ts"],
  },
})
