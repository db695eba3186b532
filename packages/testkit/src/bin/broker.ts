/**
 * `pnpm broker [--port 9092] [--brokers 3] [--partitions N] [--topic name:partitions]... [--verbose]`
 *
 * A local Kafka without Docker or a JVM: the testkit's embedded wire broker. Prints
 * `bootstrap: 127.0.0.1:PORT[,…]` as its first line, then serves until SIGINT or SIGTERM and shuts
 * down cleanly (listeners closed, connections ended). The same command is `kafka-effect broker`.
 */
import { broker } from "./commands.js"
import { runCommand } from "./run.js"

runCommand(broker, "broker")
