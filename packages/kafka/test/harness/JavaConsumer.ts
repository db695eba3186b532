/**
 * Kafka's Java consumer as a test peer: `JavaConsumerPeer.java` (next to this file) run with the
 * JDK's single-file source launcher against the kafka-clients jar of the version the suite's broker
 * runs (the cached Apache Kafka jars), the same cases as the aiokafka peer. Its log4j2 output (the
 * consumer's INFO lines included) goes to stdout between the case markers, so each case gets the
 * lines the client logged during it. A JDK that is missing fails with the command and its output.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Data, Effect, Schema } from "effect"
import * as KafkaTools from "./KafkaTools.js"
import * as PeerOutcome from "./PeerOutcome.js"

const source = path.join(path.dirname(fileURLToPath(import.meta.url)), "JavaConsumerPeer.java")

export class JavaConsumerError extends Data.TaggedError("JavaConsumerError")<{
  readonly step: string
  readonly command: string
  readonly detail: string
}> {
  override get message(): string {
    return `Java consumer peer: ${this.step} failed (${this.command}): ${this.detail}`
  }
}

// Root logger WARN; the consumer's own packages at INFO (where it says it resets an offset).
const log4j2 = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = LOG %p %m%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.consumer.name = org.apache.kafka.clients.consumer
logger.consumer.level = INFO
`

/** One case: a one-partition topic, a position to seek to, the reset setting. */
export type Case = PeerOutcome.Case

export const Outcome = Schema.Struct({
  ...PeerOutcome.fields,
  client: Schema.Literal("java"),
  version: Schema.String,
})

/** A case's outcome and the lines the client logged during it (`LEVEL message`). */
export type Outcome = typeof Outcome.Type & { readonly logs: ReadonlyArray<string> }

const decodeLine = Schema.decodeUnknown(Schema.parseJson(Outcome))

/** Runs the cases one after another in one JVM; one outcome per case, in order. */
export const runCases = (bootstrap: string, cases: ReadonlyArray<Case>, deadlineSeconds = 30) =>
  Effect.gen(function* () {
    const libs = yield* KafkaTools.jars
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "java-peer-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true })),
    )
    const config = path.join(dir, "log4j2.properties")
    yield* Effect.sync(() => fs.writeFileSync(config, log4j2))
    const args = [
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      "-Xmx256m",
      `-Dlog4j2.configurationFile=${config}`,
      "-cp",
      `${libs}/*`,
      source,
      bootstrap,
      String(deadlineSeconds),
      ...cases.map((c) => `${c.id},${c.topic},${c.position},${c.setting}`),
    ]
    const stdout = yield* Effect.async<string, JavaConsumerError>((resume) => {
      const child = execFile(
        "java",
        args,
        { timeout: (deadlineSeconds + 30) * 1000 * Math.max(1, cases.length), maxBuffer: 64 << 20 },
        (error, out, stderr) => {
          if (error === null) resume(Effect.succeed(out))
          else
            resume(
              Effect.fail(
                new JavaConsumerError({
                  step: "java JavaConsumerPeer.java",
                  command: ["java", ...args].join(" ").slice(0, 300),
                  detail: `${error.message}\n${stderr}\n${out}`.trim().slice(-4000),
                }),
              ),
            )
        },
      )
      return Effect.sync(() => child.kill("SIGKILL"))
    })
    const outcomes: Array<Outcome> = []
    let logs: Array<string> = []
    for (const line of stdout.split("\n")) {
      if (line.startsWith("CASE ")) logs = []
      else if (line.startsWith("LOG ")) logs.push(line.slice(4))
      else if (line.startsWith("RESULT ")) {
        const decoded = yield* decodeLine(line.slice(7)).pipe(
          Effect.mapError((e) => new JavaConsumerError({ step: "decode output", command: source, detail: `${line}: ${e.message}` })),
        )
        outcomes.push({ ...decoded, logs })
      }
    }
    return outcomes
  })
