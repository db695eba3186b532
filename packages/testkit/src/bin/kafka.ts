/**
 * `pnpm kafka [--nodes 1|3] [--port 9092] [--kafka-version 4.4.0] [--log-level ERROR|WARN|INFO|DEBUG]`
 *
 * Real Apache Kafka on this machine without Docker: the jars are fetched from Maven Central with
 * Maven (once; cached in ~/.cache/kafka-effect), KRaft storage is formatted in a temporary directory,
 * and one combined broker+controller node (or three) starts on loopback. Prints
 * `bootstrap: 127.0.0.1:PORT[,…]` as its first line, then the log directories, and serves until
 * SIGINT or SIGTERM; then it stops the brokers and removes their data. The same command is
 * `kafka-effect kafka`.
 */
import { kafka } from "./commands.js"
import { runCommand } from "./run.js"

runCommand(kafka, "kafka")
