/**
 * A Kafka-frame-aware TCP proxy for putting faults in front of any broker (Apache Kafka, the
 * embedded broker, librdkafka's mock): one loopback listener per upstream broker. It splits both
 * directions into size-prefixed frames, reads each request's API key, version and correlation id,
 * and forwards it. Metadata and FindCoordinator answers are rewritten to name the proxy's listeners,
 * so a client that bootstrapped through the proxy stays behind it; a broker the proxy was not told
 * about gets a listener when an answer first names it.
 *
 * Faults are per API key (optionally per broker node id and per partition): close the connection
 * instead of forwarding the next N requests, hold their answers for a while, or answer some
 * partitions of a Fetch or ListOffsets with an error code (as the broker writes a partition error).
 * A round-trip delay can be added to every answer. Every request that passed is logged.
 *
 * Delays run on real time (the proxy sits between real sockets); log times come from the Clock.
 * Frames travel as the socket chunks they arrived in: forwarding a large Fetch answer copies nothing.
 *
 * @since 0.1.0
 */
import type { TopicPartition } from "@kafka-effect/core"
import { Context, Data, Duration, Effect, Layer, Runtime, type Scope } from "effect"
import * as Net from "node:net"
import * as Frames from "./internal/proxyFrames.js"
import { ApiKey, apiNames } from "./wire/protocol/ApiKeys.js"

/**
 * The proxy refused an option or could not listen.
 *
 * @since 0.1.0
 * @category errors
 */
export class FaultProxyError extends Data.TaggedError("FaultProxyError")<{
  readonly reason: "InvalidOption" | "Listen"
  /** The option that was refused, e.g. `upstream[1]` or `count`. */
  readonly field?: string
  readonly value?: unknown
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * An API by Kafka's name (`"ListOffsets"`) or by its key (`2`).
 *
 * @since 0.1.0
 * @category models
 */
export type Api = keyof typeof ApiKey | number

/**
 * Options of the fault proxy: the upstream brokers, the host to listen on, how many requests the log
 * keeps, and the largest frame it accepts.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** `host:port` of each upstream broker; each gets its own listener, in this order. */
  readonly upstream: ReadonlyArray<string>
  /** Interface the listeners bind to and advertise. Default 127.0.0.1. */
  readonly host?: string
  /** Requests kept in the log (oldest dropped first). Default 100 000. */
  readonly logLimit?: number
  /** Largest frame accepted in either direction; a larger one closes the connection. Default 200 MiB. */
  readonly maxFrameBytes?: number
}

/**
 * One listener of the proxy, in front of one upstream broker.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  /** The upstream broker `host:port` this listener forwards to. */
  readonly upstream: string
  readonly host: string
  readonly port: number
  /** `host:port` of the listener: what clients connect to. */
  readonly address: string
  /** The broker's node id, once a Metadata or FindCoordinator answer has named it. */
  readonly nodeId: number | undefined
}

/**
 * Which requests a fault applies to: those sent to one broker, naming some partitions, or (ListOffsets)
 * asking for one timestamp.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultFilter {
  /** Only requests sent to this broker (node id). */
  readonly broker?: number
  /** Only Fetch / ListOffsets requests that name one of these partitions. */
  readonly partitions?: ReadonlyArray<TopicPartition.TopicPartition>
  /**
   * Only ListOffsets requests asking for this timestamp (-2n earliest, -1n latest): one request of
   * a round trip that sends earliest and latest separately, as Kafka requires.
   */
  readonly timestamp?: bigint
}

/**
 * A request that went through the proxy.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoggedRequest {
  readonly apiKey: number
  /** Kafka's name of the API, or `ApiKey(n)` for one this module does not name. */
  readonly api: string
  readonly apiVersion: number
  readonly correlationId: number
  /** Node id of the broker, when known (`undefined` before any answer named the listener's broker). */
  readonly broker: number | undefined
  readonly upstream: string
  /** Which client connection it came over (numbered from 1 in accept order). */
  readonly connection: number
  /** Clock time in milliseconds when the request arrived. */
  readonly at: number
  /** Partitions named by a Fetch or ListOffsets request. */
  readonly partitions: ReadonlyArray<TopicPartition.TopicPartition>
  /** ListOffsets: the timestamp asked for each of `partitions` (-2 earliest, -1 latest). */
  readonly timestamps?: ReadonlyArray<bigint>
  /** "closed": the proxy closed the connection instead of forwarding it. */
  readonly outcome: "forwarded" | "closed"
  /** Clock time when the answer went to the client; absent while unanswered (or never, if closed). */
  readonly answeredAt?: number
  /** Added delay of the answer in milliseconds (a held answer or the round trip). */
  readonly delayedMs?: number
  /** Non-zero partition error codes in the answer (Fetch, ListOffsets), injected ones included. */
  readonly errors?: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly code: number }>
  /** The error code the proxy wrote into this answer, if it did. */
  readonly injectedCode?: number
}

/**
 * The tag of a running fault proxy: its listeners, the faults to inject and the request log.
 *
 * @since 0.1.0
 * @category services
 */
export class FaultProxy extends Context.Tag("@kafka-effect/testkit/FaultProxy")<
  FaultProxy,
  {
    /** The listeners of the upstream brokers given, in their order: what clients bootstrap with. */
    readonly brokers: ReadonlyArray<string>
    /** `brokers`, comma-joined. */
    readonly bootstrap: string
    /** Every listener, those added for brokers discovered in answers included. */
    readonly listeners: Effect.Effect<ReadonlyArray<Listener>>
    /** The next `count` requests of `api` (matching `filter`) close their connection instead of being forwarded. */
    readonly closeNext: (api: Api, count: number, filter?: FaultFilter) => Effect.Effect<void, FaultProxyError>
    /**
     * Answers of `api` are held for `duration`: the next `count` requests, or every one until
     * cleared. A duration of 0 removes the delays of `api` (of `broker`, when given).
     */
    readonly delay: (
      api: Api,
      duration: Duration.DurationInput,
      options?: FaultFilter & { readonly count?: number },
    ) => Effect.Effect<void, FaultProxyError>
    /**
     * The next `count` Fetch or ListOffsets answers carry `code` for their partitions (those in
     * `filter.partitions` only, when given), written as the broker writes a partition error.
     */
    readonly answerError: (
      api: "Fetch" | "ListOffsets",
      code: number,
      count: number,
      filter?: FaultFilter,
    ) => Effect.Effect<void, FaultProxyError>
    /** Adds `duration` to the round trip of every request (0 removes it). */
    readonly setRoundTrip: (duration: Duration.DurationInput) => Effect.Effect<void, FaultProxyError>
    /** Removes every fault, delay and the round trip; requests already held keep their release time. */
    readonly clear: Effect.Effect<void>
    /** The requests that reached the proxy, oldest first. */
    readonly requests: Effect.Effect<ReadonlyArray<LoggedRequest>>
    readonly clearRequests: Effect.Effect<void>
    /** Client connections open right now. */
    readonly connections: Effect.Effect<number>
  }
>() {}

type Service = FaultProxy["Type"]

type Action = { readonly _tag: "Close" } | { readonly _tag: "Delay"; readonly ms: number } | { readonly _tag: "ErrorCode"; readonly code: number }

interface Rule {
  readonly apiKey: number
  remaining: number
  readonly broker: number | undefined
  readonly partitions: ReadonlySet<string> | undefined
  readonly timestamp: bigint | undefined
  readonly action: Action
}

type MutableLogged = {
  -readonly [K in keyof LoggedRequest]: LoggedRequest[K]
}

interface InFlight {
  readonly entry: MutableLogged
  readonly delayMs: number
  readonly errorCode: { readonly code: number; readonly partitions: ReadonlySet<string> | undefined } | undefined
}

interface ListenerState {
  readonly upstreamHost: string
  readonly upstreamPort: number
  readonly upstream: string
  readonly host: string
  port: number
  nodeId: number | undefined
  readonly server: Net.Server
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`

const apiName = (key: number) => apiNames.get(key) ?? `ApiKey(${key})`

const parseAddress = (value: string, field: string): Effect.Effect<{ host: string; port: number }, FaultProxyError> => {
  const at = value.lastIndexOf(":")
  const host = at > 0 ? value.slice(0, at).replace(/^\[(.*)\]$/, "$1") : ""
  const port = at > 0 ? Number(value.slice(at + 1)) : Number.NaN
  return host.length > 0 && Number.isInteger(port) && port > 0 && port < 65536
    ? Effect.succeed({ host, port })
    : Effect.fail(new FaultProxyError({ reason: "InvalidOption", field, value, message: `${field} must be host:port, got ${JSON.stringify(value)}` }))
}

const resolveApi = (api: Api): Effect.Effect<number, FaultProxyError> => {
  const key = typeof api === "number" ? api : ApiKey[api]
  return typeof key === "number" && Number.isInteger(key) && key >= 0 && key < 0x8000
    ? Effect.succeed(key)
    : Effect.fail(new FaultProxyError({ reason: "InvalidOption", field: "api", value: api, message: `unknown API ${String(api)}` }))
}

const checkCount = (count: number): Effect.Effect<number, FaultProxyError> =>
  count === Number.POSITIVE_INFINITY || (Number.isInteger(count) && count > 0)
    ? Effect.succeed(count)
    : Effect.fail(
        new FaultProxyError({ reason: "InvalidOption", field: "count", value: count, message: `count must be a positive integer or Infinity, got ${count}` }),
      )

const checkDuration = (duration: Duration.DurationInput, field: string): Effect.Effect<number, FaultProxyError> => {
  const d = Duration.decodeUnknown(duration)
  // a negative number of milliseconds decodes to zero: refuse it here
  const negative = typeof duration === "number" && !(duration >= 0)
  const ms = !negative && d._tag === "Some" && Duration.isFinite(d.value) ? Duration.toMillis(d.value) : Number.NaN
  return Number.isFinite(ms) && ms >= 0
    ? Effect.succeed(ms)
    : Effect.fail(
        new FaultProxyError({ reason: "InvalidOption", field, value: duration, message: `${field} must be a finite, non-negative duration` }),
      )
}

const listen = (server: Net.Server, host: string, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e)
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      const address = server.address()
      resolve(typeof address === "object" && address !== null ? address.port : port)
    })
  })

/**
 * Binds one listener per upstream broker and proxies until the scope closes (then every socket is destroyed).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, FaultProxyError, Scope.Scope> =>
  Effect.gen(function* () {
    const host = options.host ?? "127.0.0.1"
    const logLimit = options.logLimit ?? 100_000
    const maxFrame = options.maxFrameBytes ?? 200 * 1024 * 1024
    if (options.upstream.length === 0) {
      return yield* new FaultProxyError({ reason: "InvalidOption", field: "upstream", value: options.upstream, message: "upstream must name at least one broker" })
    }
    const upstreams = yield* Effect.forEach(options.upstream, (u, i) => parseAddress(u, `upstream[${i}]`))
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const runtime = yield* Effect.runtime<never>()
    const warn = (message: string, annotations: Record<string, unknown>) =>
      Runtime.runFork(runtime)(Effect.logWarning(message).pipe(Effect.annotateLogs(annotations)))

    const rules: Array<Rule> = []
    let roundTripMs = 0
    let log: Array<MutableLogged> = []
    let connectionCount = 0
    let closing = false
    const sockets = new Set<Net.Socket>()
    const listeners: Array<ListenerState> = []
    const byUpstream = new Map<string, ListenerState | Promise<ListenerState>>()
    const openConnections = new Set<Connection>()

    const takeRule = (kind: Action["_tag"], apiKey: number, broker: number | undefined, request: Frames.RequestPartitions) => {
      const { partitions, timestamps } = request
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]
        if (rule.action._tag !== kind || rule.apiKey !== apiKey || rule.remaining <= 0) continue
        if (rule.broker !== undefined && rule.broker !== broker) continue
        if (rule.partitions !== undefined && !partitions.some((p) => rule.partitions!.has(tpKey(p.topic, p.partition)))) continue
        if (rule.timestamp !== undefined && !(timestamps ?? []).includes(rule.timestamp)) continue
        rule.remaining -= 1
        if (rule.remaining <= 0) rules.splice(i, 1)
        return rule
      }
      return undefined
    }

    const remap = (nodeId: number, advertised: Frames.Address): Frames.Address => {
      const l = byUpstream.get(`${advertised.host}:${advertised.port}`)
      if (l === undefined || l instanceof Promise) return advertised
      l.nodeId = nodeId
      return { host: l.host, port: l.port }
    }

    /** Listeners for every advertised address; new ones bound first (answers wait for them). */
    const ensureListeners = (addresses: ReadonlyArray<Frames.Address>): Promise<void> | undefined => {
      const pending: Array<Promise<ListenerState>> = []
      for (const a of addresses) {
        if (a.port < 0 || a.host.length === 0) continue
        const known = byUpstream.get(`${a.host}:${a.port}`)
        if (known === undefined) pending.push(addListener(a.host, a.port))
        else if (known instanceof Promise) pending.push(known)
      }
      return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined)
    }

    const addListener = (upstreamHost: string, upstreamPort: number): Promise<ListenerState> => {
      const upstream = `${upstreamHost}:${upstreamPort}`
      const server = Net.createServer({ noDelay: true })
      const state: ListenerState = { upstreamHost, upstreamPort, upstream, host, port: 0, nodeId: undefined, server }
      server.on("connection", (client) => {
        if (closing) {
          client.destroy()
          return
        }
        openConnections.add(new Connection(state, client, ++connectionCount))
      })
      const bound = listen(server, host, 0).then((port) => {
        state.port = port
        listeners.push(state)
        byUpstream.set(upstream, state)
        return state
      })
      byUpstream.set(upstream, bound)
      return bound
    }

    class Connection {
      private readonly upstream: Net.Socket
      private readonly requests: Frames.FrameSplitter
      private readonly answers: Frames.FrameSplitter
      private readonly inFlight = new Map<number, InFlight>()
      private readonly timers = new Set<ReturnType<typeof setTimeout>>()
      /** Answers queued behind a held one or a listener being bound; they leave in order. */
      private queued = 0
      private tail: Promise<void> = Promise.resolve()
      private lastRelease = 0
      private closed = false

      constructor(
        private readonly listener: ListenerState,
        private readonly client: Net.Socket,
        private readonly id: number,
      ) {
        this.requests = new Frames.FrameSplitter(maxFrame)
        this.answers = new Frames.FrameSplitter(maxFrame)
        this.upstream = Net.connect({ host: listener.upstreamHost, port: listener.upstreamPort, noDelay: true })
        sockets.add(client)
        sockets.add(this.upstream)
        client.setNoDelay(true)
        client.on("data", (chunk) => this.onRequestChunk(chunk))
        this.upstream.on("data", (chunk) => this.onAnswerChunk(chunk))
        for (const s of [client, this.upstream]) {
          s.on("error", () => this.close())
          s.on("close", () => this.close())
        }
        // backpressure both ways: a slow reader pauses the other side instead of growing buffers
        client.on("drain", () => this.upstream.resume())
        this.upstream.on("drain", () => client.resume())
      }

      close(): void {
        if (this.closed) return
        this.closed = true
        for (const t of this.timers) clearTimeout(t)
        this.timers.clear()
        this.client.destroy()
        this.upstream.destroy()
        sockets.delete(this.client)
        sockets.delete(this.upstream)
        openConnections.delete(this)
      }

      private onRequestChunk(chunk: Uint8Array): void {
        this.onFrames(this.requests.push(chunk), (frame) => this.onRequest(frame))
      }

      /** Handles the whole frames a chunk completed; an oversized or unreadable frame closes the connection. */
      private onFrames(frames: ReturnType<Frames.FrameSplitter["push"]>, handle: (frame: Frames.Frame) => void): void {
        if (frames === "TooLarge") {
          this.close()
          return
        }
        try {
          for (const frame of frames) {
            if (this.closed) return
            handle(frame)
          }
        } catch (e) {
          warn("FaultProxy: unreadable frame, closing the connection", { error: String(e) })
          this.close()
        }
      }

      private onRequest(frame: Frames.Frame): void {
        const header = Frames.requestHeader(frame)
        let named: Frames.RequestPartitions = { partitions: [] }
        try {
          named = Frames.requestPartitions(frame, header)
        } catch (e) {
          warn("FaultProxy: could not read a request's partitions", { api: apiName(header.apiKey), version: header.apiVersion, error: String(e) })
        }
        const broker = this.listener.nodeId
        const entry: MutableLogged = {
          apiKey: header.apiKey,
          api: apiName(header.apiKey),
          apiVersion: header.apiVersion,
          correlationId: header.correlationId,
          broker,
          upstream: this.listener.upstream,
          connection: this.id,
          at: now(),
          partitions: named.partitions,
          outcome: "forwarded",
        }
        if (named.timestamps !== undefined) entry.timestamps = named.timestamps
        log.push(entry)
        if (log.length > logLimit) log = log.slice(log.length - Math.ceil(logLimit / 2))
        if (takeRule("Close", header.apiKey, broker, named) !== undefined) {
          entry.outcome = "closed"
          this.close()
          return
        }
        const delay = takeRule("Delay", header.apiKey, broker, named)
        const error = takeRule("ErrorCode", header.apiKey, broker, named)
        this.inFlight.set(header.correlationId, {
          entry,
          delayMs: delay !== undefined && delay.action._tag === "Delay" ? delay.action.ms : 0,
          errorCode: error !== undefined && error.action._tag === "ErrorCode" ? { code: error.action.code, partitions: error.partitions } : undefined,
        })
        this.write(this.upstream, this.client, frame)
      }

      private onAnswerChunk(chunk: Uint8Array): void {
        this.onFrames(this.answers.push(chunk), (frame) => this.onAnswer(frame))
      }

      private onAnswer(frame: Frames.Frame): void {
        const request = this.inFlight.get(Frames.responseCorrelationId(frame))
        if (request === undefined) {
          this.deliver(frame, 0)
          return
        }
        this.inFlight.delete(request.entry.correlationId)
        const { apiKey, apiVersion } = request.entry
        const delayMs = request.delayMs + roundTripMs
        try {
          if (apiKey === ApiKey.Metadata || apiKey === ApiKey.FindCoordinator) {
            const addresses = apiKey === ApiKey.Metadata ? Frames.metadataBrokers(frame, apiVersion) : Frames.coordinatorAddresses(frame, apiVersion)
            const rewrite = () =>
              apiKey === ApiKey.Metadata ? Frames.rewriteMetadata(frame, apiVersion, remap) : Frames.rewriteFindCoordinator(frame, apiVersion, remap)
            const bound = ensureListeners(addresses)
            if (bound === undefined) this.deliver(rewrite(), delayMs, request.entry)
            else this.deliverLater(bound.then(rewrite), delayMs, request.entry)
            return
          }
          let out = frame
          if (request.errorCode !== undefined) {
            const { code, partitions } = request.errorCode
            out = Frames.withErrorCode(frame, apiKey, apiVersion, code, (t, p) => partitions === undefined || partitions.has(tpKey(t, p)))
            if (out !== frame) request.entry.injectedCode = code
          }
          if (apiKey === ApiKey.Fetch || apiKey === ApiKey.ListOffsets) {
            const errors = Frames.answerPartitions(out, apiKey, apiVersion).filter((p) => p.code !== 0)
            if (errors.length > 0) request.entry.errors = errors.map((e) => ({ topic: e.topic, partition: e.partition, code: e.code }))
          }
          this.deliver(out, delayMs, request.entry)
          return
        } catch (e) {
          warn("FaultProxy: could not read an answer, forwarding it as it is", { api: apiName(apiKey), version: apiVersion, error: String(e) })
          this.deliver(frame, delayMs, request.entry)
          return
        }
      }

      /** Sends an answer now, or after `delayMs`, always behind the answers before it. */
      private deliver(frame: Frames.Frame, delayMs: number, entry?: MutableLogged): void {
        if (this.queued === 0 && delayMs === 0) {
          this.send(frame, entry)
          return
        }
        this.deliverLater(Promise.resolve(frame), delayMs, entry)
      }

      private deliverLater(frame: Promise<Frames.Frame>, delayMs: number, entry?: MutableLogged): void {
        this.queued += 1
        const release = Math.max(Date.now() + delayMs, this.lastRelease)
        this.lastRelease = release
        if (entry !== undefined && delayMs > 0) entry.delayedMs = delayMs
        this.tail = this.tail
          .then(() => frame)
          .then((f) => this.sleepUntil(release).then(() => this.send(f, entry)))
          .catch((e: unknown) => {
            warn("FaultProxy: could not bind a listener for a broker an answer named; closing the connection", { error: String(e) })
            this.close()
          })
          .finally(() => {
            this.queued -= 1
          })
      }

      private sleepUntil(release: number): Promise<void> {
        const wait = release - Date.now()
        if (wait <= 0 || this.closed) return Promise.resolve()
        return new Promise((resolve) => {
          const t = setTimeout(() => {
            this.timers.delete(t)
            resolve()
          }, wait)
          this.timers.add(t)
        })
      }

      private send(frame: Frames.Frame, entry?: MutableLogged): void {
        if (this.closed) return
        if (entry !== undefined) entry.answeredAt = now()
        this.write(this.client, this.upstream, frame)
      }

      private write(to: Net.Socket, from: Net.Socket, frame: Frames.Frame): void {
        if (this.closed) return
        to.cork()
        let ok = true
        for (const part of frame) ok = to.write(part)
        to.uncork()
        if (!ok) from.pause()
      }
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closing = true
        for (const c of [...openConnections]) c.close()
        for (const s of sockets) s.destroy()
        await Promise.all(listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))))
      }),
    )

    yield* Effect.tryPromise({
      try: () => Promise.all(upstreams.map((u) => addListener(u.host, u.port))),
      catch: (cause) => new FaultProxyError({ reason: "Listen", message: `could not bind a listener on ${host}`, cause }),
    })
    const first = upstreams.map((u) => {
      const l = byUpstream.get(`${u.host}:${u.port}`)
      return l === undefined || l instanceof Promise ? "" : `${l.host}:${l.port}`
    })

    const addRule = (api: Api, count: number, action: Action, filter: FaultFilter | undefined) =>
      Effect.gen(function* () {
        const apiKey = yield* resolveApi(api)
        const remaining = yield* checkCount(count)
        if (filter?.partitions !== undefined && apiKey !== ApiKey.Fetch && apiKey !== ApiKey.ListOffsets) {
          return yield* new FaultProxyError({
            reason: "InvalidOption",
            field: "partitions",
            value: api,
            message: "a partition filter applies to Fetch and ListOffsets only",
          })
        }
        if (filter?.timestamp !== undefined && apiKey !== ApiKey.ListOffsets) {
          return yield* new FaultProxyError({
            reason: "InvalidOption",
            field: "timestamp",
            value: filter.timestamp,
            message: "a timestamp filter applies to ListOffsets only",
          })
        }
        rules.push({
          apiKey,
          remaining,
          timestamp: filter?.timestamp,
          broker: filter?.broker,
          partitions: filter?.partitions === undefined ? undefined : new Set(filter.partitions.map((p) => tpKey(p.topic, p.partition))),
          action,
        })
      })

    const service: Service = {
      brokers: first,
      bootstrap: first.join(","),
      listeners: Effect.sync(() =>
        listeners.map((l) => ({ upstream: l.upstream, host: l.host, port: l.port, address: `${l.host}:${l.port}`, nodeId: l.nodeId })),
      ),
      closeNext: (api, count, filter) => addRule(api, count, { _tag: "Close" }, filter),
      delay: (api, duration, options) =>
        Effect.flatMap(checkDuration(duration, "duration"), (ms) =>
          ms === 0
            ? Effect.map(resolveApi(api), (apiKey) => {
                for (let i = rules.length - 1; i >= 0; i--) {
                  const r = rules[i]
                  if (r.apiKey === apiKey && r.action._tag === "Delay" && (options?.broker === undefined || r.broker === options.broker)) {
                    rules.splice(i, 1)
                  }
                }
              })
            : addRule(api, options?.count ?? Number.POSITIVE_INFINITY, { _tag: "Delay", ms }, options),
        ),
      answerError: (api, code, count, filter) =>
        Number.isInteger(code) && code >= -32768 && code <= 32767 && code !== 0
          ? addRule(api, count, { _tag: "ErrorCode", code }, filter)
          : Effect.fail(new FaultProxyError({ reason: "InvalidOption", field: "code", value: code, message: `code must be a non-zero int16, got ${code}` })),
      setRoundTrip: (duration) =>
        Effect.map(checkDuration(duration, "duration"), (ms) => {
          roundTripMs = ms
        }),
      clear: Effect.sync(() => {
        rules.length = 0
        roundTripMs = 0
      }),
      requests: Effect.sync(() => log.map((e) => ({ ...e }))),
      clearRequests: Effect.sync(() => {
        log = []
      }),
      connections: Effect.sync(() => openConnections.size),
    }
    return service
  })

/**
 * A scoped layer with a fault proxy in front of the given brokers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<FaultProxy, FaultProxyError> => Layer.scoped(FaultProxy, make(options))
