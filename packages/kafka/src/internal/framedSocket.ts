/**
 * The receive side of a broker connection, given to kafkajs through its `socketFactory` seam: bytes
 * are cut into whole response frames (by their 4-byte length prefix) before kafkajs sees them, one
 * frame per 'data' event, and kafkajs's connection takes each frame as it is (see
 * `K.receiveWholeFrames`) instead of joining its receive buffer with `Buffer.concat` per response.
 *
 * Over plain TCP the kernel writes a frame's bytes straight into the frame's own buffer (Node's
 * `onread` with a buffer chosen per read): once the length is known no byte is copied again; small
 * frames are views of one 64 KiB read buffer. Over TLS the decrypted chunks are copied once into the
 * frame (a frame inside one chunk is a view of it). A length that is negative, shorter than a
 * correlation id or beyond `maxFrameBytes` destroys the socket with a `FrameError`, which kafkajs
 * reports as a connection error (the request fails; nothing is allocated for the claimed length).
 * Frames above `directFrameBytes` are gathered in pieces as they arrive and joined once, so that a
 * length prefix that promises more than the broker sends costs only the bytes that came.
 */
import { EventEmitter } from "node:events"
import * as net from "node:net"
import * as tls from "node:tls"
import * as K from "./kafkajs.js"

/** A response frame that cannot be: its length is negative, too short or above the limit. */
export class FrameError extends Error {
  override readonly name = "FrameError"
  constructor(
    readonly broker: string,
    readonly length: number,
    readonly reason: string,
  ) {
    super(`response frame from ${broker} with length ${length}: ${reason}`)
  }
}

export interface FramingOptions {
  /** Frames longer than this are refused (the socket is destroyed). Default 1 GiB. */
  readonly maxFrameBytes?: number
  /** Frames up to this size get their whole buffer when their length is read. Default 64 MiB. */
  readonly directFrameBytes?: number
}

const KEEP_ALIVE_DELAY_MS = 60_000
const READ_BUFFER_BYTES = 64 * 1024
/** Below this much room left in the read buffer a new one is taken (frames already cut keep theirs). */
const MIN_READ_ROOM = 4 * 1024
/** A response carries at least its correlation id. */
const MIN_FRAME_BODY = 4

/**
 * Cuts a byte stream into frames. `push` takes chunks that it may keep views of (they are never
 * written again); `target`/`filledDirect` let the plain-TCP path read into the current frame.
 */
class Framer {
  /** Bytes of a length prefix seen so far (< 4). */
  private head: Buffer | undefined
  /** The frame being filled, when its length is known and it is not gathered in pieces. */
  private frame: Buffer | undefined
  private filled = 0
  /** A frame above `directFrameBytes`: its pieces so far and the bytes still missing. */
  private pieces: Array<Buffer> | undefined
  private missing = 0
  failed = false

  constructor(
    private readonly broker: string,
    private readonly maxFrameBytes: number,
    private readonly directFrameBytes: number,
    private readonly emit: (frame: Buffer) => void,
    private readonly fail: (error: FrameError) => void,
  ) {}

  /** Where the next read may land directly: the unfilled rest of the current frame, if any. */
  directTarget(): Buffer | undefined {
    return this.frame === undefined ? undefined : this.frame.subarray(this.filled)
  }

  /** `n` bytes were read into `directTarget()`. */
  filledDirect(n: number): void {
    const frame = this.frame!
    this.filled += n
    if (this.filled === frame.length) this.complete(frame)
  }

  push(chunk: Buffer): void {
    let pos = 0
    const n = chunk.length
    while (pos < n && !this.failed) {
      if (this.frame !== undefined) {
        const take = Math.min(this.frame.length - this.filled, n - pos)
        chunk.copy(this.frame, this.filled, pos, pos + take)
        pos += take
        this.filled += take
        if (this.filled === this.frame.length) this.complete(this.frame)
        continue
      }
      if (this.pieces !== undefined) {
        const take = Math.min(this.missing, n - pos)
        this.pieces.push(chunk.subarray(pos, pos + take))
        pos += take
        this.missing -= take
        if (this.missing === 0) {
          const whole = Buffer.concat(this.pieces)
          this.pieces = undefined
          this.complete(whole)
        }
        continue
      }
      // A length prefix, possibly split across chunks.
      let length: number
      let start: number
      if (this.head === undefined && n - pos >= 4) {
        length = chunk.readInt32BE(pos)
        start = pos
      } else {
        const have = this.head === undefined ? 0 : this.head.length
        const take = Math.min(4 - have, n - pos)
        this.head = this.head === undefined ? Buffer.from(chunk.subarray(pos, pos + take)) : Buffer.concat([this.head, chunk.subarray(pos, pos + take)])
        pos += take
        if (this.head.length < 4) return
        length = this.head.readInt32BE(0)
        start = -1
      }
      if (!this.check(length)) return
      const total = 4 + length
      if (start >= 0 && n - start >= total) {
        // The whole frame is in this chunk: a view, no copy.
        pos = start + total
        this.emit(chunk.subarray(start, pos))
        continue
      }
      const prefix = start >= 0 ? chunk.subarray(start, start + 4) : this.head!
      if (start >= 0) pos = start + 4
      this.head = undefined
      if (total <= this.directFrameBytes) {
        this.frame = Buffer.allocUnsafe(total)
        prefix.copy(this.frame, 0)
        this.filled = 4
      } else {
        this.pieces = [Buffer.from(prefix)]
        this.missing = length
      }
    }
  }

  private check(length: number): boolean {
    const reason =
      length < MIN_FRAME_BODY
        ? length < 0
          ? "negative"
          : "shorter than a correlation id"
        : length > this.maxFrameBytes
          ? `above the limit of ${this.maxFrameBytes} bytes`
          : undefined
    if (reason === undefined) return true
    this.failed = true
    this.fail(new FrameError(this.broker, length, reason))
    return false
  }

  private complete(frame: Buffer): void {
    this.frame = undefined
    this.filled = 0
    this.emit(frame)
  }
}

/**
 * The socket kafkajs's connection talks to: writes go to the real socket, 'data' carries whole
 * frames, 'end', 'error' and 'close' are the real socket's.
 */
export class FramedSocket extends EventEmitter implements K.KafkaJSSocket {
  private readonly socket: net.Socket
  private readonly framer: Framer
  private readBuffer: Buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)
  private readUsed = 0
  /** Whether the last read went into the frame itself (else into `readBuffer`). */
  private readDirect = false

  constructor(args: K.SocketFactoryArgs, options: FramingOptions) {
    super()
    const broker = `${args.host}:${args.port}`
    this.framer = new Framer(
      broker,
      options.maxFrameBytes ?? 1024 * 1024 * 1024,
      options.directFrameBytes ?? 64 * 1024 * 1024,
      (frame) => this.emit("data", frame),
      (error) => this.socket.destroy(error),
    )
    const ssl = args.ssl
    if (ssl) {
      this.socket = tls.connect(
        { host: args.host, port: args.port, ...(net.isIP(args.host) ? {} : { servername: args.host }), ...(ssl === true ? {} : ssl) },
        args.onConnect,
      )
      this.socket.on("data", (chunk: Buffer) => this.framer.push(chunk))
    } else {
      this.socket = net.connect(
        {
          host: args.host,
          port: args.port,
          onread: { buffer: () => this.nextReadTarget(), callback: (n) => this.onRead(n) },
        },
        args.onConnect,
      )
      // 'end' is only emitted by a flowing stream; with `onread` no 'data' is ever pushed.
      this.socket.resume()
    }
    this.socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS)
    this.socket.on("end", () => this.emit("end"))
    this.socket.on("error", (e) => this.emit("error", e))
    this.socket.on("timeout", () => this.emit("timeout"))
    this.socket.on("close", () => this.emit("close"))
  }

  /** The socket is gone (closed by either side, or destroyed): no answer can come any more. */
  get closed(): boolean {
    return this.socket.destroyed
  }

  private nextReadTarget(): Uint8Array {
    const direct = this.framer.directTarget()
    this.readDirect = direct !== undefined
    if (direct !== undefined) return direct
    if (this.readBuffer.length - this.readUsed < MIN_READ_ROOM) {
      this.readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)
      this.readUsed = 0
    }
    return this.readBuffer.subarray(this.readUsed)
  }

  private onRead(n: number): boolean {
    if (this.framer.failed) return false
    if (this.readDirect) {
      this.framer.filledDirect(n)
    } else {
      // Views of these bytes may be handed out: later reads only go past them.
      const chunk = this.readBuffer.subarray(this.readUsed, this.readUsed + n)
      this.readUsed += n
      this.framer.push(chunk)
    }
    return true
  }

  write(data: Buffer | string, encoding?: BufferEncoding): boolean {
    return encoding === undefined ? this.socket.write(data) : this.socket.write(data, encoding)
  }

  /** Half-closes, then lets go of the socket once the last write is out (no more answers are read). */
  end(): this {
    this.socket.end(() => this.socket.destroy())
    return this
  }

  destroy(error?: Error): this {
    this.socket.destroy(error)
    return this
  }

  unref(): this {
    this.socket.unref()
    return this
  }
}

/** A kafkajs `socketFactory` whose sockets hand kafkajs whole frames. */
export const socketFactory = (options: FramingOptions = {}): K.SocketFactory => {
  K.receiveWholeFrames((socket) => socket instanceof FramedSocket)
  K.boundDisconnect((socket) => (socket instanceof FramedSocket ? socket : undefined))
  return (args) => new FramedSocket(args, options)
}
