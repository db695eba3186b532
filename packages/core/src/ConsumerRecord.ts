/**
 * A record as the consumer delivers it. Keys, values and header values are bytes; offsets are
 * `bigint`, as in the protocol. `RecordSchema.decode` turns the key and value into typed ones
 * (`ConsumerRecord<Order, string>`).
 *
 * @since 0.1.0
 */

/**
 * One record header: a string key and its bytes (`null` when the producer sent none).
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordHeader {
  readonly key: string
  readonly value: Uint8Array | null
}

/**
 * A record as the consumer delivers it: where it is (topic, partition, offset), its timestamp, key,
 * value and headers. `V` and `K` are bytes until decoded with `RecordSchema`.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * Decodes bytes as utf8; `null` stays `null`.
 *
 * @since 0.1.0
 * @category values
 */
export const utf8 = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : decoder.decode(bytes)
