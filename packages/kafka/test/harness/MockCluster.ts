/**
 * librdkafka's mock cluster as a scoped resource: mock_cluster.c is compiled with gcc against
 * librdkafka (cached by source hash), started with @effect/platform's Command, driven over stdin.
 * If gcc, librdkafka or the mock itself is missing or does not start, the layer fails loudly:
 * run `bash scripts/system-deps.sh`.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Context, Data, Effect, Layer, Queue, Stream } from "effect"

export class MockClusterError extends Data.TaggedError("MockClusterError")<{
  readonly step: string
  readonly detail: string
}> {
  override get message(): string {
    return `librdkafka mock cluster: ${this.step} failed: ${this.detail} (run \`bash scripts/system-deps.sh\`)`
  }
}

export const ApiKey = { Produce: 0, Fetch: 1, ListOffsets: 2, Metadata: 3 } as const

/** librdkafka's RD_KAFKA_RESP_ERR__TRANSPORT: the mock closes the connection instead of answering. */
export const CLOSE_CONNECTION = -195

export interface MockClusterService {
  readonly bootstrap: string
  readonly brokers: ReadonlyArray<string>
  readonly brokerCount: number
  /** Sends one command line and waits for the mock's answer. */
  readonly command: (line: string) => Effect.Effect<void, MockClusterError>
  readonly createTopic: (topic: string, partitions: number, replication?: number) => Effect.Effect<void, MockClusterError>
  /** The next requests of `apiKey` (any broker) are answered with these codes, one per request. */
  readonly pushErrors: (apiKey: number, codes: ReadonlyArray<number>) => Effect.Effect<void, MockClusterError>
  /** The same, on one broker only. */
  readonly pushBrokerErrors: (broker: number, apiKey: number, codes: ReadonlyArray<number>) => Effect.Effect<void, MockClusterError>
  /** The next `count` requests of `apiKey` on every broker are answered after `ms`. */
  readonly delay: (apiKey: number, ms: number, count: number) => Effect.Effect<void, MockClusterError>
  readonly clearErrors: (apiKey: number) => Effect.Effect<void, MockClusterError>
  readonly brokerDown: (broker: number) => Effect.Effect<void, MockClusterError>
  readonly brokerUp: (broker: number) => Effect.Effect<void, MockClusterError>
  readonly setLeader: (topic: string, partition: number, broker: number) => Effect.Effect<void, MockClusterError>
  /** Metadata answers this error code for the topic (the mock otherwise auto-creates unknown topics). */
  readonly topicError: (topic: string, code: number) => Effect.Effect<void, MockClusterError>
}

export class MockCluster extends Context.Tag("@kafka-effect/kafka/test/MockCluster")<MockCluster, MockClusterService>() {}

const source = path.join(path.dirname(fileURLToPath(import.meta.url)), "mock_cluster.c")

const run = (step: string, command: Command.Command) =>
  Effect.scoped(
    Effect.gen(function* () {
      const proc = yield* Command.start(command)
      const [stderr, exit] = yield* Effect.all(
        [proc.stderr.pipe(Stream.decodeText(), Stream.mkString), proc.exitCode],
        { concurrency: 2 },
      )
      if (exit !== 0) return yield* new MockClusterError({ step, detail: `exit ${exit}: ${stderr.trim()}` })
    }),
  ).pipe(Effect.catchTag("SystemError", "BadArgument", (e) => new MockClusterError({ step, detail: e.message })))

/** Compiles mock_cluster.c once per source version (cached in the OS temp dir). */
export const binary = Effect.gen(function* () {
  const code = yield* Effect.try({
    try: () => fs.readFileSync(source),
    catch: (e) => new MockClusterError({ step: "read mock_cluster.c", detail: String(e) }),
  })
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16)
  const dir = path.join(os.tmpdir(), "kafka-effect-mock")
  const bin = path.join(dir, `mock_cluster-${hash}`)
  if (fs.existsSync(bin)) return bin
  fs.mkdirSync(dir, { recursive: true })
  const tmp = `${bin}.${process.pid}.tmp`
  yield* run("gcc (compiling mock_cluster.c against librdkafka)", Command.make("gcc", "-O1", "-o", tmp, source, "-lrdkafka"))
  fs.renameSync(tmp, bin)
  return bin
})

export const make = (brokerCount: 1 | 3) =>
  Effect.gen(function* () {
    const bin = yield* binary
    const proc = yield* Command.start(Command.make(bin, String(brokerCount))).pipe(
      Effect.mapError((e) => new MockClusterError({ step: "start", detail: e.message })),
    )
    const lines = yield* Queue.unbounded<string>()
    const stdin = yield* Queue.unbounded<string>()
    let stderr = ""
    yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Queue.offer(lines, line)),
      Effect.ensuring(Queue.offer(lines, "eof")),
      Effect.forkScoped,
    )
    yield* proc.stderr.pipe(
      Stream.decodeText(),
      Stream.runForEach((text) => Effect.sync(() => (stderr = (stderr + text).slice(-4000)))),
      Effect.forkScoped,
    )
    yield* Stream.fromQueue(stdin).pipe(Stream.encodeText, Stream.run(proc.stdin), Effect.forkScoped)
    const first = yield* Queue.take(lines).pipe(
      Effect.timeoutFail({
        duration: "10 seconds",
        onTimeout: () => new MockClusterError({ step: "start", detail: `no bootstrap line; stderr: ${stderr}` }),
      }),
    )
    if (!first.startsWith("bootstrap ")) {
      return yield* new MockClusterError({ step: "start", detail: `unexpected first line ${JSON.stringify(first)}; stderr: ${stderr}` })
    }
    const bootstrap = first.slice("bootstrap ".length).trim()
    const lock = yield* Effect.makeSemaphore(1)
    const command = (line: string) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          yield* Queue.offer(stdin, `${line}\n`)
          const answer = yield* Queue.take(lines).pipe(
            Effect.timeoutFail({
              duration: "5 seconds",
              onTimeout: () => new MockClusterError({ step: line, detail: `no answer; stderr: ${stderr}` }),
            }),
          )
          if (answer !== "ok") return yield* new MockClusterError({ step: line, detail: answer })
        }),
      )
    yield* command("ping")
    const service: MockClusterService = {
      bootstrap,
      brokers: bootstrap.split(","),
      brokerCount,
      command,
      createTopic: (topic, partitions, replication = Math.min(brokerCount, 3)) =>
        command(`create ${topic} ${partitions} ${replication}`),
      pushErrors: (apiKey, codes) => command(`errors ${apiKey} ${codes.join(" ")}`),
      pushBrokerErrors: (broker, apiKey, codes) => command(`broker_errors ${broker} ${apiKey} ${codes.join(" ")}`),
      delay: (apiKey, ms, count) => command(`delay ${apiKey} ${ms} ${count}`),
      clearErrors: (apiKey) => command(`clear ${apiKey}`),
      brokerDown: (broker) => command(`down ${broker}`),
      brokerUp: (broker) => command(`up ${broker}`),
      setLeader: (topic, partition, broker) => command(`leader ${topic} ${partition} ${broker}`),
      topicError: (topic, code) => command(`topic_error ${topic} ${code}`),
    }
    return service
  })

/** A mock cluster with 1 or 3 brokers for the layer's lifetime. Fails (never skips) if it cannot start. */
export const layer = (brokerCount: 1 | 3): Layer.Layer<MockCluster, MockClusterError> =>
  Layer.scoped(MockCluster, make(brokerCount)).pipe(Layer.provide(NodeContext.layer))
