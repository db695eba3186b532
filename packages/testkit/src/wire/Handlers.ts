/**
 * Answers one request frame of the embedded broker from the shared model. Decoding and encoding
 * are plain functions (protocol/*); this module maps requests onto `BrokerModel` operations (so
 * the request log, latency and injected faults apply over the wire exactly as in memory) and onto
 * the group coordinator.
 */
import type { ConsumerRecord } from "@kafka-effect/core"
import { TopicPartition } from "@kafka-effect/core"
import { Effect } from "effect"
import type * as BrokerModel from "../BrokerModel.js"
import type { ProducedRecord } from "../TestBroker.js"
import type { GroupCoordinator } from "./GroupCoordinator.js"
import type { ProducerState } from "./ProducerState.js"
import { ApiKey, apiNames, ErrorCode, isSupported, supported } from "./protocol/ApiKeys.js"
import { Malformed, Reader, Truncated, Writer } from "./protocol/Codec.js"
import { UnsupportedCompression } from "./protocol/Compression.js"
import * as M from "./protocol/Messages.js"
import { crcValid, decodeRecords, encodeBatch, magicOf, splitBatches } from "./protocol/RecordBatch.js"

/** What the connection does with a request. */
export type Outcome =
  | { readonly _tag: "Reply"; readonly frame: Uint8Array }
  /** Produce with acks=0: no answer. */
  | { readonly _tag: "NoReply" }
  /** An injected Network fault, or a request that cannot be parsed: the connection closes. */
  | { readonly _tag: "Close"; readonly reason: string }
  /**
   * An injected Timeout: this request gets no answer (the client's request timeout fires); later
   * requests on the connection are answered (clients match answers by correlation id).
   */
  | { readonly _tag: "Unanswered" }

export interface Context {
  readonly model: BrokerModel.Service
  readonly coordinator: GroupCoordinator
  readonly producers: ProducerState
  readonly nodeId: number
  readonly clientHost: string
  /** Metadata creates unknown topics (auto.create.topics.enable). */
  readonly autoCreateTopics: boolean
  /** Partitions of auto-created topics and of CreateTopics with -1 (num.partitions). */
  readonly defaultPartitions: number
  /** Largest batch a Produce may carry (message.max.bytes); larger: MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number
}

const reply = (apiKey: number, version: number, correlationId: number, body: (w: Writer) => void): Outcome => {
  const w = new Writer(256)
  const sizeAt = w.reserve(4)
  M.encodeResponseHeader(w, apiKey, version, correlationId)
  body(w)
  w.setInt32At(sizeAt, w.length - 4)
  return { _tag: "Reply", frame: w.subarray() }
}

const apiVersionsList = Array.from(supported, ([apiKey, r]) => ({ apiKey, minVersion: r.min, maxVersion: r.max }))

type RequestFault = BrokerModel.RequestFault

const faultOutcome = (fault: RequestFault): Outcome =>
  fault.reason === "Network" ? { _tag: "Close", reason: `injected ${fault.api} network fault` } : { _tag: "Unanswered" }

/** Answers one request frame (without its size prefix). */
export const handle = (ctx: Context, frame: Uint8Array): Effect.Effect<Outcome> =>
  Effect.suspend(() => {
    const r = new Reader(frame)
    let header: M.RequestHeader
    try {
      header = M.decodeRequestHeader(r)
    } catch (cause) {
      return Effect.succeed<Outcome>({ _tag: "Close", reason: `unreadable request header: ${String(cause)}` })
    }
    const { apiKey, apiVersion: v, correlationId } = header
    if (!isSupported(apiKey, v)) return Effect.succeed(unsupported(header))
    let decoded: Effect.Effect<Outcome, RequestFault>
    try {
      decoded = dispatch(ctx, header, r)
    } catch (cause) {
      if (cause instanceof Truncated || cause instanceof Malformed) {
        return Effect.as(
          Effect.logWarning("Embedded broker: malformed request, closing the connection").pipe(
            Effect.annotateLogs({ apiKey, apiVersion: v, correlationId, error: cause.message }),
          ),
          { _tag: "Close", reason: cause.message } satisfies Outcome,
        )
      }
      throw cause
    }
    return Effect.catchTag(decoded, "RequestFault", (fault) => Effect.succeed(faultOutcome(fault))).pipe(
      Effect.tap(() =>
        Effect.logDebug("request").pipe(
          Effect.annotateLogs({ api: apiNames.get(apiKey) ?? String(apiKey), v, broker: ctx.nodeId, client: header.clientId }),
        ),
      ),
      Effect.withSpan("EmbeddedBroker.request", {
        attributes: { api: apiNames.get(apiKey) ?? String(apiKey), apiVersion: v, broker: ctx.nodeId },
      }),
    )
  })

/**
 * ApiVersions at a version above ours gets the v0 body with the list (clients retry with a version
 * from it); Fetch below v4 gets an empty answer in its own shape; anything else gets the
 * correlation id and UNSUPPORTED_VERSION (Kafka would close the connection).
 */
const unsupported = (h: M.RequestHeader): Outcome => {
  const code = ErrorCode.UNSUPPORTED_VERSION
  const cid = h.correlationId
  if (h.apiKey === ApiKey.ApiVersions) {
    return reply(ApiKey.ApiVersions, 0, cid, (w) =>
      M.encodeApiVersionsResponse(w, 0, { errorCode: code, apiKeys: apiVersionsList, throttleTimeMs: 0 }),
    )
  }
  const range = supported.get(h.apiKey)
  if (range !== undefined && h.apiVersion < range.min && h.apiKey === ApiKey.Fetch) {
    return reply(h.apiKey, h.apiVersion, cid, (w) =>
      M.encodeFetchResponse(w, h.apiVersion, { throttleTimeMs: 0, errorCode: code, sessionId: 0, responses: [] }),
    )
  }
  return reply(h.apiKey, 0, cid, (w) => {
    w.int16(code)
  })
}

const dispatch = (ctx: Context, h: M.RequestHeader, r: Reader): Effect.Effect<Outcome, RequestFault> => {
  const v = h.apiVersion
  const cid = h.correlationId
  const clientId = h.clientId ?? ""
  switch (h.apiKey) {
    case ApiKey.ApiVersions: {
      M.decodeApiVersionsRequest(r, v)
      return Effect.map(
        ctx.model.serve("ApiVersions", [], () => Effect.void, { brokerId: ctx.nodeId }),
        () =>
          reply(h.apiKey, v, cid, (w) =>
            M.encodeApiVersionsResponse(w, v, { errorCode: 0, apiKeys: apiVersionsList, throttleTimeMs: 0 }),
          ),
      )
    }
    case ApiKey.Metadata:
      return metadata(ctx, h, M.decodeMetadataRequest(r, v))
    case ApiKey.Produce:
      return produce(ctx, h, M.decodeProduceRequest(r, v))
    case ApiKey.Fetch:
      return fetch(ctx, h, M.decodeFetchRequest(r, v))
    case ApiKey.ListOffsets:
      return listOffsets(ctx, h, M.decodeListOffsetsRequest(r, v))
    case ApiKey.FindCoordinator: {
      const req = M.decodeFindCoordinatorRequest(r, v)
      return ctx.model.serve(
        "FindCoordinator",
        [],
        (sc) =>
          Effect.sync(() => {
            const node = ctx.model.brokers[coordinatorFor(req.key, ctx.model.brokers.length)]
            const errorCode = sc.requestCode ?? (req.keyType === 0 ? 0 : ErrorCode.COORDINATOR_NOT_AVAILABLE)
            return reply(h.apiKey, v, cid, (w) =>
              M.encodeFindCoordinatorResponse(w, v, {
                throttleTimeMs: 0,
                errorCode,
                errorMessage: null,
                nodeId: errorCode === 0 ? node.nodeId : -1,
                host: errorCode === 0 ? node.host : "",
                port: errorCode === 0 ? node.port : -1,
              }),
            )
          }),
        { brokerId: ctx.nodeId },
      )
    }
    case ApiKey.JoinGroup: {
      const req = M.decodeJoinGroupRequest(r, v)
      return groupRequest(ctx, "JoinGroup", req.groupId, (code) =>
        Effect.map(
          code !== 0
            ? Effect.succeed({ errorCode: code, generationId: -1, protocolName: "", leader: "", memberId: req.memberId, members: [] })
            : ctx.coordinator.join({ ...req, clientId, clientHost: ctx.clientHost, apiVersion: v }),
          (res) => reply(h.apiKey, v, cid, (w) => M.encodeJoinGroupResponse(w, v, { throttleTimeMs: 0, ...res })),
        ),
      )
    }
    case ApiKey.SyncGroup: {
      const req = M.decodeSyncGroupRequest(r, v)
      return groupRequest(ctx, "SyncGroup", req.groupId, (code) =>
        Effect.map(code !== 0 ? Effect.succeed({ errorCode: code, assignment: new Uint8Array(0) }) : ctx.coordinator.sync(req), (res) =>
          reply(h.apiKey, v, cid, (w) => M.encodeSyncGroupResponse(w, v, { throttleTimeMs: 0, ...res })),
        ),
      )
    }
    case ApiKey.Heartbeat: {
      const req = M.decodeHeartbeatRequest(r, v)
      return groupRequest(ctx, "Heartbeat", req.groupId, (code) =>
        Effect.map(
          code !== 0 ? Effect.succeed(code) : ctx.coordinator.heartbeat(req.groupId, req.generationId, req.memberId),
          (errorCode) => reply(h.apiKey, v, cid, (w) => M.encodeHeartbeatResponse(w, v, { throttleTimeMs: 0, errorCode })),
        ),
      )
    }
    case ApiKey.LeaveGroup: {
      const req = M.decodeLeaveGroupRequest(r, v)
      return groupRequest(ctx, "LeaveGroup", req.groupId, (code) =>
        Effect.map(
          code !== 0
            ? Effect.succeed(req.members.map(() => code))
            : ctx.coordinator.leave(
                req.groupId,
                req.members.map((m) => m.memberId),
              ),
          (codes) =>
            reply(h.apiKey, v, cid, (w) =>
              M.encodeLeaveGroupResponse(w, v, {
                throttleTimeMs: 0,
                // v0-2 answer for their one member; v3+ per member with a top-level NONE.
                errorCode: v <= 2 ? (codes[0] ?? 0) : code,
                members: req.members.map((m, i) => ({ ...m, errorCode: codes[i] })),
              }),
            ),
        ),
      )
    }
    case ApiKey.OffsetCommit:
      return offsetCommit(ctx, h, M.decodeOffsetCommitRequest(r, v))
    case ApiKey.OffsetFetch:
      return offsetFetch(ctx, h, M.decodeOffsetFetchRequest(r, v))
    case ApiKey.DescribeGroups: {
      const req = M.decodeDescribeGroupsRequest(r, v)
      return Effect.map(
        Effect.forEach(req.groups, (groupId) =>
          Effect.map(ctx.coordinator.describe(groupId), (d): M.DescribedGroup => {
            if (coordinatorFor(groupId, ctx.model.brokers.length) !== ctx.nodeId) {
              return { errorCode: ErrorCode.NOT_COORDINATOR, groupId, groupState: "", protocolType: "", protocolData: "", members: [] }
            }
            if (d === undefined) return { errorCode: 0, groupId, groupState: "Dead", protocolType: "", protocolData: "", members: [] }
            // As Kafka: the protocol and the members' metadata and assignments only while Stable.
            const stable = d.state === "Stable"
            return {
              errorCode: 0,
              groupId,
              groupState: d.state,
              protocolType: d.protocolType,
              protocolData: stable ? d.protocolName : "",
              members: d.members.map((m) => ({
                ...m,
                memberMetadata: stable ? m.metadata : new Uint8Array(0),
                memberAssignment: stable ? m.assignment : new Uint8Array(0),
              })),
            }
          }),
        ),
        (groups) => reply(h.apiKey, v, cid, (w) => M.encodeDescribeGroupsResponse(w, v, { throttleTimeMs: 0, groups })),
      )
    }
    case ApiKey.ListGroups:
      return Effect.map(ctx.coordinator.list, (all) =>
        reply(h.apiKey, v, cid, (w) =>
          M.encodeListGroupsResponse(w, v, {
            throttleTimeMs: 0,
            errorCode: 0,
            groups: all.filter((g) => coordinatorFor(g.groupId, ctx.model.brokers.length) === ctx.nodeId),
          }),
        ),
      )
    case ApiKey.CreateTopics:
      return createTopics(ctx, h, M.decodeCreateTopicsRequest(r, v))
    case ApiKey.DeleteTopics: {
      const req = M.decodeDeleteTopicsRequest(r, v)
      return ctx.model.serve(
        "DeleteTopics",
        [],
        (sc) =>
          Effect.map(
            Effect.forEach(req.topicNames, (name) =>
              sc.requestCode !== undefined
                ? Effect.succeed({ name, errorCode: sc.requestCode })
                : ctx.model.deleteTopic(name).pipe(
                    Effect.as({ name, errorCode: 0 }),
                    Effect.catchTag("BrokerModelError", (e) => Effect.succeed({ name, errorCode: e.code })),
                  ),
            ),
            (responses) => reply(h.apiKey, v, cid, (w) => M.encodeDeleteTopicsResponse(w, v, { throttleTimeMs: 0, responses })),
          ),
        { brokerId: ctx.nodeId },
      )
    }
    case ApiKey.DeleteRecords:
      return deleteRecords(ctx, h, M.decodeDeleteRecordsRequest(r, v))
    case ApiKey.InitProducerId: {
      const req = M.decodeInitProducerIdRequest(r, v)
      return ctx.model.serve(
        "InitProducerId",
        [],
        (sc) =>
          Effect.sync(() => {
            // Transactions are not served: a transactional producer gets a clear, non-retriable refusal.
            const errorCode =
              sc.requestCode ?? (req.transactionalId === null ? 0 : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            return reply(h.apiKey, v, cid, (w) =>
              M.encodeInitProducerIdResponse(w, v, {
                throttleTimeMs: 0,
                errorCode,
                producerId: errorCode === 0 ? ctx.producers.allocate() : -1n,
                producerEpoch: errorCode === 0 ? 0 : -1,
              }),
            )
          }),
        { brokerId: ctx.nodeId },
      )
    }
    default:
      return Effect.succeed(unsupported(h))
  }
}

/** The coordinator of a group: a stable hash of its id over the brokers, as Kafka's __consumer_offsets partitioning. */
export const coordinatorFor = (groupId: string, brokers: number): number => {
  let hash = 0
  for (let i = 0; i < groupId.length; i++) hash = (Math.imul(31, hash) + groupId.charCodeAt(i)) | 0
  return (hash & 0x7fffffff) % brokers
}

const groupRequest = (
  ctx: Context,
  api: "JoinGroup" | "SyncGroup" | "Heartbeat" | "LeaveGroup",
  groupId: string,
  answer: (code: number) => Effect.Effect<Outcome>,
): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    api,
    [],
    (sc) =>
      answer(
        sc.requestCode ??
          (coordinatorFor(groupId, ctx.model.brokers.length) === ctx.nodeId ? 0 : ErrorCode.NOT_COORDINATOR),
      ),
    { brokerId: ctx.nodeId },
  )

const metadata = (ctx: Context, h: M.RequestHeader, req: M.MetadataRequest): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    "Metadata",
    [],
    (sc) =>
      Effect.gen(function* () {
        if (req.topics !== null && req.allowAutoTopicCreation && ctx.autoCreateTopics) {
          const known = new Set((yield* ctx.model.metadata(req.topics)).map((t) => t.name))
          for (const name of req.topics) {
            if (!known.has(name) && validTopicName(name)) {
              yield* Effect.ignore(ctx.model.createTopic(name, ctx.defaultPartitions))
            }
          }
        }
        const found = yield* ctx.model.metadata(req.topics ?? undefined)
        const byName = new Map(found.map((t) => [t.name, t]))
        const names = req.topics ?? found.map((t) => t.name)
        const topics: Array<M.MetadataTopic> = names.map((name) => {
          const t = byName.get(name)
          if (t === undefined) {
            const errorCode = validTopicName(name) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION
            return { errorCode, name, isInternal: false, partitions: [] }
          }
          return {
            errorCode: sc.requestCode ?? 0,
            name,
            isInternal: false,
            partitions: t.partitions.map((p) => ({
              errorCode: sc.injectedCode(TopicPartition.make(name, p.partition)) ?? 0,
              partitionIndex: p.partition,
              leaderId: p.leader,
              leaderEpoch: p.leaderEpoch,
              replicaNodes: p.replicas,
              isrNodes: p.isr,
              offlineReplicas: [],
            })),
          }
        })
        return reply(h.apiKey, h.apiVersion, h.correlationId, (w) =>
          M.encodeMetadataResponse(w, h.apiVersion, {
            throttleTimeMs: 0,
            brokers: ctx.model.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
            clusterId: ctx.model.clusterId,
            controllerId: ctx.model.controllerId,
            topics,
          }),
        )
      }),
    { brokerId: ctx.nodeId },
  )

const validTopicName = (name: string): boolean => name.length > 0 && name.length <= 249 && /^[a-zA-Z0-9._-]+$/.test(name)

/** A produced batch checked and decoded, ready for the model. */
interface IncomingBatch {
  readonly raw: Uint8Array
  readonly records: Array<ProducedRecord>
  readonly attributes: number
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly baseSequence: number
}

const checkBatches = (records: Uint8Array | null, maxMessageBytes: number): Array<IncomingBatch> | number => {
  if (records === null || records.byteLength === 0) return ErrorCode.CORRUPT_MESSAGE
  const raws = splitBatches(records)
  if (raws.length === 0) return ErrorCode.CORRUPT_MESSAGE
  const out: Array<IncomingBatch> = []
  for (const raw of raws) {
    if (raw.byteLength > maxMessageBytes) return ErrorCode.MESSAGE_TOO_LARGE
    if (magicOf(raw) !== 2) return ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT
    if (!crcValid(raw)) return ErrorCode.CORRUPT_MESSAGE
    try {
      const { header, records: decoded } = decodeRecords(raw)
      out.push({
        raw: raw.slice(),
        records: decoded.map((d) => ({ key: d.key, value: d.value, headers: d.headers, timestamp: d.timestamp })),
        attributes: header.attributes,
        producerId: header.producerId,
        producerEpoch: header.producerEpoch,
        baseSequence: header.baseSequence,
      })
    } catch (cause) {
      if (cause instanceof UnsupportedCompression) return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
      return ErrorCode.CORRUPT_MESSAGE
    }
  }
  return out
}

const produce = (ctx: Context, h: M.RequestHeader, req: M.ProduceRequest): Effect.Effect<Outcome, RequestFault> => {
  const tps = req.topics.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.index)))
  return ctx.model.serve(
    "Produce",
    tps,
    (sc) =>
      Effect.gen(function* () {
        const errors: Array<BrokerModel.PartitionErrorCode> = []
        const responses: M.ProduceResponse["responses"] = yield* Effect.forEach(req.topics, (t) =>
          Effect.map(
            Effect.forEach(t.partitions, (p) =>
              Effect.gen(function* () {
                const tp = TopicPartition.make(t.name, p.index)
                const fail = (errorCode: number): M.ProducePartitionResponse => {
                  errors.push({ topic: t.name, partition: p.index, code: errorCode })
                  return { index: p.index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n }
                }
                const injected = sc.injectedCode(tp)
                if (injected !== undefined) return fail(injected)
                const state = yield* Effect.either(ctx.model.partitionOffsets(tp))
                if (state._tag === "Left") return fail(state.left.code)
                if (state.right.leader !== ctx.nodeId) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER)
                const batches = checkBatches(p.records, ctx.maxMessageBytes)
                if (typeof batches === "number") return fail(batches)
                let baseOffset = -1n
                const partitionKey = TopicPartition.key(tp)
                for (const b of batches) {
                  const idempotent = b.producerId >= 0n && b.baseSequence >= 0
                  if (idempotent) {
                    const check = ctx.producers.check(b.producerId, b.producerEpoch, partitionKey, b.baseSequence)
                    if (check._tag === "OutOfOrder") return fail(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
                    if (check._tag === "Duplicate") {
                      // A retry of a batch already in the log: its offset again, nothing appended.
                      if (baseOffset < 0n) baseOffset = check.baseOffset
                      continue
                    }
                  }
                  const base = yield* Effect.either(
                    ctx.model.produce(tp, b.records, {
                      attributes: b.attributes,
                      producerId: b.producerId,
                      producerEpoch: b.producerEpoch,
                      baseSequence: b.baseSequence,
                      raw: b.raw,
                    }),
                  )
                  if (base._tag === "Left") return fail(base.left.code)
                  if (idempotent) {
                    ctx.producers.record(b.producerId, b.producerEpoch, partitionKey, b.baseSequence, b.records.length, base.right)
                  }
                  // The stored bytes carry the offset the log gave them (the CRC does not cover it).
                  new DataView(b.raw.buffer, b.raw.byteOffset, b.raw.byteLength).setBigInt64(0, base.right)
                  if (baseOffset < 0n) baseOffset = base.right
                }
                const after = yield* Effect.either(ctx.model.partitionOffsets(tp))
                return {
                  index: p.index,
                  errorCode: 0,
                  baseOffset,
                  logAppendTimeMs: -1n,
                  logStartOffset: after._tag === "Right" ? after.right.logStartOffset : -1n,
                }
              }),
            ),
            (partitions) => ({ name: t.name, partitions }),
          ),
        )
        sc.reportErrors(errors)
        if (req.acks === 0) return { _tag: "NoReply" } satisfies Outcome
        return reply(h.apiKey, h.apiVersion, h.correlationId, (w) =>
          M.encodeProduceResponse(w, h.apiVersion, { responses, throttleTimeMs: 0 }),
        )
      }),
    { brokerId: ctx.nodeId },
  )
}

/** Encoded batches that have no bytes as produced (control-API produce, compaction, truncation). */
const encodedBatches = new WeakMap<ReadonlyArray<ConsumerRecord.ConsumerRecord>, Uint8Array>()

const batchBytes = (batch: BrokerModel.RecordBatch): Uint8Array | undefined => {
  const raw = batch.raw
  if (raw !== undefined && raw.byteLength >= 61) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    if (view.getBigInt64(0) === batch.baseOffset) return raw
    const copy = raw.slice()
    new DataView(copy.buffer).setBigInt64(0, batch.baseOffset)
    return copy
  }
  if (batch.records.length === 0) return undefined
  const cached = encodedBatches.get(batch.records)
  if (cached !== undefined) return cached
  const bytes = encodeBatch(batch.records, {
    baseOffset: batch.baseOffset,
    lastOffset: batch.lastOffset,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    logAppendTime: (batch.attributes & 0x08) !== 0,
  })
  encodedBatches.set(batch.records, bytes)
  return bytes
}

const fetch = (ctx: Context, h: M.RequestHeader, req: M.FetchRequest): Effect.Effect<Outcome, RequestFault> => {
  const partitions = req.topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.fetchOffset, maxBytes: p.partitionMaxBytes })),
  )
  return Effect.map(
    ctx.model.fetch({
      partitions,
      maxWaitMs: req.maxWaitMs,
      minBytes: req.minBytes,
      maxBytes: req.maxBytes,
      granularity: "batch",
      brokerId: ctx.nodeId,
    }),
    (results) => {
      let i = 0
      const responses = req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((): M.FetchResponsePartition => {
          const res = results[i++]
          // Kafka answers a partition error without watermarks: a client learns them with ListOffsets.
          if (res._tag === "Error") {
            return { partition: res.partition, errorCode: res.code, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: [] }
          }
          const records: Array<Uint8Array> = []
          for (const b of res.batches) {
            const bytes = batchBytes(b)
            if (bytes !== undefined) records.push(bytes)
          }
          return {
            partition: res.partition,
            errorCode: 0,
            highWatermark: res.highWatermark,
            lastStableOffset: res.lastStableOffset,
            logStartOffset: res.logStartOffset,
            records,
          }
        }),
      }))
      return reply(h.apiKey, h.apiVersion, h.correlationId, (w) =>
        M.encodeFetchResponse(w, h.apiVersion, { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses }),
      )
    },
  )
}

const specOf = (timestamp: bigint): BrokerModel.ListOffsetsSpec =>
  timestamp === -2n ? "earliest" : timestamp === -1n ? "latest" : { timestamp: Number(timestamp) }

const listOffsets = (ctx: Context, h: M.RequestHeader, req: M.ListOffsetsRequest): Effect.Effect<Outcome, RequestFault> => {
  // As Kafka: one answer per distinct partition, topics merged by name; a partition named more than
  // once in the request is answered INVALID_REQUEST (once), without looking it up.
  const topics = new Map<string, Map<number, { timestamp: bigint; duplicate: boolean }>>()
  for (const t of req.topics) {
    const partitions = topics.get(t.name) ?? new Map<number, { timestamp: bigint; duplicate: boolean }>()
    topics.set(t.name, partitions)
    for (const p of t.partitions) {
      const seen = partitions.get(p.partitionIndex)
      partitions.set(p.partitionIndex, { timestamp: p.timestamp, duplicate: seen !== undefined })
    }
  }
  // One model request per distinct timestamp (clients send one kind at a time).
  const groups = new Map<bigint, Array<TopicPartition.TopicPartition>>()
  for (const [name, partitions] of topics) {
    for (const [partition, p] of partitions) {
      if (p.duplicate) continue
      const list = groups.get(p.timestamp) ?? []
      list.push(TopicPartition.make(name, partition))
      groups.set(p.timestamp, list)
    }
  }
  return Effect.map(
    Effect.forEach(Array.from(groups), ([timestamp, tps]) =>
      Effect.map(ctx.model.listOffsets(tps, specOf(timestamp), { brokerId: ctx.nodeId }), (results) =>
        results.map((res): [string, BrokerModel.ListOffsetsPartitionResult] => [TopicPartition.key(res), res]),
      ),
    ),
    (all) => {
      const byKey = new Map(all.flat())
      const answer = Array.from(topics, ([name, partitions]) => ({
        name,
        partitions: Array.from(partitions, ([partitionIndex, p]) => {
          const res = p.duplicate ? undefined : byKey.get(TopicPartition.key(TopicPartition.make(name, partitionIndex)))
          return {
            partitionIndex,
            errorCode: p.duplicate ? ErrorCode.INVALID_REQUEST : (res?.code ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
            timestamp: BigInt(res?.timestamp ?? -1),
            offset: res?.offset ?? -1n,
            leaderEpoch: res?.leaderEpoch ?? -1,
          }
        }),
      }))
      return reply(h.apiKey, h.apiVersion, h.correlationId, (w) =>
        M.encodeListOffsetsResponse(w, h.apiVersion, { throttleTimeMs: 0, topics: answer }),
      )
    },
  )
}

/** Kafka's offset.metadata.max.bytes (default 4096, counted in characters). */
const MAX_OFFSET_METADATA = 4096

const offsetCommit = (ctx: Context, h: M.RequestHeader, req: M.OffsetCommitRequest): Effect.Effect<Outcome, RequestFault> => {
  const tps = req.topics.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.partitionIndex)))
  return ctx.model.serve(
    "OffsetCommit",
    tps,
    (sc) =>
      Effect.gen(function* () {
        const notHere =
          sc.requestCode ?? (coordinatorFor(req.groupId, ctx.model.brokers.length) !== ctx.nodeId ? ErrorCode.NOT_COORDINATOR : 0)
        const partitionCounts = new Map(
          (yield* ctx.model.metadata(req.topics.map((t) => t.name))).map((t) => [t.name, t.partitions.length]),
        )
        const exists = (topic: string, partition: number) => partition >= 0 && partition < (partitionCounts.get(topic) ?? 0)
        const toStore: Array<{ topic: string; partition: number; offset: bigint; metadata: string | null }> = []
        const codes = req.topics.map((t) =>
          t.partitions.map((p) => {
            const tp = TopicPartition.make(t.name, p.partitionIndex)
            const code =
              notHere ||
              sc.injectedCode(tp) ||
              (exists(t.name, p.partitionIndex) ? 0 : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) ||
              ((p.committedMetadata?.length ?? 0) > MAX_OFFSET_METADATA ? ErrorCode.OFFSET_METADATA_TOO_LARGE : 0)
            if (code === 0) toStore.push({ ...tp, offset: p.committedOffset, metadata: p.committedMetadata })
            return code
          }),
        )
        // The member and generation are checked (and the offsets stored) by the coordinator.
        const groupCode = notHere !== 0 ? notHere : yield* ctx.coordinator.commit(req.groupId, req.generationId, req.memberId, toStore)
        const errors: Array<BrokerModel.PartitionErrorCode> = []
        const topics = req.topics.map((t, ti) => ({
          name: t.name,
          partitions: t.partitions.map((p, pi) => {
            const errorCode = codes[ti][pi] || groupCode
            if (errorCode !== 0) errors.push({ topic: t.name, partition: p.partitionIndex, code: errorCode })
            return { partitionIndex: p.partitionIndex, errorCode }
          }),
        }))
        sc.reportErrors(errors)
        return reply(h.apiKey, h.apiVersion, h.correlationId, (w) =>
          M.encodeOffsetCommitResponse(w, h.apiVersion, { throttleTimeMs: 0, topics }),
        )
      }),
    { brokerId: ctx.nodeId },
  )
}

const offsetFetch = (ctx: Context, h: M.RequestHeader, req: M.OffsetFetchRequest): Effect.Effect<Outcome, RequestFault> => {
  const requested = req.topics?.flatMap((t) => t.partitionIndexes.map((p) => TopicPartition.make(t.name, p)))
  return ctx.model.serve(
    "OffsetFetch",
    requested ?? [],
    (sc) =>
      Effect.gen(function* () {
        const groupCode =
          sc.requestCode ?? (coordinatorFor(req.groupId, ctx.model.brokers.length) !== ctx.nodeId ? ErrorCode.NOT_COORDINATOR : 0)
        const all =
          requested ??
          (yield* ctx.model.metadata()).flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.partition)))
        const committed = groupCode === 0 ? yield* ctx.model.committedOffsets(req.groupId, all) : []
        const listed = requested === undefined ? committed.filter((c) => c.offset >= 0n) : committed
        const byTopic = new Map<string, Array<M.OffsetFetchResponse["topics"][number]["partitions"][number]>>()
        for (const c of listed) {
          const list = byTopic.get(c.topic) ?? []
          list.push({
            partitionIndex: c.partition,
            committedOffset: c.offset,
            committedLeaderEpoch: -1,
            metadata: c.metadata ?? "",
            errorCode: sc.injectedCode(c) ?? 0,
          })
          byTopic.set(c.topic, list)
        }
        // v0/v1 have no top-level error code: a group error goes into every partition.
        if (groupCode !== 0 && requested !== undefined) {
          for (const tp of requested) {
            const list = byTopic.get(tp.topic) ?? []
            list.push({ partitionIndex: tp.partition, committedOffset: -1n, committedLeaderEpoch: -1, metadata: "", errorCode: groupCode })
            byTopic.set(tp.topic, list)
          }
        }
        const topics = Array.from(byTopic, ([name, partitions]) => ({ name, partitions }))
        return reply(h.apiKey, h.apiVersion, h.correlationId, (w) =>
          M.encodeOffsetFetchResponse(w, h.apiVersion, { throttleTimeMs: 0, errorCode: groupCode, topics }),
        )
      }),
    { brokerId: ctx.nodeId },
  )
}

const createTopics = (ctx: Context, h: M.RequestHeader, req: M.CreateTopicsRequest): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    "CreateTopics",
    [],
    (sc) =>
      Effect.map(
        Effect.forEach(req.topics, (t) => {
          const result = (errorCode: number, errorMessage: string | null) => Effect.succeed({ name: t.name, errorCode, errorMessage })
          if (sc.requestCode !== undefined) return result(sc.requestCode, null)
          if (!validTopicName(t.name)) return result(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name ${t.name}`)
          if (t.replicationFactor > ctx.model.brokers.length) {
            return result(
              ErrorCode.INVALID_REPLICATION_FACTOR,
              `Replication factor: ${t.replicationFactor} larger than available brokers: ${ctx.model.brokers.length}.`,
            )
          }
          const partitions =
            t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.defaultPartitions : t.numPartitions
          const create = req.validateOnly
            ? Effect.flatMap(ctx.model.metadata([t.name]), (found) =>
                found.length > 0 ? result(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`) : result(0, null),
              )
            : ctx.model.createTopic(t.name, partitions).pipe(
                Effect.as({ name: t.name, errorCode: 0, errorMessage: null }),
                Effect.catchTag("BrokerModelError", (e) => result(e.code, e.detail)),
              )
          return create
        }),
        (topics) => reply(h.apiKey, h.apiVersion, h.correlationId, (w) => M.encodeCreateTopicsResponse(w, h.apiVersion, { throttleTimeMs: 0, topics })),
      ),
    { brokerId: ctx.nodeId },
  )

const deleteRecords = (ctx: Context, h: M.RequestHeader, req: M.DeleteRecordsRequest): Effect.Effect<Outcome, RequestFault> => {
  const tps = req.topics.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.partitionIndex)))
  return ctx.model.serve(
    "DeleteRecords",
    tps,
    (sc) =>
      Effect.gen(function* () {
        const errors: Array<BrokerModel.PartitionErrorCode> = []
        const topics = yield* Effect.forEach(req.topics, (t) =>
          Effect.map(
            Effect.forEach(t.partitions, (p) =>
              Effect.gen(function* () {
                const tp = TopicPartition.make(t.name, p.partitionIndex)
                const fail = (errorCode: number) => {
                  errors.push({ ...tp, code: errorCode })
                  return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode }
                }
                const injected = sc.injectedCode(tp)
                if (injected !== undefined) return fail(injected)
                const state = yield* Effect.either(ctx.model.partitionOffsets(tp))
                if (state._tag === "Left") return fail(state.left.code)
                if (state.right.leader !== ctx.nodeId) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER)
                const low = yield* Effect.either(ctx.model.deleteRecords(tp, p.offset))
                if (low._tag === "Left") return fail(low.left.code)
                return { partitionIndex: p.partitionIndex, lowWatermark: low.right, errorCode: 0 }
              }),
            ),
            (partitions) => ({ name: t.name, partitions }),
          ),
        )
        sc.reportErrors(errors)
        return reply(h.apiKey, h.apiVersion, h.correlationId, (w) =>
          M.encodeDeleteRecordsResponse(w, h.apiVersion, { throttleTimeMs: 0, topics }),
        )
      }),
    { brokerId: ctx.nodeId },
  )
}
