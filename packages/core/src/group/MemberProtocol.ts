/**
 * The bytes a consumer puts in JoinGroup (its subscription) and the leader puts in SyncGroup (each
 * member's assignment): Kafka's "consumer" protocol, the format Java, librdkafka and kafkajs share
 * (kafkajs: `src/consumer/assignerProtocol.js`). Big-endian; strings are int16 length + utf8, arrays
 * int32 count + items, bytes int32 length (-1 = null) + data.
 *
 * Subscription v0: version int16, topics [string], userData bytes; v1 adds owned partitions
 * [topic string, partitions [int32]]; v2 adds generationId int32; v3 adds rackId nullable string.
 * Assignment v0 (and v1, which is the same): version int16, [topic string, partitions [int32]], userData bytes.
 * Decoding reads the fields of its version and ignores what follows, as the Kafka protocol asks.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { TopicPartition } from "../TopicPartition.js"
import { MemberProtocolError } from "./GroupError.js"

/**
 * A member's subscription as the consumer protocol encodes it in JoinGroup.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscription {
  readonly version: number
  readonly topics: ReadonlyArray<string>
  readonly userData: Uint8Array | null
  /** v1+: the partitions the member owns (cooperative protocols). */
  readonly ownedPartitions: ReadonlyArray<TopicPartition>
  /** v2+; -1 when absent. */
  readonly generationId: number
  /** v3+. */
  readonly rackId: string | null
}

/**
 * A member's assignment as the consumer protocol encodes it in SyncGroup.
 *
 * @since 0.1.0
 * @category models
 */
export interface Assignment {
  readonly version: number
  /** In the order the leader wrote them, grouped by topic. */
  readonly partitions: ReadonlyArray<TopicPartition>
  readonly userData: Uint8Array | null
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

class Writer {
  private buf = new Uint8Array(64)
  private view = new DataView(this.buf.buffer)
  private pos = 0

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }
  int16(v: number): this {
    this.ensure(2)
    this.view.setInt16(this.pos, v)
    this.pos += 2
    return this
  }
  int32(v: number): this {
    this.ensure(4)
    this.view.setInt32(this.pos, v)
    this.pos += 4
    return this
  }
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1)
    const bytes = encoder.encode(s)
    return this.int16(bytes.length).raw(bytes)
  }
  bytes(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1)
    return this.int32(b.length).raw(b)
  }
  partitionsByTopic(partitions: ReadonlyArray<TopicPartition>): this {
    const byTopic = new Map<string, Array<number>>()
    for (const tp of partitions) {
      const list = byTopic.get(tp.topic)
      if (list) list.push(tp.partition)
      else byTopic.set(tp.topic, [tp.partition])
    }
    this.int32(byTopic.size)
    for (const [topic, list] of byTopic) {
      this.string(topic).int32(list.length)
      for (const p of list) this.int32(p)
    }
    return this
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}

class Reader {
  private readonly view: DataView
  pos = 0
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  get remaining(): number {
    return this.buf.length - this.pos
  }
  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new RangeError(`truncated at byte ${this.pos}: ${what} needs ${n} bytes, ${this.remaining} left`)
    }
  }
  int16(): number {
    this.need(2, "int16")
    const v = this.view.getInt16(this.pos)
    this.pos += 2
    return v
  }
  int32(): number {
    this.need(4, "int32")
    const v = this.view.getInt32(this.pos)
    this.pos += 4
    return v
  }
  string(): string | null {
    const len = this.int16()
    if (len < 0) return null
    this.need(len, "string")
    const s = decoder.decode(this.buf.subarray(this.pos, this.pos + len))
    this.pos += len
    return s
  }
  bytes(): Uint8Array | null {
    const len = this.int32()
    if (len < 0) return null
    this.need(len, "bytes")
    const b = this.buf.slice(this.pos, this.pos + len)
    this.pos += len
    return b
  }
  count(what: string): number {
    const n = this.int32()
    if (n < -1) throw new RangeError(`negative ${what} count ${n}`)
    return Math.max(n, 0)
  }
  partitionsByTopic(): Array<TopicPartition> {
    const out: Array<TopicPartition> = []
    const topics = this.count("topic")
    for (let i = 0; i < topics; i++) {
      const topic = this.string()
      if (topic === null) throw new RangeError("null topic name")
      const n = this.count("partition")
      for (let j = 0; j < n; j++) out.push({ topic, partition: this.int32() })
    }
    return out
  }
}

/**
 * Encodes a subscription. Version 0 is what kafkajs writes (and reads); version 1 adds the owned
 * partitions, which cooperative assignors need.
 *
 * @since 0.1.0
 * @category codec
 */
export const encodeSubscription = (subscription: {
  readonly version?: 0 | 1
  readonly topics: ReadonlyArray<string>
  /** kafkajs writes empty bytes, not null, when there is none; so do we by default. */
  readonly userData?: Uint8Array | null
  readonly ownedPartitions?: ReadonlyArray<TopicPartition>
}): Uint8Array => {
  const version = subscription.version ?? 0
  const w = new Writer().int16(version).int32(subscription.topics.length)
  for (const t of subscription.topics) w.string(t)
  w.bytes(subscription.userData === undefined ? new Uint8Array(0) : subscription.userData)
  if (version >= 1) w.partitionsByTopic(subscription.ownedPartitions ?? [])
  return w.done()
}

/**
 * Decodes a subscription; throws `MemberProtocolError` on bytes it cannot read.
 *
 * @since 0.1.0
 * @category codec
 */
export const decodeSubscriptionSync = (bytes: Uint8Array): Subscription => {
  const r = new Reader(bytes)
  const version = r.int16()
  if (version < 0) throw new RangeError(`negative version ${version}`)
  const n = r.count("topic")
  const topics: Array<string> = []
  for (let i = 0; i < n; i++) {
    const t = r.string()
    if (t === null) throw new RangeError("null topic name")
    topics.push(t)
  }
  // kafkajs and older clients may stop right after the topics.
  const userData = r.remaining >= 4 ? r.bytes() : null
  const ownedPartitions = version >= 1 && r.remaining >= 4 ? r.partitionsByTopic() : []
  const generationId = version >= 2 && r.remaining >= 4 ? r.int32() : -1
  const rackId = version >= 3 && r.remaining >= 2 ? r.string() : null
  return { version, topics, userData, ownedPartitions, generationId, rackId }
}

/**
 * Decodes a subscription, failing with `MemberProtocolError` on bytes it cannot read.
 *
 * @since 0.1.0
 * @category codec
 */
export const decodeSubscription = (bytes: Uint8Array): Effect.Effect<Subscription, MemberProtocolError> =>
  Effect.try({
    try: () => decodeSubscriptionSync(bytes),
    catch: (e) => new MemberProtocolError({ what: "MemberMetadata", reason: reasonOf(e) }),
  })

/**
 * Encodes an assignment as kafkajs and Java do (version 0, userData empty bytes by default).
 *
 * @since 0.1.0
 * @category codec
 */
export const encodeAssignment = (assignment: {
  readonly version?: number
  readonly partitions: ReadonlyArray<TopicPartition>
  readonly userData?: Uint8Array | null
}): Uint8Array =>
  new Writer()
    .int16(assignment.version ?? 0)
    .partitionsByTopic(assignment.partitions)
    .bytes(assignment.userData === undefined ? new Uint8Array(0) : assignment.userData)
    .done()

/**
 * An empty buffer (a member the leader gave nothing, as some clients write it) is no partitions.
 *
 * @since 0.1.0
 * @category codec
 */
export const decodeAssignmentSync = (bytes: Uint8Array): Assignment => {
  if (bytes.length === 0) return { version: 0, partitions: [], userData: null }
  const r = new Reader(bytes)
  const version = r.int16()
  if (version < 0) throw new RangeError(`negative version ${version}`)
  const partitions = r.partitionsByTopic()
  const userData = r.remaining >= 4 ? r.bytes() : null
  return { version, partitions, userData }
}

/**
 * Decodes an assignment, failing with `MemberProtocolError` on bytes it cannot read.
 *
 * @since 0.1.0
 * @category codec
 */
export const decodeAssignment = (bytes: Uint8Array): Effect.Effect<Assignment, MemberProtocolError> =>
  Effect.try({
    try: () => decodeAssignmentSync(bytes),
    catch: (e) => new MemberProtocolError({ what: "MemberAssignment", reason: reasonOf(e) }),
  })

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))
