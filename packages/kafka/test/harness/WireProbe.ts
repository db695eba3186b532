/**
 * A raw protocol probe for differential tests: one kafkajs `Broker` (its connection pool, its
 * ApiVersions negotiation, its request encoders and response decoders) on one broker address, whose
 * answers are returned as decoded, without kafkajs's `parse` (which throws on the first error code).
 * So a test sees every error code, offset and watermark exactly as the broker answered, at the
 * versions kafkajs 2.2.4 negotiates with it.
 *
 * This file is the tests' typed boundary to the kafkajs internals they use beyond the kafka
 * package's own (`src/internal/kafkajs.ts`): every cast of the test harness lives here.
 */
import { Effect, type Scope } from "effect"
import { createRequire } from "node:module"
import {
  createLogger,
  type FetchRequestArgs,
  type ListOffsetsRequestArgs,
  LogLevel,
  type ProtocolRequest,
  type RequestDefinition,
  socketFactory,
} from "../../src/internal/kafkajs.js"

const require = createRequire(import.meta.url)

/** An Int64 as kafkajs's decoder gives it (a Long, or already a decimal string). */
export interface Int64 {
  toString(): string
}

export interface Answers {
  readonly Metadata: {
    readonly brokers: ReadonlyArray<{ readonly nodeId: number; readonly host: string; readonly port: number }>
    readonly controllerId: number
    readonly topicMetadata: ReadonlyArray<{
      readonly topicErrorCode: number
      readonly topic: string
      readonly partitionMetadata: ReadonlyArray<{ readonly partitionErrorCode: number; readonly partitionId: number; readonly leader: number }>
    }>
  }
  readonly CreateTopics: {
    readonly topicErrors: ReadonlyArray<{ readonly topic: string; readonly errorCode: number; readonly errorMessage: string | null }>
  }
  readonly DeleteTopics: {
    readonly topicErrors: ReadonlyArray<{ readonly topic: string; readonly errorCode: number }>
  }
  readonly Produce: {
    readonly topics: ReadonlyArray<{
      readonly topicName: string
      readonly partitions: ReadonlyArray<{
        readonly partition: number
        readonly errorCode: number
        readonly baseOffset: string
        readonly logStartOffset: string
      }>
    }>
  }
  readonly Fetch: {
    readonly errorCode: number
    readonly responses: ReadonlyArray<{
      readonly topicName: string
      readonly partitions: ReadonlyArray<{
        readonly partition: number
        readonly errorCode: number
        readonly highWatermark: string
        readonly lastStableOffset: string
        /** The log start offset (kafkajs's spelling). */
        readonly lastStartOffset: string
        readonly messages: ReadonlyArray<{ readonly offset: string; readonly value: Buffer | null }>
      }>
    }>
  }
  readonly ListOffsets: {
    readonly responses: ReadonlyArray<{
      readonly topic: string
      readonly partitions: ReadonlyArray<{ readonly partition: number; readonly errorCode: number; readonly timestamp: string; readonly offset: string }>
    }>
  }
  readonly DeleteRecords: {
    readonly topics: ReadonlyArray<{
      readonly topic: string
      readonly partitions: ReadonlyArray<{ readonly partition: number; readonly lowWatermark: Int64; readonly errorCode: number }>
    }>
  }
  readonly GroupCoordinator: {
    readonly errorCode: number
    readonly coordinator: { readonly nodeId: number; readonly host: string; readonly port: number }
  }
  readonly JoinGroup: {
    readonly errorCode: number
    readonly generationId: number
    readonly groupProtocol: string
    readonly leaderId: string
    readonly memberId: string
    readonly members: ReadonlyArray<{ readonly memberId: string; readonly memberMetadata: Buffer }>
  }
  readonly SyncGroup: { readonly errorCode: number; readonly memberAssignment: Buffer }
  readonly Heartbeat: { readonly errorCode: number }
  readonly LeaveGroup: {
    readonly errorCode: number
    readonly members: ReadonlyArray<{ readonly memberId: string; readonly errorCode: number }>
  }
  readonly OffsetCommit: {
    readonly responses: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<{ readonly partition: number; readonly errorCode: number }> }>
  }
  readonly OffsetFetch: {
    readonly errorCode: number
    readonly responses: ReadonlyArray<{
      readonly topic: string
      readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string; readonly metadata: string | null; readonly errorCode: number }>
    }>
  }
  readonly ListGroups: {
    readonly errorCode: number
    readonly groups: ReadonlyArray<{ readonly groupId: string; readonly protocolType: string }>
  }
  readonly DescribeGroups: {
    readonly groups: ReadonlyArray<{
      readonly errorCode: number
      readonly groupId: string
      readonly state: string
      readonly protocolType: string
      readonly protocol: string
      readonly members: ReadonlyArray<{ readonly memberId: string; readonly memberMetadata: Buffer; readonly memberAssignment: Buffer }>
    }>
  }
}

/** The arguments of each API as kafkajs's request lookup takes them (the same for every version). */
export interface Requests {
  readonly Metadata: { readonly topics: ReadonlyArray<string>; readonly allowAutoTopicCreation: boolean }
  readonly CreateTopics: {
    readonly topics: ReadonlyArray<{ readonly topic: string; readonly numPartitions: number; readonly replicationFactor: number }>
    readonly validateOnly: boolean
    readonly timeout: number
  }
  readonly DeleteTopics: { readonly topics: ReadonlyArray<string>; readonly timeout: number }
  readonly Produce: {
    readonly acks: number
    readonly timeout: number
    readonly topicData: ReadonlyArray<{
      readonly topic: string
      readonly partitions: ReadonlyArray<{
        readonly partition: number
        readonly messages: ReadonlyArray<{ readonly key?: string | null; readonly value: string; readonly timestamp?: number }>
      }>
    }>
  }
  readonly Fetch: FetchRequestArgs
  readonly ListOffsets: ListOffsetsRequestArgs
  readonly DeleteRecords: {
    readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string }> }>
    readonly timeout: number
  }
  readonly GroupCoordinator: { readonly groupId: string; readonly coordinatorType: number }
  readonly JoinGroup: {
    readonly groupId: string
    readonly sessionTimeout: number
    readonly rebalanceTimeout: number
    readonly memberId: string
    readonly protocolType: string
    readonly groupProtocols: ReadonlyArray<{ readonly name: string; readonly metadata: Buffer }>
  }
  readonly SyncGroup: {
    readonly groupId: string
    readonly generationId: number
    readonly memberId: string
    readonly groupAssignment: ReadonlyArray<{ readonly memberId: string; readonly memberAssignment: Buffer }>
  }
  readonly Heartbeat: { readonly groupId: string; readonly groupGenerationId: number; readonly memberId: string }
  readonly LeaveGroup: { readonly groupId: string; readonly memberId: string }
  readonly OffsetCommit: {
    readonly groupId: string
    readonly groupGenerationId: number
    readonly memberId: string
    readonly retentionTime: number
    readonly topics: ReadonlyArray<{
      readonly topic: string
      readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string; readonly metadata?: string | null }>
    }>
  }
  readonly OffsetFetch: {
    readonly groupId: string
    readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<{ readonly partition: number }> }>
  }
  readonly DescribeGroups: { readonly groupIds: ReadonlyArray<string> }
  readonly ListGroups: Record<string, never>
}

export type ApiName = keyof Answers & keyof Requests

/** One decoded answer and the version it was sent at. */
export interface Answer<K extends ApiName> {
  readonly version: number
  readonly answer: Answers[K]
}

export interface Probe {
  readonly address: string
  /** Sends one request on this probe's connection and decodes the answer (no error parsing). */
  readonly send: <K extends ApiName>(api: K, args: Requests[K]) => Effect.Effect<Answer<K>>
}

interface KafkajsBroker {
  connect(): Promise<void>
  disconnect(): Promise<void>
  lookupRequest(apiKey: number, definition: RequestDefinition): (args: unknown) => ProtocolRequest
  readonly connectionPool: { send(request: ProtocolRequest): Promise<unknown> }
}

const BrokerClass = require("kafkajs/src/broker") as new (options: {
  readonly connectionPool: unknown
  readonly logger: unknown
  readonly allowAutoTopicCreation: boolean
}) => KafkajsBroker
const ConnectionPool = require("kafkajs/src/network/connectionPool") as new (options: Record<string, unknown>) => unknown
const definitions = (require("kafkajs/src/protocol/requests") as { requests: Record<ApiName, RequestDefinition> }).requests
const apiKeys = require("kafkajs/src/protocol/requests/apiKeys") as Record<ApiName, number>

const logger = createLogger({ level: LogLevel.NOTHING, logCreator: () => () => {} })

/** A probe connected to `address` (host:port), disconnected when the scope closes. */
export const connect = (address: string, clientId = "wire-probe"): Effect.Effect<Probe, never, Scope.Scope> =>
  Effect.gen(function* () {
    const colon = address.lastIndexOf(":")
    const host = address.slice(0, colon)
    const port = Number(address.slice(colon + 1))
    const broker = new BrokerClass({
      connectionPool: new ConnectionPool({
        host,
        port,
        logger,
        socketFactory: socketFactory(),
        clientId,
        connectionTimeout: 5_000,
        requestTimeout: 30_000,
        enforceRequestTimeout: true,
        maxInFlightRequests: null,
        ssl: null,
        sasl: null,
      }),
      logger,
      allowAutoTopicCreation: false,
    })
    yield* Effect.acquireRelease(
      Effect.promise(() => broker.connect()),
      () => Effect.promise(() => broker.disconnect()),
    )
    const send = <K extends ApiName>(api: K, args: Requests[K]): Effect.Effect<Answer<K>> =>
      Effect.tryPromise(async () => {
        const request = broker.lookupRequest(apiKeys[api], definitions[api])(args)
        const answer = await broker.connectionPool.send({
          ...request,
          response: { decode: request.response.decode, parse: (decoded: unknown) => Promise.resolve(decoded) },
        })
        return { version: request.request.apiVersion, answer: answer as Answers[K] }
      }).pipe(Effect.orDieWith((cause) => new Error(`${api} to ${address} failed: ${String(cause.error)}`, { cause: cause.error })))
    return { address, send }
  })
