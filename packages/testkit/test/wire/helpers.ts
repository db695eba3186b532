/** Shared helpers of the wire fidelity tests: real clients against the embedded broker. */
import { spawn } from "node:child_process"
import * as Net from "node:net"
import { Effect, type Scope } from "effect"
import { ApiKey } from "../../src/wire/protocol/ApiKeys.js"
import { Reader, Writer } from "../../src/wire/protocol/Codec.js"
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

/** A raw connection that reads size-prefixed answers in order. */
export interface RawClient {
  /** Sends a frame with its size prefix. */
  readonly send: (frame: Uint8Array) => void
  /** Writes bytes as they are (no size prefix). */
  readonly write: (bytes: Uint8Array) => void
  /** The next answer (without its size prefix); dies after 5 s without one. */
  readonly next: Effect.Effect<Reader>
  readonly closed: () => boolean
  /** Waits until the broker closes the connection; dies after 5 s. */
  readonly whenClosed: Effect.Effect<void>
}

export const rawClient = (port: number): Effect.Effect<RawClient, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{
      sock: Net.Socket
      frames: Array<Uint8Array>
      waiters: Array<(f: Uint8Array) => void>
      state: { closed: boolean }
      closeWaiters: Array<() => void>
    }>(
      (resume) => {
        const sock = Net.createConnection({ host: "127.0.0.1", port }, () => resume(Effect.succeed(conn)))
        const frames: Array<Uint8Array> = []
        const waiters: Array<(f: Uint8Array) => void> = []
        const state = { closed: false }
        const closeWaiters: Array<() => void> = []
        let buf = Buffer.alloc(0)
        sock.on("data", (d: Buffer) => {
          buf = Buffer.concat([buf, d])
          while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
            const f = new Uint8Array(buf.subarray(4, 4 + buf.readInt32BE(0)))
            buf = buf.subarray(4 + buf.readInt32BE(0))
            const w = waiters.shift()
            if (w) w(f)
            else frames.push(f)
          }
        })
        sock.on("close", () => {
          state.closed = true
          for (const w of closeWaiters.splice(0)) w()
        })
        sock.on("error", () => {})
        const conn = { sock, frames, waiters, state, closeWaiters }
      },
    ),
    (c) => Effect.sync(() => c.sock.destroy()),
  ).pipe(
    Effect.map((c) => ({
      send: (frame: Uint8Array) => {
        const size = Buffer.alloc(4)
        size.writeInt32BE(frame.length)
        c.sock.write(Buffer.concat([size, frame]))
      },
      next: Effect.async<Reader>((resume) => {
        const f = c.frames.shift()
        if (f) resume(Effect.succeed(new Reader(f)))
        else c.waiters.push((g) => resume(Effect.succeed(new Reader(g))))
      }).pipe(Effect.timeout("5 seconds"), Effect.orDie),
      write: (bytes: Uint8Array) => {
        c.sock.write(bytes)
      },
      closed: () => c.state.closed,
      whenClosed: Effect.async<void>((resume) => {
        if (c.state.closed) resume(Effect.void)
        else c.closeWaiters.push(() => resume(Effect.void))
      }).pipe(Effect.timeout("5 seconds"), Effect.orDie),
    })),
  )

/** A request frame (without its size prefix): header v1 (v2 for ApiVersions v3+), then `body`. */
export const request = (apiKey: number, version: number, correlationId: number, body: (w: Writer) => void = () => {}): Uint8Array => {
  const w = new Writer()
  w.int16(apiKey).int16(version).int32(correlationId).nullableString("raw-test")
  if (apiKey === ApiKey.ApiVersions && version >= 3) w.emptyTags()
  body(w)
  return w.toBytes()
}

