/**
 * Kafka's own Java tools from the kafka-tools jar (no one here wrote them), run as child processes
 * against a real broker: the console consumer as a group member (`ConsoleConsumer`, the Java
 * `KafkaConsumer` underneath) and the consumer-groups tool (`ConsumerGroupCommand --describe`).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Command, type CommandExecutor } from "@effect/platform"
import { ApacheKafka } from "@kafka-effect/testkit"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import { runToEnd } from "./ChildProcess.js"
import * as RealKafka from "./RealKafka.js"

/** The jars of the version the suite's broker runs (the default version for a broker given by the environment). */
export const jars = Effect.suspend(() => {
  const v = RealKafka.version()
  return ApacheKafka.jars(v === "external" ? ApacheKafka.defaultVersion() : v)
}).pipe(Effect.orDie)

const java = (libs: string, config: string, main: string, args: ReadonlyArray<string>) =>
  Command.make(
    "java",
    "-Xshare:auto",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xmx256m",
    `-Dlog4j2.configurationFile=${config}`,
    "-cp",
    `${libs}/*`,
    main,
    ...args,
  )

// The consumer's group coordinator and rebalance listener log on stdout, between the records, so a
// record's line comes after the lines of the generation it was fetched in.
const log4j2 = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = LOG %p %m%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.coordinator.name = org.apache.kafka.clients.consumer.internals
logger.coordinator.level = INFO
`

const log4j2File = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-tools-"))
    const file = path.join(dir, "log4j2.properties")
    fs.writeFileSync(file, log4j2)
    return file
  }),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

/** What the console consumer showed, in the order it printed it. */
export type ConsoleEvent =
  | { readonly _tag: "Record"; readonly partition: number; readonly offset: bigint; readonly value: string; readonly generation: number }
  | { readonly _tag: "Synced"; readonly generation: number; readonly protocol: string }
  | { readonly _tag: "Assigned"; readonly partitions: ReadonlyArray<number>; readonly generation: number }
  | { readonly _tag: "Revoked"; readonly partitions: ReadonlyArray<number> }

const partitionsOf = (topic: string, list: string): Array<number> =>
  list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith(`${topic}-`))
    .map((s) => Number(s.slice(topic.length + 1)))
    .sort((a, b) => a - b)

export interface ConsoleConsumer {
  /** Everything parsed so far (grows while the process runs). */
  readonly events: ReadonlyArray<ConsoleEvent>
  /** The last generation it synced in (-1 before the first). */
  readonly generation: () => number
  /** The partitions of its last assignment ([] before the first or after a revoke of everything). */
  readonly assignment: () => ReadonlyArray<number>
  /** Every stdout line, for failure messages. */
  readonly lines: ReadonlyArray<string>
  /** SIGTERM: the consumer closes (commits, leaves the group); waits for the exit code. */
  readonly stop: Effect.Effect<number>
}

/**
 * Kafka's console consumer (`org.apache.kafka.tools.consumer.ConsoleConsumer`) in group `group`,
 * speaking the classic group protocol with `strategy` (a `ConsumerPartitionAssignor` class),
 * printing partition and offset per record. It runs until `stop` or the end of the scope.
 */
export const consoleConsumer = (options: {
  readonly bootstrap: string
  readonly topic: string
  readonly group: string
  readonly strategy: string
  readonly clientId: string
  readonly properties?: Readonly<Record<string, string>>
}): Effect.Effect<ConsoleConsumer, never, Scope.Scope | CommandExecutor.CommandExecutor> =>
  Effect.gen(function* () {
    const libs = yield* jars
    const config = yield* log4j2File
    const properties: Record<string, string> = {
      "group.protocol": "classic",
      "partition.assignment.strategy": options.strategy,
      "client.id": options.clientId,
      ...options.properties,
    }
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const proc = yield* Command.start(
      java(libs, config, "org.apache.kafka.tools.consumer.ConsoleConsumer", [
        "--bootstrap-server", options.bootstrap,
        "--topic", options.topic,
        "--group", options.group,
        "--from-beginning",
        "--formatter-property", "print.partition=true",
        "--formatter-property", "print.offset=true",
        ...Object.entries(properties).flatMap(([k, v]) => ["--command-property", `${k}=${v}`]),
      ]),
    ).pipe(Scope.extend(scope), Effect.orDie)

    const events: Array<ConsoleEvent> = []
    const lines: Array<string> = []
    let generation = -1
    let assignment: ReadonlyArray<number> = []
    const record = /^Partition:(\d+)\tOffset:(\d+)\t(.*)$/
    const synced = /Successfully synced group in generation Generation\{generationId=(\d+), memberId='[^']*', protocol='([^']*)'\}/
    const assigned = /Notifying assignor about the new Assignment\(partitions=\[([^\]]*)\]/
    const revoked = /Revoke previously assigned partitions \[([^\]]*)\]/
    const onLine = (line: string) => {
      lines.push(line)
      let m = record.exec(line)
      if (m !== null) {
        events.push({ _tag: "Record", partition: Number(m[1]), offset: BigInt(m[2]!), value: m[3]!, generation })
        return
      }
      m = synced.exec(line)
      if (m !== null) {
        generation = Number(m[1])
        events.push({ _tag: "Synced", generation, protocol: m[2]! })
        return
      }
      m = assigned.exec(line)
      if (m !== null) {
        assignment = partitionsOf(options.topic, m[1]!)
        events.push({ _tag: "Assigned", partitions: assignment, generation })
        return
      }
      m = revoked.exec(line)
      if (m !== null) {
        const gone = new Set(partitionsOf(options.topic, m[1]!))
        assignment = assignment.filter((p) => !gone.has(p))
        events.push({ _tag: "Revoked", partitions: [...gone] })
      }
    }
    const reader = yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Effect.sync(() => onLine(line))),
      Effect.forkIn(scope),
    )
    yield* proc.stderr.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Effect.sync(() => lines.push(`stderr: ${line}`))),
      Effect.forkIn(scope),
    )
    const stop = Effect.gen(function* () {
      yield* Effect.ignore(proc.kill("SIGTERM"))
      const code = yield* proc.exitCode.pipe(Effect.orElseSucceed(() => -1))
      yield* Fiber.join(reader).pipe(Effect.ignore)
      return Number(code)
    })
    return { events, lines, generation: () => generation, assignment: () => assignment, stop }
  })

/** One row of `ConsumerGroupCommand --describe`. */
export interface DescribeRow {
  readonly topic: string
  readonly partition: number
  /** `undefined` for "-" (nothing committed). */
  readonly currentOffset: bigint | undefined
  readonly logEndOffset: bigint
  readonly lag: bigint | undefined
  /** `undefined` for "-" (no active owner). */
  readonly consumerId: string | undefined
  readonly clientId: string | undefined
}

const dash = (s: string | undefined): string | undefined => (s === undefined || s === "-" ? undefined : s)

/**
 * Kafka's consumer-groups tool: `org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
 * --describe --group <group>`, its table parsed. Dies with the tool's output when it fails or
 * prints no table.
 */
export const describeGroup = (bootstrap: string, group: string) =>
  Effect.gen(function* () {
    const libs = yield* jars
    const config = yield* log4j2File
    const out = yield* runToEnd(
      java(libs, config, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", ["--bootstrap-server", bootstrap, "--describe", "--group", group]),
    ).pipe(Effect.orDie)
    const header = out.stdout.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET/.test(l))
    if (out.exitCode !== 0 || header < 0) {
      return yield* Effect.dieMessage(`ConsumerGroupCommand --describe failed (${out.exitCode}):\n${[...out.stdout, ...out.stderr].join("\n")}`)
    }
    const columns = out.stdout[header]!.trim().split(/\s+/)
    const at = (cells: ReadonlyArray<string>, name: string) => cells[columns.indexOf(name)]
    const rows: Array<DescribeRow> = []
    for (const line of out.stdout.slice(header + 1)) {
      const cells = line.trim().split(/\s+/)
      if (cells.length < columns.length || cells[0] !== group) continue
      const current = dash(at(cells, "CURRENT-OFFSET"))
      const lag = dash(at(cells, "LAG"))
      rows.push({
        topic: at(cells, "TOPIC")!,
        partition: Number(at(cells, "PARTITION")),
        currentOffset: current === undefined ? undefined : BigInt(current),
        logEndOffset: BigInt(at(cells, "LOG-END-OFFSET")!),
        lag: lag === undefined ? undefined : BigInt(lag),
        consumerId: dash(at(cells, "CONSUMER-ID")),
        clientId: dash(at(cells, "CLIENT-ID")),
      })
    }
    return rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
  }).pipe(Effect.scoped)

/**
 * Kafka's leader-election tool (`org.apache.kafka.tools.LeaderElectionCommand --election-type
 * preferred`) for one partition of a cluster running `version`: the partition's first replica
 * leads again. Dies with the tool's output unless it reports success.
 */
export const electPreferredLeader = (options: { readonly bootstrap: string; readonly version: string; readonly topic: string; readonly partition: number }) =>
  Effect.gen(function* () {
    const libs = yield* ApacheKafka.jars(options.version).pipe(Effect.orDie)
    const config = yield* log4j2File
    const out = yield* runToEnd(
      java(libs, config, "org.apache.kafka.tools.LeaderElectionCommand", [
        "--bootstrap-server", options.bootstrap,
        "--election-type", "preferred",
        "--topic", options.topic,
        "--partition", String(options.partition),
      ]),
    ).pipe(Effect.orDie)
    const text = [...out.stdout, ...out.stderr].join("\n")
    if (out.exitCode !== 0 || !text.includes("Successfully completed leader election")) {
      return yield* Effect.dieMessage(`LeaderElectionCommand failed (${out.exitCode}):\n${text}`)
    }
    return text
  }).pipe(Effect.scoped)
