/**
 * Request decoders and response encoders, one pair per API, written against Kafka's message
 * definitions (clients/src/main/resources/common/message/*.json). Each takes the version and reads
 * or writes exactly the fields that version has; `f` is "this version is flexible" (compact strings
 * and arrays, tagged-field sections).
 */
import { isFlexible } from "./ApiKeys.js"
import type { Reader, Writer } from "./Codec.js"
import { ApiKey } from "./ApiKeys.js"

const endStruct = (r: Reader, f: boolean): void => {
  if (f) r.taggedFields()
}

// ---------------------------------------------------------------------------------------------
// Request and response headers

export interface RequestHeader {
  readonly apiKey: number
  readonly apiVersion: number
  readonly correlationId: number
  readonly clientId: string | null
}

/**
 * Header v1 (v2 for flexible versions: plus a tagged-field section). The client id stays a classic
 * nullable string in v2.
 */
export const decodeRequestHeader = (r: Reader): RequestHeader => {
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  const clientId = r.nullableString()
  if (isFlexible(apiKey, apiVersion)) r.taggedFields()
  return { apiKey, apiVersion, correlationId, clientId }
}

/** Response header v0, or v1 (tagged fields) for flexible versions; ApiVersions always uses v0. */
export const encodeResponseHeader = (w: Writer, apiKey: number, apiVersion: number, correlationId: number): void => {
  w.int32(correlationId)
  if (apiKey !== ApiKey.ApiVersions && isFlexible(apiKey, apiVersion)) w.emptyTags()
}

// ---------------------------------------------------------------------------------------------
// ApiVersions (18)

export interface ApiVersionsRequest {
  readonly clientSoftwareName: string | null
  readonly clientSoftwareVersion: string | null
}

export const decodeApiVersionsRequest = (r: Reader, v: number): ApiVersionsRequest => {
  if (v < 3) return { clientSoftwareName: null, clientSoftwareVersion: null }
  const clientSoftwareName = r.compactString()
  const clientSoftwareVersion = r.compactString()
  r.taggedFields()
  return { clientSoftwareName, clientSoftwareVersion }
}

export interface ApiVersionsResponse {
  readonly errorCode: number
  readonly apiKeys: ReadonlyArray<{ readonly apiKey: number; readonly minVersion: number; readonly maxVersion: number }>
  readonly throttleTimeMs: number
}

export const encodeApiVersionsResponse = (w: Writer, v: number, resp: ApiVersionsResponse): void => {
  const f = isFlexible(ApiKey.ApiVersions, v)
  w.int16(resp.errorCode)
  w.array(f, resp.apiKeys, (w, k) => {
    w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion).tags(f)
  })
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// Metadata (3)

export interface MetadataRequest {
  /** null: every topic. */
  readonly topics: ReadonlyArray<string> | null
  readonly allowAutoTopicCreation: boolean
}

export const decodeMetadataRequest = (r: Reader, v: number): MetadataRequest => {
  const f = isFlexible(ApiKey.Metadata, v)
  let topics = r.nullableArray(f, (r) => {
    if (v >= 10) r.raw(16) // topic id
    const name = v >= 10 ? r.nullableStr(f) : r.str(f)
    endStruct(r, f)
    return name ?? ""
  })
  // v0 has no null: an empty list means every topic.
  if (v === 0 && topics !== null && topics.length === 0) topics = null
  const allowAutoTopicCreation = v >= 4 ? r.bool() : true
  if (v >= 8 && v <= 10) r.bool() // include cluster authorized operations
  if (v >= 8) r.bool() // include topic authorized operations
  endStruct(r, f)
  return { topics, allowAutoTopicCreation }
}

export interface MetadataBroker {
  readonly nodeId: number
  readonly host: string
  readonly port: number
  readonly rack: string | null
}

export interface MetadataPartition {
  readonly errorCode: number
  readonly partitionIndex: number
  readonly leaderId: number
  readonly leaderEpoch: number
  readonly replicaNodes: ReadonlyArray<number>
  readonly isrNodes: ReadonlyArray<number>
  readonly offlineReplicas: ReadonlyArray<number>
}

export interface MetadataTopic {
  readonly errorCode: number
  readonly name: string
  readonly isInternal: boolean
  readonly partitions: ReadonlyArray<MetadataPartition>
}

export interface MetadataResponse {
  readonly throttleTimeMs: number
  readonly brokers: ReadonlyArray<MetadataBroker>
  readonly clusterId: string | null
  readonly controllerId: number
  readonly topics: ReadonlyArray<MetadataTopic>
}

const int32Item = (w: Writer, n: number): void => {
  w.int32(n)
}

export const encodeMetadataResponse = (w: Writer, v: number, resp: MetadataResponse): void => {
  const f = isFlexible(ApiKey.Metadata, v)
  if (v >= 3) w.int32(resp.throttleTimeMs)
  w.array(f, resp.brokers, (w, b) => {
    w.int32(b.nodeId).str(f, b.host).int32(b.port)
    if (v >= 1) w.nullableStr(f, b.rack)
    w.tags(f)
  })
  if (v >= 2) w.nullableStr(f, resp.clusterId)
  if (v >= 1) w.int32(resp.controllerId)
  w.array(f, resp.topics, (w, t) => {
    w.int16(t.errorCode).str(f, t.name)
    if (v >= 10) w.raw(new Uint8Array(16))
    if (v >= 1) w.bool(t.isInternal)
    w.array(f, t.partitions, (w, p) => {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId)
      if (v >= 7) w.int32(p.leaderEpoch)
      w.array(f, p.replicaNodes, int32Item)
      w.array(f, p.isrNodes, int32Item)
      if (v >= 5) w.array(f, p.offlineReplicas, int32Item)
      w.tags(f)
    })
    if (v >= 8) w.int32(-2147483648)
    w.tags(f)
  })
  if (v >= 8 && v <= 10) w.int32(-2147483648)
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// Produce (0)

export interface ProducePartitionData {
  readonly index: number
  readonly records: Uint8Array | null
}

export interface ProduceRequest {
  readonly transactionalId: string | null
  readonly acks: number
  readonly timeoutMs: number
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<ProducePartitionData> }>
}

export const decodeProduceRequest = (r: Reader, v: number): ProduceRequest => {
  const f = isFlexible(ApiKey.Produce, v)
  const transactionalId = v >= 3 ? r.nullableStr(f) : null
  const acks = r.int16()
  const timeoutMs = r.int32()
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => {
      const index = r.int32()
      const records = r.nullableByteArray(f)
      endStruct(r, f)
      return { index, records }
    })
    endStruct(r, f)
    return { name, partitions }
  })
  endStruct(r, f)
  return { transactionalId, acks, timeoutMs, topics }
}

export interface ProducePartitionResponse {
  readonly index: number
  readonly errorCode: number
  readonly baseOffset: bigint
  readonly logAppendTimeMs: bigint
  readonly logStartOffset: bigint
}

export interface ProduceResponse {
  readonly responses: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<ProducePartitionResponse> }>
  readonly throttleTimeMs: number
}

export const encodeProduceResponse = (w: Writer, v: number, resp: ProduceResponse): void => {
  const f = isFlexible(ApiKey.Produce, v)
  w.array(f, resp.responses, (w, t) => {
    w.str(f, t.name)
    w.array(f, t.partitions, (w, p) => {
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset)
      if (v >= 2) w.int64(p.logAppendTimeMs)
      if (v >= 5) w.int64(p.logStartOffset)
      if (v >= 8) {
        w.array(f, [], () => {}) // record errors
        w.nullableStr(f, null) // error message
      }
      w.tags(f)
    })
    w.tags(f)
  })
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// Fetch (1)

export interface FetchRequestPartition {
  readonly partition: number
  readonly currentLeaderEpoch: number
  readonly fetchOffset: bigint
  readonly logStartOffset: bigint
  readonly partitionMaxBytes: number
}

export interface FetchRequestTopic {
  readonly topic: string
  readonly partitions: ReadonlyArray<FetchRequestPartition>
}

export interface FetchRequest {
  readonly replicaId: number
  readonly maxWaitMs: number
  readonly minBytes: number
  readonly maxBytes: number
  readonly isolationLevel: number
  readonly sessionId: number
  readonly sessionEpoch: number
  readonly topics: ReadonlyArray<FetchRequestTopic>
  readonly forgotten: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<number> }>
  readonly rackId: string
}

export const decodeFetchRequest = (r: Reader, v: number): FetchRequest => {
  const f = isFlexible(ApiKey.Fetch, v)
  const replicaId = r.int32()
  const maxWaitMs = r.int32()
  const minBytes = r.int32()
  const maxBytes = v >= 3 ? r.int32() : 0x7fffffff
  const isolationLevel = v >= 4 ? r.int8() : 0
  const sessionId = v >= 7 ? r.int32() : 0
  const sessionEpoch = v >= 7 ? r.int32() : -1
  const topics = r.array(f, (r) => {
    const topic = r.str(f)
    const partitions = r.array(f, (r) => {
      const partition = r.int32()
      const currentLeaderEpoch = v >= 9 ? r.int32() : -1
      const fetchOffset = r.int64()
      if (v >= 12) r.int32() // last fetched epoch
      const logStartOffset = v >= 5 ? r.int64() : -1n
      const partitionMaxBytes = r.int32()
      endStruct(r, f)
      return { partition, currentLeaderEpoch, fetchOffset, logStartOffset, partitionMaxBytes }
    })
    endStruct(r, f)
    return { topic, partitions }
  })
  const forgotten =
    v >= 7
      ? r.array(f, (r) => {
          const topic = r.str(f)
          const partitions = r.array(f, (r) => r.int32())
          endStruct(r, f)
          return { topic, partitions }
        })
      : []
  const rackId = v >= 11 ? r.str(f) : ""
  endStruct(r, f)
  return { replicaId, maxWaitMs, minBytes, maxBytes, isolationLevel, sessionId, sessionEpoch, topics, forgotten, rackId }
}

export interface FetchResponsePartition {
  readonly partition: number
  readonly errorCode: number
  readonly highWatermark: bigint
  readonly lastStableOffset: bigint
  readonly logStartOffset: bigint
  /** Whole batches, written back to back (never copied into one buffer first). */
  readonly records: ReadonlyArray<Uint8Array>
}

export interface FetchResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly sessionId: number
  readonly responses: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<FetchResponsePartition> }>
}

export const encodeFetchResponse = (w: Writer, v: number, resp: FetchResponse): void => {
  const f = isFlexible(ApiKey.Fetch, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  if (v >= 7) w.int16(resp.errorCode).int32(resp.sessionId)
  w.array(f, resp.responses, (w, t) => {
    w.str(f, t.topic)
    w.array(f, t.partitions, (w, p) => {
      w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark)
      if (v >= 4) w.int64(p.lastStableOffset)
      if (v >= 5) w.int64(p.logStartOffset)
      if (v >= 4) w.array(f, [], () => {}) // aborted transactions: none
      if (v >= 11) w.int32(-1) // preferred read replica
      const size = p.records.reduce((s, b) => s + b.byteLength, 0)
      if (f) w.uvarint(size + 1)
      else w.int32(size)
      for (const b of p.records) w.splice(b)
      w.tags(f)
    })
    w.tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// ListOffsets (2)

export interface ListOffsetsRequest {
  readonly replicaId: number
  readonly isolationLevel: number
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly timestamp: bigint }>
  }>
}

export const decodeListOffsetsRequest = (r: Reader, v: number): ListOffsetsRequest => {
  const f = isFlexible(ApiKey.ListOffsets, v)
  const replicaId = r.int32()
  const isolationLevel = v >= 2 ? r.int8() : 0
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => {
      const partitionIndex = r.int32()
      if (v >= 4) r.int32() // current leader epoch
      const timestamp = r.int64()
      if (v === 0) r.int32() // max num offsets
      endStruct(r, f)
      return { partitionIndex, timestamp }
    })
    endStruct(r, f)
    return { name, partitions }
  })
  endStruct(r, f)
  return { replicaId, isolationLevel, topics }
}

export interface ListOffsetsResponse {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{
      readonly partitionIndex: number
      readonly errorCode: number
      readonly timestamp: bigint
      readonly offset: bigint
      readonly leaderEpoch: number
    }>
  }>
}

export const encodeListOffsetsResponse = (w: Writer, v: number, resp: ListOffsetsResponse): void => {
  const f = isFlexible(ApiKey.ListOffsets, v)
  if (v >= 2) w.int32(resp.throttleTimeMs)
  w.array(f, resp.topics, (w, t) => {
    w.str(f, t.name)
    w.array(f, t.partitions, (w, p) => {
      w.int32(p.partitionIndex).int16(p.errorCode)
      if (v === 0) w.array(f, p.errorCode === 0 ? [p.offset] : [], (w, o) => w.int64(o))
      else w.int64(p.timestamp).int64(p.offset)
      if (v >= 4) w.int32(p.leaderEpoch)
      w.tags(f)
    })
    w.tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// FindCoordinator (10)

export interface FindCoordinatorRequest {
  readonly key: string
  /** 0 group, 1 transaction. */
  readonly keyType: number
}

export const decodeFindCoordinatorRequest = (r: Reader, v: number): FindCoordinatorRequest => {
  const f = isFlexible(ApiKey.FindCoordinator, v)
  const key = r.str(f)
  const keyType = v >= 1 ? r.int8() : 0
  endStruct(r, f)
  return { key, keyType }
}

export interface FindCoordinatorResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly nodeId: number
  readonly host: string
  readonly port: number
}

export const encodeFindCoordinatorResponse = (w: Writer, v: number, resp: FindCoordinatorResponse): void => {
  const f = isFlexible(ApiKey.FindCoordinator, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.int16(resp.errorCode)
  if (v >= 1) w.nullableStr(f, resp.errorMessage)
  w.int32(resp.nodeId).str(f, resp.host).int32(resp.port)
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// JoinGroup (11)

export interface JoinGroupRequest {
  readonly groupId: string
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly protocolType: string
  readonly protocols: ReadonlyArray<{ readonly name: string; readonly metadata: Uint8Array }>
}

export const decodeJoinGroupRequest = (r: Reader, v: number): JoinGroupRequest => {
  const f = isFlexible(ApiKey.JoinGroup, v)
  const groupId = r.str(f)
  const sessionTimeoutMs = r.int32()
  const rebalanceTimeoutMs = v >= 1 ? r.int32() : sessionTimeoutMs
  const memberId = r.str(f)
  const groupInstanceId = v >= 5 ? r.nullableStr(f) : null
  const protocolType = r.str(f)
  const protocols = r.array(f, (r) => {
    const name = r.str(f)
    const metadata = r.byteArray(f).slice()
    endStruct(r, f)
    return { name, metadata }
  })
  endStruct(r, f)
  return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, groupInstanceId, protocolType, protocols }
}

export interface JoinGroupResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly generationId: number
  readonly protocolName: string
  readonly leader: string
  readonly memberId: string
  readonly members: ReadonlyArray<{
    readonly memberId: string
    readonly groupInstanceId: string | null
    readonly metadata: Uint8Array
  }>
}

export const encodeJoinGroupResponse = (w: Writer, v: number, resp: JoinGroupResponse): void => {
  const f = isFlexible(ApiKey.JoinGroup, v)
  if (v >= 2) w.int32(resp.throttleTimeMs)
  w.int16(resp.errorCode).int32(resp.generationId)
  w.str(f, resp.protocolName).str(f, resp.leader).str(f, resp.memberId)
  w.array(f, resp.members, (w, m) => {
    w.str(f, m.memberId)
    if (v >= 5) w.nullableStr(f, m.groupInstanceId)
    w.byteArray(f, m.metadata)
    w.tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// SyncGroup (14)

export interface SyncGroupRequest {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: Uint8Array }>
}

export const decodeSyncGroupRequest = (r: Reader, v: number): SyncGroupRequest => {
  const f = isFlexible(ApiKey.SyncGroup, v)
  const groupId = r.str(f)
  const generationId = r.int32()
  const memberId = r.str(f)
  const groupInstanceId = v >= 3 ? r.nullableStr(f) : null
  const assignments = r.array(f, (r) => {
    const memberId = r.str(f)
    const assignment = r.byteArray(f).slice()
    endStruct(r, f)
    return { memberId, assignment }
  })
  endStruct(r, f)
  return { groupId, generationId, memberId, groupInstanceId, assignments }
}

export interface SyncGroupResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly assignment: Uint8Array
}

export const encodeSyncGroupResponse = (w: Writer, v: number, resp: SyncGroupResponse): void => {
  const f = isFlexible(ApiKey.SyncGroup, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.int16(resp.errorCode).byteArray(f, resp.assignment)
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// Heartbeat (12)

export interface HeartbeatRequest {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
}

export const decodeHeartbeatRequest = (r: Reader, v: number): HeartbeatRequest => {
  const f = isFlexible(ApiKey.Heartbeat, v)
  const groupId = r.str(f)
  const generationId = r.int32()
  const memberId = r.str(f)
  const groupInstanceId = v >= 3 ? r.nullableStr(f) : null
  endStruct(r, f)
  return { groupId, generationId, memberId, groupInstanceId }
}

export interface ErrorOnlyResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
}

export const encodeHeartbeatResponse = (w: Writer, v: number, resp: ErrorOnlyResponse): void => {
  const f = isFlexible(ApiKey.Heartbeat, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.int16(resp.errorCode)
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// LeaveGroup (13)

export interface LeaveGroupRequest {
  readonly groupId: string
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly groupInstanceId: string | null }>
}

export const decodeLeaveGroupRequest = (r: Reader, v: number): LeaveGroupRequest => {
  const f = isFlexible(ApiKey.LeaveGroup, v)
  const groupId = r.str(f)
  if (v <= 2) {
    const memberId = r.str(f)
    endStruct(r, f)
    return { groupId, members: [{ memberId, groupInstanceId: null }] }
  }
  const members = r.array(f, (r) => {
    const memberId = r.str(f)
    const groupInstanceId = r.nullableStr(f)
    if (v >= 5) r.nullableStr(f) // reason
    endStruct(r, f)
    return { memberId, groupInstanceId }
  })
  endStruct(r, f)
  return { groupId, members }
}

export interface LeaveGroupResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly members: ReadonlyArray<{
    readonly memberId: string
    readonly groupInstanceId: string | null
    readonly errorCode: number
  }>
}

export const encodeLeaveGroupResponse = (w: Writer, v: number, resp: LeaveGroupResponse): void => {
  const f = isFlexible(ApiKey.LeaveGroup, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.int16(resp.errorCode)
  if (v >= 3)
    w.array(f, resp.members, (w, m) => {
      w.str(f, m.memberId).nullableStr(f, m.groupInstanceId).int16(m.errorCode).tags(f)
    })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// OffsetCommit (8)

export interface OffsetCommitRequest {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{
      readonly partitionIndex: number
      readonly committedOffset: bigint
      readonly committedLeaderEpoch: number
      readonly committedMetadata: string | null
    }>
  }>
}

export const decodeOffsetCommitRequest = (r: Reader, v: number): OffsetCommitRequest => {
  const f = isFlexible(ApiKey.OffsetCommit, v)
  const groupId = r.str(f)
  const generationId = v >= 1 ? r.int32() : -1
  const memberId = v >= 1 ? r.str(f) : ""
  const groupInstanceId = v >= 7 ? r.nullableStr(f) : null
  if (v >= 2 && v <= 4) r.int64() // retention time
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => {
      const partitionIndex = r.int32()
      const committedOffset = r.int64()
      const committedLeaderEpoch = v >= 6 ? r.int32() : -1
      if (v === 1) r.int64() // commit timestamp
      const committedMetadata = r.nullableStr(f)
      endStruct(r, f)
      return { partitionIndex, committedOffset, committedLeaderEpoch, committedMetadata }
    })
    endStruct(r, f)
    return { name, partitions }
  })
  endStruct(r, f)
  return { groupId, generationId, memberId, groupInstanceId, topics }
}

export interface PartitionErrors {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly errorCode: number }>
  }>
}

export const encodeOffsetCommitResponse = (w: Writer, v: number, resp: PartitionErrors): void => {
  const f = isFlexible(ApiKey.OffsetCommit, v)
  if (v >= 3) w.int32(resp.throttleTimeMs)
  w.array(f, resp.topics, (w, t) => {
    w.str(f, t.name)
    w.array(f, t.partitions, (w, p) => {
      w.int32(p.partitionIndex).int16(p.errorCode).tags(f)
    })
    w.tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// OffsetFetch (9)

export interface OffsetFetchRequest {
  readonly groupId: string
  /** null: every partition the group has committed. */
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitionIndexes: ReadonlyArray<number> }> | null
}

export const decodeOffsetFetchRequest = (r: Reader, v: number): OffsetFetchRequest => {
  const f = isFlexible(ApiKey.OffsetFetch, v)
  const groupId = r.str(f)
  const topics = r.nullableArray(f, (r) => {
    const name = r.str(f)
    const partitionIndexes = r.array(f, (r) => r.int32())
    endStruct(r, f)
    return { name, partitionIndexes }
  })
  if (v >= 7) r.bool() // require stable
  endStruct(r, f)
  return { groupId, topics }
}

export interface OffsetFetchResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{
      readonly partitionIndex: number
      readonly committedOffset: bigint
      readonly committedLeaderEpoch: number
      readonly metadata: string | null
      readonly errorCode: number
    }>
  }>
}

export const encodeOffsetFetchResponse = (w: Writer, v: number, resp: OffsetFetchResponse): void => {
  const f = isFlexible(ApiKey.OffsetFetch, v)
  if (v >= 3) w.int32(resp.throttleTimeMs)
  w.array(f, resp.topics, (w, t) => {
    w.str(f, t.name)
    w.array(f, t.partitions, (w, p) => {
      w.int32(p.partitionIndex).int64(p.committedOffset)
      if (v >= 5) w.int32(p.committedLeaderEpoch)
      w.nullableStr(f, p.metadata).int16(p.errorCode).tags(f)
    })
    w.tags(f)
  })
  if (v >= 2) w.int16(resp.errorCode)
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// DescribeGroups (15) and ListGroups (16)

export interface DescribeGroupsRequest {
  readonly groups: ReadonlyArray<string>
}

export const decodeDescribeGroupsRequest = (r: Reader, v: number): DescribeGroupsRequest => {
  const f = isFlexible(ApiKey.DescribeGroups, v)
  const groups = r.array(f, (r) => r.str(f))
  if (v >= 3) r.bool()
  endStruct(r, f)
  return { groups }
}

export interface DescribedGroup {
  readonly errorCode: number
  readonly groupId: string
  readonly groupState: string
  readonly protocolType: string
  readonly protocolData: string
  readonly members: ReadonlyArray<{
    readonly memberId: string
    readonly groupInstanceId: string | null
    readonly clientId: string
    readonly clientHost: string
    readonly memberMetadata: Uint8Array
    readonly memberAssignment: Uint8Array
  }>
}

export const encodeDescribeGroupsResponse = (
  w: Writer,
  v: number,
  resp: { readonly throttleTimeMs: number; readonly groups: ReadonlyArray<DescribedGroup> },
): void => {
  const f = isFlexible(ApiKey.DescribeGroups, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.array(f, resp.groups, (w, g) => {
    w.int16(g.errorCode).str(f, g.groupId).str(f, g.groupState).str(f, g.protocolType).str(f, g.protocolData)
    w.array(f, g.members, (w, m) => {
      w.str(f, m.memberId)
      if (v >= 4) w.nullableStr(f, m.groupInstanceId)
      w.str(f, m.clientId).str(f, m.clientHost).byteArray(f, m.memberMetadata).byteArray(f, m.memberAssignment)
      w.tags(f)
    })
    if (v >= 3) w.int32(-2147483648)
    w.tags(f)
  })
  w.tags(f)
}

export const encodeListGroupsResponse = (
  w: Writer,
  v: number,
  resp: {
    readonly throttleTimeMs: number
    readonly errorCode: number
    readonly groups: ReadonlyArray<{ readonly groupId: string; readonly protocolType: string }>
  },
): void => {
  const f = isFlexible(ApiKey.ListGroups, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.int16(resp.errorCode)
  w.array(f, resp.groups, (w, g) => {
    w.str(f, g.groupId).str(f, g.protocolType).tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// CreateTopics (19)

export interface CreateTopicsRequest {
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly numPartitions: number
    readonly replicationFactor: number
    readonly assignments: ReadonlyArray<{ readonly partitionIndex: number; readonly brokerIds: ReadonlyArray<number> }>
    readonly configs: ReadonlyArray<{ readonly name: string; readonly value: string | null }>
  }>
  readonly timeoutMs: number
  readonly validateOnly: boolean
}

export const decodeCreateTopicsRequest = (r: Reader, v: number): CreateTopicsRequest => {
  const f = isFlexible(ApiKey.CreateTopics, v)
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const numPartitions = r.int32()
    const replicationFactor = r.int16()
    const assignments = r.array(f, (r) => {
      const partitionIndex = r.int32()
      const brokerIds = r.array(f, (r) => r.int32())
      endStruct(r, f)
      return { partitionIndex, brokerIds }
    })
    const configs = r.array(f, (r) => {
      const name = r.str(f)
      const value = r.nullableStr(f)
      endStruct(r, f)
      return { name, value }
    })
    endStruct(r, f)
    return { name, numPartitions, replicationFactor, assignments, configs }
  })
  const timeoutMs = r.int32()
  const validateOnly = v >= 1 ? r.bool() : false
  endStruct(r, f)
  return { topics, timeoutMs, validateOnly }
}

export interface CreateTopicsResponse {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<{ readonly name: string; readonly errorCode: number; readonly errorMessage: string | null }>
}

export const encodeCreateTopicsResponse = (w: Writer, v: number, resp: CreateTopicsResponse): void => {
  const f = isFlexible(ApiKey.CreateTopics, v)
  if (v >= 2) w.int32(resp.throttleTimeMs)
  w.array(f, resp.topics, (w, t) => {
    w.str(f, t.name).int16(t.errorCode)
    if (v >= 1) w.nullableStr(f, t.errorMessage)
    w.tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// DeleteTopics (20)

export interface DeleteTopicsRequest {
  readonly topicNames: ReadonlyArray<string>
  readonly timeoutMs: number
}

export const decodeDeleteTopicsRequest = (r: Reader, v: number): DeleteTopicsRequest => {
  const f = isFlexible(ApiKey.DeleteTopics, v)
  const topicNames = r.array(f, (r) => r.str(f))
  const timeoutMs = r.int32()
  endStruct(r, f)
  return { topicNames, timeoutMs }
}

export interface DeleteTopicsResponse {
  readonly throttleTimeMs: number
  readonly responses: ReadonlyArray<{ readonly name: string; readonly errorCode: number }>
}

export const encodeDeleteTopicsResponse = (w: Writer, v: number, resp: DeleteTopicsResponse): void => {
  const f = isFlexible(ApiKey.DeleteTopics, v)
  if (v >= 1) w.int32(resp.throttleTimeMs)
  w.array(f, resp.responses, (w, t) => {
    w.str(f, t.name).int16(t.errorCode).tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// DeleteRecords (21)

export interface DeleteRecordsRequest {
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly offset: bigint }>
  }>
  readonly timeoutMs: number
}

export const decodeDeleteRecordsRequest = (r: Reader, v: number): DeleteRecordsRequest => {
  const f = isFlexible(ApiKey.DeleteRecords, v)
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => {
      const partitionIndex = r.int32()
      const offset = r.int64()
      endStruct(r, f)
      return { partitionIndex, offset }
    })
    endStruct(r, f)
    return { name, partitions }
  })
  const timeoutMs = r.int32()
  endStruct(r, f)
  return { topics, timeoutMs }
}

export interface DeleteRecordsResponse {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly lowWatermark: bigint; readonly errorCode: number }>
  }>
}

export const encodeDeleteRecordsResponse = (w: Writer, v: number, resp: DeleteRecordsResponse): void => {
  const f = isFlexible(ApiKey.DeleteRecords, v)
  w.int32(resp.throttleTimeMs)
  w.array(f, resp.topics, (w, t) => {
    w.str(f, t.name)
    w.array(f, t.partitions, (w, p) => {
      w.int32(p.partitionIndex).int64(p.lowWatermark).int16(p.errorCode).tags(f)
    })
    w.tags(f)
  })
  w.tags(f)
}

// ---------------------------------------------------------------------------------------------
// InitProducerId (22)

export interface InitProducerIdRequest {
  readonly transactionalId: string | null
  readonly transactionTimeoutMs: number
}

export const decodeInitProducerIdRequest = (r: Reader, v: number): InitProducerIdRequest => {
  const f = isFlexible(ApiKey.InitProducerId, v)
  const transactionalId = r.nullableStr(f)
  const transactionTimeoutMs = r.int32()
  if (v >= 3) {
    r.int64()
    r.int16()
  }
  endStruct(r, f)
  return { transactionalId, transactionTimeoutMs }
}

export interface InitProducerIdResponse {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly producerId: bigint
  readonly producerEpoch: number
}

export const encodeInitProducerIdResponse = (w: Writer, v: number, resp: InitProducerIdResponse): void => {
  const f = isFlexible(ApiKey.InitProducerId, v)
  w.int32(resp.throttleTimeMs).int16(resp.errorCode).int64(resp.producerId).int16(resp.producerEpoch)
  w.tags(f)
}
