/**
 * A record as the consumer delivers it. Keys, values and header values are bytes; offsets are
 * `bigint`, as in the protocol. `RecordSchema.decode` turns the key and value into typed ones
 * (`ConsumerRecord<Order, string>`).
 */

export interface RecordHeader {
  readonly key: string
  readonly value: Uint8Array | null
}

export interface ConsumerRecord<V = Uint8Array | null, K = Uint8Array | null> {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  /** Milliseconds since the epoch (CreateTime or LogAppendTime, as the batch says). */
  readonly timestamp: number
  readonly key: K
  readonly value: V
  readonly headers: ReadonlyArray<RecordHeader>
}

const decoder = new TextDecoder()

/** Decodes bytes as utf8; `null` stays `null`. */
export const utf8 = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : decoder.decode(bytes)
