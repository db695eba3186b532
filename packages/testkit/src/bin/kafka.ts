/**
 * `pnpm kafka [--nodes 1|3] [--port 9092] [--version 4.4.0]`
 *
 * Real Apache Kafka on this machine without Docker: the jars are fetched from Maven Central with
 * Maven (once; cached in ~/.cache/kafka-effect), KRaft storage is formatted in a temporary directory,
 * and one combined broker+controller node (or three) starts on loopback. Prints
 * `bootstrap: 127.0.0.1:PORT[,…]` as its first line, then the log directories, and serves until
 * SIGINT or SIGTERM; then it stops the brokers and removes their data.
 */
import * as ApacheKafka from "../ApacheKafka.js"

const usage = "usage: pnpm kafka [--nodes 1|3] [--port 9092] [--version 4.4.0] [--log-level ERROR|WARN|INFO|DEBUG]"

function fail(message: string): never {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

const options: { nodes: 1 | 3; port?: number; version?: string; logLevel?: "ERROR" | "WARN" | "INFO" | "DEBUG" } = { nodes: 1 }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]
  const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined]
  const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`)
  switch (flag) {
    case "--nodes": {
      const v = value()
      if (v !== "1" && v !== "3") fail(`--nodes must be 1 or 3, got ${v}`)
      options.nodes = v === "3" ? 3 : 1
      break
    }
    case "--port": {
      const v = value()
      const port = Number(v)
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a port number, got ${v}`)
      options.port = port
      break
    }
    case "--version":
      options.version = value()
      break
    case "--log-level": {
      const v = value().toUpperCase()
      if (v !== "ERROR" && v !== "WARN" && v !== "INFO" && v !== "DEBUG") fail(`--log-level must be ERROR, WARN, INFO or DEBUG, got ${v}`)
      options.logLevel = v
      break
    }
    case "--":
      break
    case "--help":
    case "-h":
      console.log(usage)
      process.exit(0)
      break
    default:
      fail(`unknown argument ${arg}`)
  }
}

const { cluster, close } = await ApacheKafka.start(options).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e))
  process.exit(1)
})
console.log(`bootstrap: ${cluster.bootstrap}`)
console.error(`Apache Kafka ${cluster.version}, ${cluster.nodes.length} node(s); logs: ${cluster.nodes.map((n) => `${n.dir}/server.log`).join(" ")}`)
let closing = false
const shutdown = () => {
  if (closing) return
  closing = true
  console.error("stopping Kafka")
  void close().then(() => process.exit(0))
}
process.on("SIGINT", shutdown)
process.on("SIGTERM", shutdown)
