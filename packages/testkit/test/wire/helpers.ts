/** Shared helpers of the wire fidelity tests: real clients against the embedded broker. */
import { spawn } from "node:child_process"
import { Effect, type Scope } from "effect"
import { type Admin, type Consumer, Kafka, type KafkaConfig, logLevel, type Producer } from "kafkajs"

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1"

export const kafka = (brokers: ReadonlyArray<string>, config: Partial<KafkaConfig> = {}): Kafka =>
  new Kafka({
    clientId: "wire-test",
    brokers: brokers.slice(),
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 },
    ...config,
  })

interface Connectable {
  connect(): Promise<void>
  disconnect(): Promise<void>
}

/** A kafkajs client connected for the scope. */
export const connected = <C extends Connectable>(make: () => C): Effect.Effect<C, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const c = make()
      await c.connect()
      return c
    }),
    (c) => Effect.ignore(Effect.tryPromise(() => c.disconnect())),
  )

export const admin = (k: Kafka): Effect.Effect<Admin, never, Scope.Scope> => connected(() => k.admin())
export const producer = (k: Kafka, config: Parameters<Kafka["producer"]>[0] = {}): Effect.Effect<Producer, never, Scope.Scope> =>
  connected(() => k.producer(config))
export const consumer = (k: Kafka, config: Parameters<Kafka["consumer"]>[0]): Effect.Effect<Consumer, never, Scope.Scope> =>
  connected(() => k.consumer(config))

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a client program to completion. A program that cannot be started (not installed) is a
 * defect: the test fails, it is never skipped.
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string; readonly timeoutMs?: number } = {},
): Effect.Effect<RunResult> =>
  Effect.async<RunResult>((resume) => {
    const child = spawn(command, args.slice(), { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
    child.on("error", (error) => {
      clearTimeout(timer)
      resume(Effect.die(new Error(`cannot run ${command}: ${error.message}`)))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

/** Debian's python, where python3-kafka and python3-confluent-kafka are installed. */
export const python = "/usr/bin/python3"

export const text = (b: Buffer | Uint8Array | null | undefined): string | null =>
  b === null || b === undefined ? null : Buffer.from(b).toString("utf8")
