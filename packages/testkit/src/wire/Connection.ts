/**
 * One client connection of the embedded broker: the byte stream split into frames, each answered in
 * turn (as Kafka does: one request at a time per connection), answers written in order.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import { Effect, Queue, Ref } from "effect"
import * as Dispatch from "./Dispatch.js"
import type * as Sasl from "./Sasl.js"

/** Splits a byte stream into size-prefixed frames. */
export class FrameDecoder {
  private buf = new Uint8Array(64 * 1024)
  private start = 0
  private end = 0

  constructor(private readonly maxFrame: number) {}

  /** The complete frames (without size prefix) this chunk finishes; "TooLarge" for an oversized frame. */
  push(chunk: Uint8Array): Array<Uint8Array> | "TooLarge" {
    if (this.end + chunk.byteLength > this.buf.byteLength) {
      const live = this.end - this.start
      const size = Math.max(this.buf.byteLength, (live + chunk.byteLength) * 2)
      const next = size === this.buf.byteLength ? this.buf : new Uint8Array(size)
      next.set(this.buf.subarray(this.start, this.end), 0)
      this.buf = next
      this.start = 0
      this.end = live
    }
    this.buf.set(chunk, this.end)
    this.end += chunk.byteLength
    const frames: Array<Uint8Array> = []
    for (;;) {
      const available = this.end - this.start
      if (available < 4) break
      const b = this.buf
      const s = this.start
      const size = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0
      if (size > this.maxFrame) return "TooLarge"
      if (available < 4 + size) break
      frames.push(this.buf.slice(s + 4, s + 4 + size))
      this.start = s + 4 + size
    }
    if (this.start === this.end) {
      this.start = 0
      this.end = 0
    }
    return frames
  }
}

/** Serves one client connection: frames in, one request at a time, answers out in order. */
export const serve =
  (listener: Dispatch.ListenerContext, maxFrame: number, open: { count: number }) =>
  (socket: Socket.Socket): Effect.Effect<void> =>
    Effect.scoped(
      Effect.gen(function* () {
        // The server provides the Node socket to each connection: the client's address for DescribeGroups.
        const net = yield* Effect.serviceOption(NodeSocket.NetSocket)
        const remote = net._tag === "Some" ? net.value.remoteAddress : undefined
        // As Kafka's acceptor: no Nagle delay, so answers to pipelined requests are not held back.
        if (net._tag === "Some") net.value.setNoDelay(true)
        const session = yield* Ref.make<Sasl.State>(
          listener.sasl === undefined ? { _tag: "Authenticated", principal: "ANONYMOUS" } : { _tag: "Unauthenticated", versionsAnswered: false },
        )
        const ctx: Dispatch.Context = { ...listener, session, ...(remote === undefined ? {} : { clientHost: `/${remote}` }) }
        open.count += 1
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            open.count -= 1
          }),
        )
        const write = yield* socket.writer
        // A reply's pieces (a Fetch answer: headers around the stored batches) go to Node's socket in
        // one corked write (one writev), without waiting for each write's callback: the connection
        // waits only when the socket's buffer is full (backpressure from a client that reads slowly).
        const writeReply = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, Socket.SocketError> => {
          if (net._tag === "None") return Effect.forEach(chunks, write, { discard: true })
          const conn = net.value
          return Effect.suspend(() => {
            if (!conn.writable) return Effect.fail(new Socket.SocketGenericError({ reason: "Write", cause: new Error("socket closed") }))
            conn.cork()
            for (const chunk of chunks) conn.write(chunk)
            conn.uncork()
            if (!conn.writableNeedDrain) return Effect.void
            return Effect.async<void, Socket.SocketError>((resume) => {
              const done = (cause?: Error) => {
                conn.off("drain", drained)
                conn.off("close", closed)
                resume(cause ? Effect.fail(new Socket.SocketGenericError({ reason: "Write", cause })) : Effect.void)
              }
              const drained = () => done()
              const closed = () => done(new Error("socket closed"))
              conn.on("drain", drained)
              conn.on("close", closed)
              return Effect.sync(() => {
                conn.off("drain", drained)
                conn.off("close", closed)
              })
            })
          })
        }
        // Before closing: what was written reaches the kernel first (destroying a socket drops its buffer).
        const flushed: Effect.Effect<void> =
          net._tag === "None"
            ? Effect.void
            : Effect.async<void>((resume) => {
                const conn = net.value
                if (!conn.writable || conn.writableLength === 0) return resume(Effect.void)
                conn.write(new Uint8Array(0), () => resume(Effect.void))
              })
        const frames = yield* Queue.unbounded<Uint8Array>()
        const decoder = new FrameDecoder(maxFrame)
        const worker = Effect.gen(function* () {
          for (;;) {
            const frame = yield* Queue.take(frames)
            const outcome = yield* Dispatch.handle(ctx, frame).pipe(
              // A bug answering one request must not leave the client waiting on a silent socket.
              Effect.catchAllDefect((defect) =>
                Effect.as(
                  Effect.logError("Embedded broker: request handler failed, closing the connection").pipe(
                    Effect.annotateLogs({ defect: String(defect) }),
                  ),
                  { _tag: "Close", reason: "handler defect" } satisfies Dispatch.Outcome,
                ),
              ),
            )
            switch (outcome._tag) {
              case "Reply":
                yield* writeReply(outcome.frame)
                break
              case "NoReply":
              case "Unanswered":
                break
              case "ReplyAndClose":
                yield* writeReply(outcome.frame)
                yield* flushed
                yield* Effect.logDebug("Embedded broker: closing a connection").pipe(Effect.annotateLogs({ reason: outcome.reason }))
                yield* write(new Socket.CloseEvent())
                return yield* Effect.never
              case "Close":
                yield* flushed
                yield* Effect.logDebug("Embedded broker: closing a connection").pipe(Effect.annotateLogs({ reason: outcome.reason }))
                yield* write(new Socket.CloseEvent())
                return yield* Effect.never
            }
          }
        })
        yield* Effect.forkScoped(Effect.ignore(worker))
        yield* socket
          .run((chunk) => {
            const complete = decoder.push(chunk)
            if (complete === "TooLarge") return Effect.ignore(write(new Socket.CloseEvent()))
            for (const f of complete) Queue.unsafeOffer(frames, f)
          })
          .pipe(Effect.ignore)
      }),
    )

