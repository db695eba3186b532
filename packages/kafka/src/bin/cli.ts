#!/usr/bin/env -S npx tsx
/**
 * kafka-effect: a command line for people who operate consumers.
 *
 *   offsets --brokers H:P[,H:P] --topic T
 *       one JSON object per partition: {"topic","partition","earliest","latest"}
 *   consume --brokers H:P --topic T [--partitions 0,1] [--from beginning|end|<offset>] [--max N] [--group G]
 *       one JSON object per record: {"topic","partition","offset","key","value"} (utf8 or null);
 *       with --group: joins group G, starts each partition at its committed offset (else at --from),
 *       commits what it printed, and leaves the group when it exits;
 *       offset resets are logged on stderr; exits 0 after --max records, and 0 on Ctrl-C after a
 *       clean shutdown.
 *
 * Without --brokers, KAFKA_BROKERS is read. Bad arguments: one line naming the argument, exit 2.
 */
import type { Args, From } from "./main.js"

const usage = `usage:
  kafka-effect offsets --brokers H:P[,H:P...] --topic T
  kafka-effect consume --brokers H:P[,H:P...] --topic T [--partitions 0,1] [--from beginning|end|<offset>] [--max N] [--group G]
  (KAFKA_BROKERS is used when --brokers is absent)`

class BadArgument extends Error {}

function bad(message: string): never {
  throw new BadArgument(message)
}

const parseArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Args => {
  const [command, ...rest] = argv
  if (command === undefined) bad("missing command: offsets or consume (--help for usage)")
  if (command !== "offsets" && command !== "consume") bad(`unknown command ${JSON.stringify(command)} (expected offsets or consume)`)
  const allowed = command === "offsets" ? ["--brokers", "--topic"] : ["--brokers", "--topic", "--partitions", "--from", "--max", "--group"]
  const values = new Map<string, string>()
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    const eq = arg.indexOf("=")
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg
    if (!allowed.includes(name)) bad(`${name}: unknown argument for ${command} (expected ${allowed.join(", ")})`)
    if (values.has(name)) bad(`${name}: given twice`)
    const value = eq > 0 && arg.startsWith("--") ? arg.slice(eq + 1) : rest[++i]
    if (value === undefined || value === "") bad(`${name}: missing value`)
    values.set(name, value!)
  }
  const brokersRaw = values.get("--brokers") ?? env.KAFKA_BROKERS
  if (brokersRaw === undefined || brokersRaw.trim() === "") bad("--brokers: missing (or set KAFKA_BROKERS)")
  const brokers = brokersRaw!.split(",").map((b) => b.trim())
  const source = values.has("--brokers") ? "--brokers" : "KAFKA_BROKERS"
  for (const b of brokers) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(b) || Number(b.slice(b.lastIndexOf(":") + 1)) > 65535) {
      bad(`${source}: expected host:port[,host:port...], got ${JSON.stringify(b)}`)
    }
  }
  const topic = values.get("--topic")
  if (topic === undefined) bad("--topic: missing")
  if (command === "offsets") return { command, brokers, topic: topic! }
  const partitionsRaw = values.get("--partitions")
  const partitions =
    partitionsRaw === undefined
      ? undefined
      : partitionsRaw.split(",").map((p) => {
          if (!/^\d+$/.test(p.trim()) || Number(p) > 2_147_483_647) {
            bad(`--partitions: expected partition numbers like 0,1,2, got ${JSON.stringify(partitionsRaw)}`)
          }
          return Number(p)
        })
  if (partitions !== undefined && new Set(partitions).size !== partitions.length) bad(`--partitions: a partition is listed twice in ${JSON.stringify(partitionsRaw)}`)
  const fromRaw = values.get("--from") ?? "end"
  const from: From =
    fromRaw === "beginning"
      ? { _tag: "Beginning" }
      : fromRaw === "end"
        ? { _tag: "End" }
        : /^\d+$/.test(fromRaw) && BigInt(fromRaw) < 2n ** 63n
          ? { _tag: "Offset", offset: BigInt(fromRaw) }
          : bad(`--from: expected beginning, end or an offset, got ${JSON.stringify(fromRaw)}`)
  const maxRaw = values.get("--max")
  const max = maxRaw === undefined ? undefined : Number(maxRaw)
  if (max !== undefined && (!/^\d+$/.test(maxRaw!) || !Number.isSafeInteger(max) || max < 1)) {
    bad(`--max: expected a positive integer, got ${JSON.stringify(maxRaw)}`)
  }
  const group = values.get("--group")
  if (group !== undefined && partitions !== undefined) bad("--partitions: cannot be combined with --group (the group assigns the partitions)")
  return { command, brokers, topic: topic!, partitions, from, max, group }
}

if (process.argv[2] === "--help" || process.argv[2] === "-h") {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

let args: Args
try {
  args = parseArgs(process.argv.slice(2), process.env)
} catch (e) {
  if (!(e instanceof BadArgument)) throw e
  process.stderr.write(`kafka-effect: ${e.message}\n`)
  process.exit(2)
}

// Loaded after the arguments are checked: a bad argument answers at once.
const { run } = await import("./main.js")
run(args)
