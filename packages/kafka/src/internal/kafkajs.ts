/**
 * The one typed boundary to kafkajs's untyped internals (`kafkajs/src/...`). kafkajs 2.2.4 is frozen,
 * so these shapes will not move. Every `as` cast in the package lives in this file.
 */
import { createRequire } from "node:module"
import type { ConnectionOptions } from "node:tls"

const require = createRequire(import.meta.url)

// ---------------------------------------------------------------------------------------------
// logging

/** One entry as kafkajs's `logCreator` receives it. */
export interface LogEntry {
  readonly namespace: string
  readonly level: number
  readonly label: string
  readonly log: { readonly message: string; readonly timestamp: string } & Record<string, unknown>
}

/** kafkajs's namespaced logger (opaque: we only create it and hand it to the cluster). */
export interface Logger {
  readonly namespace: (name: string) => Logger
}

export const LogLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const

export const createLogger: (options: {
  readonly level: number
  readonly logCreator: (level: number) => (entry: LogEntry) => void
}) => Logger = (require("kafkajs/src/loggers") as { createLogger: never }).createLogger

// ---------------------------------------------------------------------------------------------
// network

/** What kafkajs's connection hands its `socketFactory` (`ssl` as given to the cluster). */
export interface SocketFactoryArgs {
  readonly host: string
  readonly port: number
  readonly ssl: boolean | ConnectionOptions | null | undefined
  readonly onConnect: () => void
}

/** The part of a socket that kafkajs's connection uses (`network/socket.js`, `network/connection.js`). */
export interface KafkaJSSocket {
  on(event: "data", listener: (data: Buffer) => void): this
  on(event: "end" | "timeout", listener: () => void): this
  on(event: "error", listener: (error: Error) => void): this
  write(data: Buffer | string, encoding?: BufferEncoding): boolean
  end(): this
  unref(): this
}

export type SocketFactory = (args: SocketFactoryArgs) => KafkaJSSocket

/** kafkajs's own `socketFactory()` (plain `net`/`tls` sockets: its connection joins the chunks). */
export const socketFactory: () => SocketFactory = require("kafkajs/src/network/socketFactory") as never

/** The fields of kafkajs's `Connection` that its `processData` reads. */
/** A request in flight, as kafkajs's request queue holds it (`network/requestQueue/socketRequest.js`). */
interface SocketRequestInternals {
  readonly sentAt: number
  readonly requestTimeout: number
  timeoutRequest(): void
}

/** The parts of kafkajs's `network/connection.js` that the patches below use. */
interface ConnectionInternals {
  readonly socket: unknown
  readonly host: string
  readonly port: number
  readonly authHandlers: { readonly onSuccess: (data: Buffer) => void } | null
  readonly requestQueue: {
    readonly inflight: ReadonlyMap<number, SocketRequestInternals>
    fulfillRequest(response: { size: number; correlationId: number; payload: Buffer }): void
  }
  rejectRequests(error: Error): void
}

const connectionPrototype = (
  require("kafkajs/src/network/connection") as { prototype: { processData(data: Buffer): void; disconnect(): Promise<boolean> } }
).prototype
let wholeFrames: ((socket: unknown) => boolean) | undefined

/**
 * Makes kafkajs's connections whose socket passes `isFramed` take each 'data' event as one whole
 * response frame: its own `processData` keeps a list of chunks that it joins with `Buffer.concat`
 * whenever it holds more than one, which with the empty remainder it keeps after every frame is every
 * response (a full copy). Other connections (kafkajs's own sockets) keep the original. Installed once.
 */
export const receiveWholeFrames = (isFramed: (socket: unknown) => boolean): void => {
  if (wholeFrames !== undefined) return
  wholeFrames = isFramed
  const original = connectionPrototype.processData
  connectionPrototype.processData = function (this: ConnectionInternals, data: Buffer) {
    if (!isFramed(this.socket)) return original.call(this, data)
    // As kafkajs: a SASL exchange outside SaslAuthenticate takes the whole frame.
    if (this.authHandlers !== null) return this.authHandlers.onSuccess(data)
    this.requestQueue.fulfillRequest({ size: data.length - 4, correlationId: data.readInt32BE(4), payload: data.subarray(8) })
  } as (data: Buffer) => void
}

/** A socket that tells when it is gone (`FramedSocket`). */
export interface ClosingSocket {
  readonly closed: boolean
  once(event: "close", listener: () => void): unknown
}

const ConnectionClosedError = (require("kafkajs/src/errors") as {
  KafkaJSConnectionClosedError: new (message: string, details: { host: string; port: number }) => Error
}).KafkaJSConnectionClosedError
let boundDisconnects: ((socket: unknown) => ClosingSocket | undefined) | undefined

/**
 * Makes kafkajs's `disconnect` of connections whose socket `closing` returns leave no request waiting
 * for an answer that cannot come. kafkajs marks the connection `disconnecting`, waits for the requests
 * in flight, then stops its request-timeout check and ends the socket; a request sent in that window
 * (a connection that is `disconnecting` still takes requests) is left in flight with no timeout, and a
 * framed socket, once ended, reads no answer. Such a request never settles, and the next `disconnect`
 * of that connection (the client's close) waits for it forever. Here, once a `disconnect` began, the
 * requests in flight fail with a closed-connection error when the socket goes (so do the ones sent
 * meanwhile), and keep their timeouts while `disconnect` waits. Installed once.
 */
export const boundDisconnect = (closing: (socket: unknown) => ClosingSocket | undefined): void => {
  if (boundDisconnects !== undefined) return
  boundDisconnects = closing
  const original = connectionPrototype.disconnect
  connectionPrototype.disconnect = async function (this: ConnectionInternals) {
    const socket = closing(this.socket)
    if (socket === undefined) return original.call(this)
    const gone = () => {
      if (this.requestQueue.inflight.size > 0) {
        this.rejectRequests(new ConnectionClosedError("Closed connection", { host: this.host, port: this.port }))
      }
    }
    // Not removed when `disconnect` returns: the socket closes after that (the last write out).
    if (socket.closed) gone()
    else socket.once("close", gone)
    // kafkajs's own check (`requestQueue.scheduleRequestTimeoutCheck`), while it waits.
    const check = setInterval(() => {
      for (const request of [...this.requestQueue.inflight.values()]) {
        if (Date.now() - request.sentAt > request.requestTimeout) request.timeoutRequest()
      }
    }, 100)
    try {
      return await original.call(this)
    } finally {
      clearInterval(check)
    }
  } as () => Promise<boolean>
}

// ---------------------------------------------------------------------------------------------
// protocol

/** kafkajs's byte reader over a response buffer. */
export interface Decoder {
  offset: number
  readonly buffer: Buffer
  readInt8(): number
  readInt16(): number
  readInt32(): number
  readInt64(): { toString(): string }
  readString(): string | null
  readBytes(length?: number): Buffer
  readArray<A>(reader: (decoder: Decoder) => A): Array<A>
  canReadBytes(length: number): boolean
  slice(size: number): Decoder
  forward(size: number): void
}

export const Decoder: new (buffer: Buffer) => Decoder = require("kafkajs/src/protocol/decoder") as never

/** A record as kafkajs's RecordBatch decoder yields it. Int64 values are decimal strings. */
export interface DecodedRecord {
  readonly offset: string
  readonly timestamp: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Readonly<Record<string, Buffer | null | ReadonlyArray<Buffer | null>>>
}

/** A record batch (magic 2) as kafkajs decodes it, batch-level facts kept. */
export interface DecodedRecordBatch {
  readonly firstOffset: string
  readonly lastOffsetDelta: number
  readonly producerId: string
  readonly inTransaction: boolean
  readonly isControlBatch: boolean
  readonly records: ReadonlyArray<DecodedRecord>
}

/** Decodes one record batch at the decoder's position (throws KafkaJSPartialMessageError on a cut batch). */
export const decodeRecordBatch: (decoder: Decoder) => Promise<DecodedRecordBatch> = require(
  "kafkajs/src/protocol/recordBatch/v0/decoder",
) as never

const compression = require("kafkajs/src/protocol/message/compression") as {
  lookupCodecByAttributes: (attributes: number) => { decompress: (data: Buffer) => Promise<Buffer> } | null
}

/**
 * Inflates a compressed record batch body with kafkajs's codec for `codec` (1 gzip, 2 snappy, 3 lz4,
 * 4 zstd). Only gzip is built into kafkajs; the others throw KafkaJSNotImplemented unless registered
 * in kafkajs's `CompressionCodecs`.
 */
export const decompress = async (codec: number, data: Buffer): Promise<Buffer> => {
  const c = compression.lookupCodecByAttributes(codec)
  if (c === null) throw new RangeError(`unknown compression codec ${codec}`)
  return c.decompress(data)
}

/** kafkajs's RecordBatch encoder (for tests that check the decoder against kafkajs's own bytes). */
export const encodeRecordBatch: (batch: {
  readonly compression?: number
  readonly firstOffset?: unknown
  readonly firstTimestamp?: number
  readonly maxTimestamp?: number
  readonly lastOffsetDelta?: number
  readonly transactional?: boolean
  readonly producerId?: string
  readonly records: ReadonlyArray<unknown>
}) => Promise<{ readonly buffer: Buffer }> = (require("kafkajs/src/protocol/recordBatch/v0") as { RecordBatch: never }).RecordBatch

/** kafkajs's Record encoder. */
export const encodeRecord: (record: {
  readonly offsetDelta?: number
  readonly timestampDelta?: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers?: Readonly<Record<string, Buffer | ReadonlyArray<Buffer>>>
}) => unknown = require("kafkajs/src/protocol/recordBatch/record/v0") as never

export interface ProtocolResponse<A> {
  readonly decode: (payload: Buffer) => Promise<A>
  readonly parse: (decoded: A) => Promise<A>
}

export interface ProtocolRequestHeader {
  readonly apiKey: number
  readonly apiName: string
  readonly apiVersion: number
}

/** What `broker.lookupRequest(apiKey, definition)(args)` returns. */
export interface ProtocolRequest {
  readonly request: ProtocolRequestHeader
  readonly response: ProtocolResponse<unknown>
  readonly requestTimeout?: number
}

/** A request definition from `kafkajs/src/protocol/requests` (opaque). */
export interface RequestDefinition {
  readonly _RequestDefinition: unique symbol
}

export interface FetchRequestArgs {
  readonly replicaId: number
  readonly isolationLevel: number
  readonly maxWaitTime: number
  readonly minBytes: number
  readonly maxBytes: number
  readonly topics: ReadonlyArray<{
    readonly topic: string
    readonly partitions: ReadonlyArray<{ readonly partition: number; readonly fetchOffset: string; readonly maxBytes: number }>
  }>
}

export interface ListOffsetsRequestArgs {
  readonly replicaId: number
  readonly isolationLevel: number
  readonly topics: ReadonlyArray<{
    readonly topic: string
    readonly partitions: ReadonlyArray<{ readonly partition: number; readonly timestamp: number }>
  }>
}

/** The decoded ListOffsets answer (v1+: one `offset`; v0: `offsets`). */
export interface ListOffsetsResponse {
  readonly responses: ReadonlyArray<{
    readonly topic: string
    readonly partitions: ReadonlyArray<{
      readonly partition: number
      readonly errorCode: number
      readonly offset?: string
      readonly offsets?: ReadonlyArray<string>
    }>
  }>
}

const requests = (require("kafkajs/src/protocol/requests") as { requests: Record<string, RequestDefinition> })
  .requests
export const FetchDefinition: RequestDefinition = requests.Fetch!
export const ListOffsetsDefinition: RequestDefinition = requests.ListOffsets!
export const ApiKeys: { readonly Fetch: number; readonly ListOffsets: number; readonly Metadata: number } =
  require("kafkajs/src/protocol/requests/apiKeys") as never

// ---------------------------------------------------------------------------------------------
// cluster and brokers

export interface ConnectionPool {
  readonly host: string
  readonly port: number
  send(request: ProtocolRequest): Promise<unknown>
}

export interface Broker {
  readonly nodeId: number | null
  readonly connectionPool: ConnectionPool
  lookupRequest(apiKey: number, definition: RequestDefinition): (args: never) => ProtocolRequest
  isConnected(): boolean
  disconnect(): Promise<void>
}

/** Builds a Fetch request for `broker`'s negotiated version. */
export const fetchRequest = (broker: Broker, args: FetchRequestArgs): ProtocolRequest =>
  (broker.lookupRequest(ApiKeys.Fetch, FetchDefinition) as (args: FetchRequestArgs) => ProtocolRequest)(args)

/** Builds a ListOffsets request for `broker`'s negotiated version. */
export const listOffsetsRequest = (broker: Broker, args: ListOffsetsRequestArgs): ProtocolRequest =>
  (broker.lookupRequest(ApiKeys.ListOffsets, ListOffsetsDefinition) as (args: ListOffsetsRequestArgs) => ProtocolRequest)(
    args,
  )

/** Sends a request and returns what `response.decode` made of the answer. */
export const send = <A>(broker: Broker, request: ProtocolRequest, response: ProtocolResponse<A>): Promise<A> =>
  broker.connectionPool.send({ ...request, response: response as ProtocolResponse<unknown> }) as Promise<A>

/** kafkajs's own ListOffsets decode (it does not throw on partition errors; its `parse` does). */
export const decodeListOffsets = (request: ProtocolRequest, payload: Buffer): Promise<ListOffsetsResponse> =>
  request.response.decode(payload) as Promise<ListOffsetsResponse>

export interface PartitionMetadata {
  readonly partitionId: number
  readonly leader: number | null
  readonly partitionErrorCode: number
}

export interface ClusterOptions {
  readonly logger: Logger
  readonly socketFactory: SocketFactory
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl: unknown
  readonly sasl: unknown
  readonly connectionTimeout: number
  readonly authenticationTimeout: number
  readonly requestTimeout: number
  readonly enforceRequestTimeout: boolean
  readonly metadataMaxAge: number
  readonly retry: { readonly retries: number }
  readonly allowAutoTopicCreation: boolean
  readonly maxInFlightRequests: number | null
  readonly isolationLevel: number
  readonly offsets: Map<string, unknown>
}

export interface Cluster {
  connect(): Promise<void>
  disconnect(): Promise<void>
  isConnected(): boolean
  refreshMetadata(): Promise<void>
  addMultipleTargetTopics(topics: ReadonlyArray<string>): Promise<void>
  findTopicPartitionMetadata(topic: string): ReadonlyArray<PartitionMetadata>
  findLeaderForPartitions(topic: string, partitions: ReadonlyArray<number>): Record<string, Array<number>>
  findBroker(options: { readonly nodeId: number | string }): Promise<Broker>
  /** The node ids of the brokers in the loaded metadata (as strings). */
  getNodeIds(): ReadonlyArray<string>
  readonly targetTopics: Set<string>
}

export const Cluster: new (options: ClusterOptions) => Cluster = require("kafkajs/src/cluster") as never

// ---------------------------------------------------------------------------------------------
// producer (kafkajs's producer over one of our clusters)

/** A message as kafkajs's producer takes it. */
export interface ProducerMessage {
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly partition?: number
  readonly headers?: Record<string, Buffer | Array<Buffer>>
  readonly timestamp?: string
}

/** What kafkajs's partitioner sees for one message. */
export interface PartitionerArgs {
  readonly topic: string
  readonly partitionMetadata: ReadonlyArray<PartitionMetadata>
  readonly message: ProducerMessage
}

export type PartitionerFactory = () => (args: PartitionerArgs) => number

/** One partition of a Produce answer (kafkajs's responseSerializer). Int64 values are strings. */
export interface ProduceResult {
  readonly topicName: string
  readonly partition: number
  readonly errorCode: number
  readonly baseOffset?: string
  readonly logAppendTime?: string
  readonly logStartOffset?: string
}

export interface SendBatchArgs {
  readonly acks: number
  readonly timeout: number
  readonly compression: number
  readonly topicMessages: ReadonlyArray<{ readonly topic: string; readonly messages: ReadonlyArray<ProducerMessage> }>
}

export interface KafkaJSProducer {
  connect(): Promise<void>
  disconnect(): Promise<void>
  sendBatch(args: SendBatchArgs): Promise<ReadonlyArray<ProduceResult>>
}

const createProducer = require("kafkajs/src/producer") as (options: {
  readonly cluster: Cluster
  readonly logger: Logger
  readonly createPartitioner: PartitionerFactory
  readonly retry: { readonly retries: number; readonly initialRetryTime?: number; readonly maxRetryTime?: number }
  readonly idempotent: boolean
}) => KafkaJSProducer

/** kafkajs's producer over `cluster`, logging through the cluster's logger. */
export const producer = (
  cluster: Cluster,
  options: {
    readonly createPartitioner: PartitionerFactory
    readonly retry: { readonly retries: number; readonly initialRetryTime?: number; readonly maxRetryTime?: number }
    readonly idempotent: boolean
  },
): KafkaJSProducer =>
  createProducer({ cluster, logger: (cluster as unknown as { readonly rootLogger: Logger }).rootLogger, ...options })

const partitioners = require("kafkajs/src/producer/partitioners") as {
  readonly DefaultPartitioner: PartitionerFactory
  readonly LegacyPartitioner: PartitionerFactory
}
/** Java's partitioner (murmur2 of the key; round robin without a key), kafkajs's default since 2.0. */
export const DefaultPartitioner: PartitionerFactory = partitioners.DefaultPartitioner
/** kafkajs 1.x's partitioner (a different hash: keys land on other partitions than Java's). */
export const LegacyPartitioner: PartitionerFactory = partitioners.LegacyPartitioner

export const CompressionTypes = { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 } as const

const compressionCodecs = (require("kafkajs/src/protocol/message/compression") as {
  Codecs: Record<number, (() => unknown) | undefined>
}).Codecs

/** Whether kafkajs can compress with `type`: gzip is built in, the others only once registered in its `CompressionCodecs`. */
export const hasCodec = (type: number): boolean => {
  const codec = compressionCodecs[type]
  if (codec === undefined) return false
  try {
    codec()
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// consumer groups (the broker and cluster methods the group coordinator port uses)
//
// These broker methods run the response's `parse`, which throws a KafkaJSProtocolError for an error
// code (for OffsetFetch and OffsetCommit: the first partition's); `errors.classify` reads it.

export interface CoordinatorMetadata {
  readonly coordinator: { readonly nodeId: number; readonly host: string; readonly port: number }
}

export interface JoinGroupAnswer {
  readonly generationId: number
  readonly groupProtocol: string
  readonly leaderId: string
  readonly memberId: string
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly memberMetadata: Buffer }>
}

export interface OffsetFetchAnswer {
  readonly responses: ReadonlyArray<{
    readonly topic: string
    readonly partitions: ReadonlyArray<{
      readonly partition: number
      /** "-1" when the group has no committed offset. */
      readonly offset: string
      readonly metadata: string | null
      readonly errorCode: number
    }>
  }>
}

export interface GroupBroker {
  readonly nodeId: number | null
  /** FindCoordinator at this broker; its parse throws a KafkaJSProtocolError for an error code. */
  findGroupCoordinator(args: { readonly groupId: string; readonly coordinatorType: 0 }): Promise<CoordinatorMetadata>
  joinGroup(args: {
    readonly groupId: string
    readonly sessionTimeout: number
    readonly rebalanceTimeout: number
    readonly memberId: string
    readonly protocolType: string
    readonly groupProtocols: ReadonlyArray<{ readonly name: string; readonly metadata: Buffer }>
  }): Promise<JoinGroupAnswer>
  syncGroup(args: {
    readonly groupId: string
    readonly generationId: number
    readonly memberId: string
    readonly groupAssignment: ReadonlyArray<{ readonly memberId: string; readonly memberAssignment: Buffer }>
  }): Promise<{ readonly memberAssignment: Buffer }>
  heartbeat(args: { readonly groupId: string; readonly groupGenerationId: number; readonly memberId: string }): Promise<unknown>
  leaveGroup(args: { readonly groupId: string; readonly memberId: string }): Promise<unknown>
  offsetFetch(args: {
    readonly groupId: string
    readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<{ readonly partition: number }> }>
  }): Promise<OffsetFetchAnswer>
  offsetCommit(args: {
    readonly groupId: string
    readonly groupGenerationId: number
    readonly memberId: string
    readonly topics: ReadonlyArray<{
      readonly topic: string
      readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string; readonly metadata?: string | null }>
    }>
  }): Promise<unknown>
}

/** The same kafkajs objects, seen with their group methods. */
export const groupBroker = (broker: Broker): GroupBroker => broker as unknown as GroupBroker

// ---------------------------------------------------------------------------------------------
// errors (instances of kafkajs's error classes, read structurally)

export interface KafkaJSErrorLike {
  readonly name: string
  readonly message: string
  readonly retriable?: boolean
  readonly type?: string
  readonly code?: number | string
  readonly cause?: unknown
}

export const isKafkaJSError = (u: unknown): u is KafkaJSErrorLike =>
  u instanceof Error && typeof u.name === "string" && u.name.startsWith("KafkaJS")
