/**
 * Idempotent producers (KIP-98, without transactions): producer ids handed out by InitProducerId,
 * and per producer and partition the last five batches' sequence ranges, so a retried batch is
 * answered with its first offset instead of being appended twice, and a gap in the sequence is
 * OUT_OF_ORDER_SEQUENCE_NUMBER, as Kafka does.
 */

interface Appended {
  readonly epoch: number
  readonly firstSequence: number
  readonly lastSequence: number
  readonly baseOffset: bigint
}

export type SequenceCheck =
  | { readonly _tag: "Append" }
  | { readonly _tag: "Duplicate"; readonly baseOffset: bigint }
  | { readonly _tag: "OutOfOrder"; readonly expected: number }

const WINDOW = 5

export class ProducerState {
  private nextId = 1000n
  private readonly windows = new Map<string, Array<Appended>>()

  allocate(): bigint {
    const id = this.nextId
    this.nextId += 1n
    return id
  }

  private key(producerId: bigint, partitionKey: string): string {
    return `${producerId}\u0000${partitionKey}`
  }

  check(producerId: bigint, epoch: number, partitionKey: string, firstSequence: number): SequenceCheck {
    const window = this.windows.get(this.key(producerId, partitionKey))
    if (window === undefined || window.length === 0) return { _tag: "Append" }
    const last = window[window.length - 1]
    if (epoch > last.epoch) return { _tag: "Append" }
    const seen = window.find((a) => a.epoch === epoch && a.firstSequence === firstSequence)
    if (seen !== undefined) return { _tag: "Duplicate", baseOffset: seen.baseOffset }
    const expected = last.lastSequence + 1
    return firstSequence === expected ? { _tag: "Append" } : { _tag: "OutOfOrder", expected }
  }

  record(producerId: bigint, epoch: number, partitionKey: string, firstSequence: number, count: number, baseOffset: bigint): void {
    const key = this.key(producerId, partitionKey)
    const window = (this.windows.get(key) ?? []).filter((a) => a.epoch === epoch)
    window.push({ epoch, firstSequence, lastSequence: firstSequence + count - 1, baseOffset })
    if (window.length > WINDOW) window.shift()
    this.windows.set(key, window)
  }
}
