/** API keys, the versions this broker serves, and where each API's flexible versions begin. */

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  DeleteRecords: 21,
  InitProducerId: 22,
  SaslAuthenticate: 36,
} as const

export type ApiKeyName = keyof typeof ApiKey

/** The name of each known API key. */
export const apiNames: ReadonlyMap<number, string> = new Map(Object.entries(ApiKey).map(([name, key]) => [key, name]))

export interface VersionRange {
  readonly min: number
  readonly max: number
}

/**
 * What ApiVersions advertises. Clients pick min(their max, ours): kafkajs 2.2.4 and librdkafka 2.0.2
 * land on these maxima (except OffsetFetch, where kafkajs stops at 4). Only RecordBatch v2 is
 * spoken: Fetch starts at 4 (no down-conversion to message sets). Produce is advertised from 0 as
 * Kafka does, because librdkafka only compresses when the Produce range reaches down to v0; a
 * v0-2 request carries an old message set and gets UNSUPPORTED_FOR_MESSAGE_FORMAT per partition.
 */
export const supported: ReadonlyMap<number, VersionRange> = new Map([
  [ApiKey.Produce, { min: 0, max: 7 }],
  [ApiKey.Fetch, { min: 4, max: 11 }],
  [ApiKey.ListOffsets, { min: 0, max: 5 }],
  [ApiKey.Metadata, { min: 0, max: 8 }],
  [ApiKey.OffsetCommit, { min: 0, max: 7 }],
  [ApiKey.OffsetFetch, { min: 0, max: 5 }],
  [ApiKey.FindCoordinator, { min: 0, max: 2 }],
  [ApiKey.JoinGroup, { min: 0, max: 5 }],
  [ApiKey.Heartbeat, { min: 0, max: 3 }],
  [ApiKey.LeaveGroup, { min: 0, max: 3 }],
  [ApiKey.SyncGroup, { min: 0, max: 3 }],
  [ApiKey.DescribeGroups, { min: 0, max: 4 }],
  [ApiKey.ListGroups, { min: 0, max: 2 }],
  [ApiKey.SaslHandshake, { min: 0, max: 1 }],
  [ApiKey.ApiVersions, { min: 0, max: 3 }],
  [ApiKey.CreateTopics, { min: 0, max: 4 }],
  [ApiKey.DeleteTopics, { min: 0, max: 3 }],
  [ApiKey.DeleteRecords, { min: 0, max: 1 }],
  [ApiKey.InitProducerId, { min: 0, max: 1 }],
  [ApiKey.SaslAuthenticate, { min: 0, max: 2 }],
])

/** First flexible version of each API (Kafka's `flexibleVersions`). */
const flexibleFrom: ReadonlyMap<number, number> = new Map([
  [ApiKey.Produce, 9],
  [ApiKey.Fetch, 12],
  [ApiKey.ListOffsets, 6],
  [ApiKey.Metadata, 9],
  [ApiKey.OffsetCommit, 8],
  [ApiKey.OffsetFetch, 6],
  [ApiKey.FindCoordinator, 3],
  [ApiKey.JoinGroup, 6],
  [ApiKey.Heartbeat, 4],
  [ApiKey.LeaveGroup, 4],
  [ApiKey.SyncGroup, 4],
  [ApiKey.DescribeGroups, 5],
  [ApiKey.ListGroups, 3],
  [ApiKey.ApiVersions, 3],
  [ApiKey.CreateTopics, 5],
  [ApiKey.DeleteTopics, 4],
  [ApiKey.DeleteRecords, 2],
  [ApiKey.InitProducerId, 2],
  [ApiKey.SaslAuthenticate, 2],
])

export const isFlexible = (apiKey: number, version: number): boolean => {
  const from = flexibleFrom.get(apiKey)
  return from !== undefined && version >= from
}

export const isSupported = (apiKey: number, version: number): boolean => {
  const range = supported.get(apiKey)
  return range !== undefined && version >= range.min && version <= range.max
}
