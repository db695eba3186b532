/**
 * The soak's bookkeeping and its invariants. The producer notes every acknowledged record (its
 * partition, number and offset); members note what they delivered (with the group generation they
 * delivered it in), the offset resets they announced, the commits seen, and how they ended. After
 * the run `summarize` classifies every acknowledged record exactly once: delivered (at least once),
 * else skipped (inside the range of an `OffsetReset` event), else lost.
 */

export type Broker = "memory" | "embedded" | "kafka"

/** One delivered record: where it was and the number the producer wrote into it. */
export interface Delivered {
  readonly offset: number
  readonly n: number
}

export interface Reset {
  readonly member: string
  readonly partition: number
  readonly requested: number
  readonly newOffset: number
  readonly skipped: number
}

/** The JSON line a run ends with. The first fields are the ones the issue names, in its order. */
export interface Summary {
  readonly seed: number
  readonly broker: Broker
  readonly faults: number
  readonly acknowledged: number
  readonly delivered: number
  readonly skipped: number
  /** Deliveries of one record more than once in the same group generation: must be 0. */
  readonly duplicates: number
  readonly lost: number
  /** Members whose stream died of an error (not killed by the soak): must be 0. */
  readonly crashes: number
  readonly minutes: number
  /** Deliveries again in a later generation (after a kill or a rebalance): allowed, counted. */
  readonly redelivered: number
  /** A partition's offsets (or the producer's numbers) going backwards within one member's generation. */
  readonly outOfOrder: number
  /** A committed offset lower than one committed before it. */
  readonly commitRegressions: number
  /** Acknowledged records counted as skipped by a reset although DeleteRecords never cut them. */
  readonly wrongSkips: number
  /** An acknowledged offset that holds another record than the one acknowledged there. */
  readonly corrupt: number
  readonly resets: number
  readonly kills: number
  readonly joins: number
  readonly generations: number
  readonly faultKinds: Readonly<Record<string, number>>
  readonly seconds: number
  readonly ok: boolean
}

export interface Ledger {
  readonly ack: (partition: number, n: number, offset: number) => void
  readonly deliver: (member: string, generation: number, partition: number, records: ReadonlyArray<Delivered>) => void
  readonly reset: (reset: Reset) => void
  readonly cut: (partition: number, beforeOffset: number) => void
  readonly commit: (partition: number, offset: number) => void
  readonly crash: (member: string, error: string) => void
  readonly fault: (kind: string) => void
  readonly kill: () => void
  readonly join: () => void
  /** Acknowledged records that are neither delivered nor skipped yet (to wait for the end). */
  readonly outstanding: () => number
  readonly acknowledged: () => number
  readonly summarize: (meta: { readonly seed: number; readonly broker: Broker; readonly minutes: number; readonly seconds: number }) => {
    readonly summary: Summary
    /** A few examples of each broken invariant, for the log. */
    readonly violations: ReadonlyArray<string>
  }
}

interface PartitionBook {
  /** offset → number, as acknowledged. */
  readonly acked: Map<number, number>
  /** offset → number → generation → deliveries, and the member that delivered it first in that generation. */
  readonly delivered: Map<number, { n: number; byGeneration: Map<number, { times: number; first: string }> }>
  readonly resets: Array<Reset>
  /** The producer's numbers delivered, wherever they were (an acknowledgement can name a wrong offset). */
  readonly numbers: Set<number>
  cut: number
  committed: number
}

export const make = (): Ledger => {
  const partitions = new Map<number, PartitionBook>()
  const book = (p: number): PartitionBook => {
    let b = partitions.get(p)
    if (b === undefined) {
      b = { acked: new Map(), delivered: new Map(), resets: [], numbers: new Set(), cut: 0, committed: -1 }
      partitions.set(p, b)
    }
    return b
  }
  /** member/generation/partition → last offset and number delivered. */
  const last = new Map<string, { offset: number; n: number }>()
  const faultKinds: Record<string, number> = {}
  const crashes: Array<string> = []
  const generations = new Set<number>()
  const violations: Record<"duplicates" | "outOfOrder" | "commitRegressions" | "corrupt", Array<string>> = {
    duplicates: [],
    outOfOrder: [],
    commitRegressions: [],
    corrupt: [],
  }
  let duplicates = 0
  let redelivered = 0
  let outOfOrder = 0
  let commitRegressions = 0
  let kills = 0
  let joins = 0
  let acknowledged = 0
  const sample = (list: Array<string>, line: string) => {
    if (list.length < 5) list.push(line)
  }
  const isSettled = (b: PartitionBook, offset: number, n: number): boolean => {
    if (b.numbers.has(n)) return true
    return b.resets.some((r) => offset >= r.requested && offset < r.newOffset)
  }

  return {
    ack: (partition, n, offset) => {
      const b = book(partition)
      if (!b.acked.has(offset)) acknowledged++
      b.acked.set(offset, n)
    },
    deliver: (member, generation, partition, records) => {
      const b = book(partition)
      generations.add(generation)
      const key = `${member}/${generation}/${partition}`
      let prev = last.get(key)
      for (const r of records) {
        if (prev !== undefined && (r.offset <= prev.offset || r.n <= prev.n)) {
          if (r.offset === prev.offset) {
            // The same record twice in a row: a duplicate, counted below.
          } else {
            outOfOrder++
            sample(violations.outOfOrder, `${key}: offset ${r.offset} (record ${r.n}) after offset ${prev.offset} (record ${prev.n})`)
          }
        }
        prev = r
        b.numbers.add(r.n)
        let d = b.delivered.get(r.offset)
        if (d === undefined) {
          d = { n: r.n, byGeneration: new Map() }
          b.delivered.set(r.offset, d)
        } else if (d.n !== r.n) {
          sample(violations.corrupt, `partition ${partition} offset ${r.offset}: record ${r.n}, earlier ${d.n}`)
        }
        const seen = d.byGeneration.get(generation)
        if (seen !== undefined) {
          duplicates++
          sample(
            violations.duplicates,
            `partition ${partition} offset ${r.offset} (record ${r.n}) again in generation ${generation} (${member}; first by ${seen.first})`,
          )
          seen.times++
        } else {
          if (d.byGeneration.size > 0) redelivered++
          d.byGeneration.set(generation, { times: 1, first: member })
        }
      }
      if (prev !== undefined) last.set(key, prev)
    },
    reset: (r) => {
      book(r.partition).resets.push(r)
    },
    cut: (partition, beforeOffset) => {
      const b = book(partition)
      b.cut = Math.max(b.cut, beforeOffset)
    },
    commit: (partition, offset) => {
      const b = book(partition)
      if (offset < b.committed) {
        commitRegressions++
        sample(violations.commitRegressions, `partition ${partition}: committed ${offset} after ${b.committed}`)
      }
      b.committed = Math.max(b.committed, offset)
    },
    crash: (member, error) => {
      crashes.push(`${member}: ${error}`)
    },
    fault: (kind) => {
      faultKinds[kind] = (faultKinds[kind] ?? 0) + 1
    },
    kill: () => {
      kills++
    },
    join: () => {
      joins++
    },
    outstanding: () => {
      let open = 0
      for (const b of partitions.values()) for (const [offset, n] of b.acked) if (!isSettled(b, offset, n)) open++
      return open
    },
    acknowledged: () => acknowledged,
    summarize: (meta) => {
      let delivered = 0
      let skipped = 0
      let lost = 0
      let wrongSkips = 0
      let corrupt = 0
      let resets = 0
      const lostSamples: Array<string> = []
      const wrongSkipSamples: Array<string> = []
      for (const [p, b] of [...partitions].sort(([a], [c]) => a - c)) {
        resets += b.resets.length
        for (const [offset, n] of b.acked) {
          const d = b.delivered.get(offset)
          if (d !== undefined && d.n !== n) {
            // The producer's acknowledgement named an offset that holds another record.
            corrupt++
            sample(violations.corrupt, `partition ${p} offset ${offset}: delivered record ${d.n}, acknowledged ${n} there`)
          }
          if (b.numbers.has(n)) {
            delivered++
          } else if (b.resets.some((r) => offset >= r.requested && offset < r.newOffset)) {
            skipped++
            if (offset >= b.cut) {
              wrongSkips++
              sample(wrongSkipSamples, `partition ${p} offset ${offset} (record ${n}) skipped by a reset, but the log was cut only below ${b.cut}`)
            }
          } else {
            lost++
            sample(lostSamples, `partition ${p} offset ${offset} (record ${n}) acknowledged, never delivered, not skipped by any reset`)
          }
        }
        for (const r of b.resets) {
          if (r.newOffset > r.requested && r.skipped !== r.newOffset - r.requested) {
            corrupt++
            sample(violations.corrupt, `partition ${p}: reset ${r.requested} → ${r.newOffset} says skipped ${r.skipped}`)
          }
        }
      }
      const faults = Object.values(faultKinds).reduce((a, b) => a + b, 0)
      const ok =
        lost === 0 &&
        crashes.length === 0 &&
        duplicates === 0 &&
        outOfOrder === 0 &&
        commitRegressions === 0 &&
        wrongSkips === 0 &&
        corrupt === 0 &&
        delivered + skipped === acknowledged
      const summary: Summary = {
        seed: meta.seed,
        broker: meta.broker,
        faults,
        acknowledged,
        delivered,
        skipped,
        duplicates,
        lost,
        crashes: crashes.length,
        minutes: meta.minutes,
        redelivered,
        outOfOrder,
        commitRegressions,
        wrongSkips,
        corrupt,
        resets,
        kills,
        joins,
        generations: generations.size,
        faultKinds,
        seconds: meta.seconds,
        ok,
      }
      return {
        summary,
        violations: [
          ...lostSamples.map((s) => `lost: ${s}`),
          ...crashes.slice(0, 5).map((s) => `crash: ${s}`),
          ...violations.duplicates.map((s) => `duplicate: ${s}`),
          ...violations.outOfOrder.map((s) => `out of order: ${s}`),
          ...violations.commitRegressions.map((s) => `commit regression: ${s}`),
          ...wrongSkipSamples.map((s) => `wrong skip: ${s}`),
          ...violations.corrupt.map((s) => `corrupt: ${s}`),
        ],
      }
    },
  }
}
