/**
 * What every peer process shares: the spec it is given (one JSON argument), the per-record tally
 * (count and two checksums), the timing and CPU window from the first record to the last, and the
 * one JSON line it reports on stdout.
 */

export interface PeerSpec {
  readonly bootstrap: ReadonlyArray<string>
  readonly topic: string
  /** Partition count of the topic: every peer consumes all of them. */
  readonly partitions: number
  /** Records the topic holds; the peer stops after this many. */
  readonly records: number
  readonly maxWaitMs: number
  readonly maxPartitionBytes: number
  /** 1 ms of busy work per delivered batch (per 1000 records for the per-record peers). */
  readonly slow: boolean
  /** kafka-effect only: after the run, seek past the end and time the way back to the next record. */
  readonly probeOutOfRange: boolean
}

export const spec = (): PeerSpec => {
  const raw = process.argv[2]
  if (raw === undefined) {
    console.error("usage: <peer> '<json spec>'")
    process.exit(2)
  }
  return JSON.parse(raw) as PeerSpec
}

/** 1 ms of CPU work (a busy loop: it stands for the user's processing of a batch). */
export const work1ms = (): void => {
  const until = performance.now() + 1
  while (performance.now() < until) {
    // busy
  }
}

/** Counts and checksums every record; opens the timing and CPU window on the first one. */
export class Tally {
  n = 0
  offsetSum = 0
  /** Σ (partition + 1) · (offset + 1): a record delivered twice and another missed shows here. */
  weightedSum = 0
  private firstAt = 0
  private firstCpu: NodeJS.CpuUsage = { user: 0, system: 0 }
  /** CPU at `ready()`: where the CPU window opens (the first record when a peer does not call it). */
  private readyCpu: NodeJS.CpuUsage | undefined
  private sinceWork = 0
  readonly startedAt = performance.now()

  constructor(readonly target: number, readonly slow: boolean) {}

  /**
   * Right before the peer starts consuming (connected, subscribed or assigned): the CPU window
   * opens here, so that work a client does before it hands out its first record (decoding a
   * whole first answer, say) counts as every other record's does.
   */
  ready(): void {
    this.readyCpu = process.cpuUsage()
  }

  /** Before the first record of a batch. */
  private open(): void {
    this.firstAt = performance.now()
    this.firstCpu = this.readyCpu ?? process.cpuUsage()
  }

  record(partition: number, offset: number): void {
    if (this.n === 0) this.open()
    this.n++
    this.offsetSum += offset
    this.weightedSum += (partition + 1) * (offset + 1)
    if (this.slow && ++this.sinceWork === 1000) {
      this.sinceWork = 0
      work1ms()
    }
  }

  /** A batch peer tallies its records with `batchRecord` and calls this once per batch. */
  batchRecord(partition: number, offset: number): void {
    if (this.n === 0) this.open()
    this.n++
    this.offsetSum += offset
    this.weightedSum += (partition + 1) * (offset + 1)
  }

  batchDone(): void {
    if (this.slow) work1ms()
  }

  get done(): boolean {
    return this.n >= this.target
  }

  /** Closes the window (call right after the last record). */
  finish(extra: Partial<PeerReport> = {}): PeerReport {
    const now = performance.now()
    const cpu = process.cpuUsage(this.firstCpu)
    return {
      records: this.n,
      offsetSum: this.offsetSum,
      weightedSum: this.weightedSum,
      firstRecordMs: this.firstAt - this.startedAt,
      steadyMs: now - this.firstAt,
      cpuUs: cpu.user + cpu.system,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      ...extra,
    }
  }
}

export interface Instrumented {
  /** Most fetches outstanding at once. */
  readonly fetchesInFlightMax: number
  /** Time-weighted mean of fetches outstanding over the consume. */
  readonly fetchesInFlightMean: number
  /** Share of the consume (first fetch to last record) with no fetch outstanding. */
  readonly brokerIdleShare: number
  readonly fetchRequests: number
}

export interface OutOfRangeProbe {
  /** From the seek past the end to the next record (the one at the earliest offset). */
  readonly ms: number
  readonly fetches: number
  readonly listOffsets: number
  /** Offset of the record that came next (0: the reset went to the earliest, as configured). */
  readonly nextOffset: number
}

export interface PeerReport {
  readonly records: number
  readonly offsetSum: number
  readonly weightedSum: number
  /** From the start of the client (connect, metadata, group join) to the first record. */
  readonly firstRecordMs: number
  /** From the first record to the last. */
  readonly steadyMs: number
  /** User + system CPU of the peer process from `ready()` (else the first record) to the last record. */
  readonly cpuUs: number
  /** The process's peak RSS (getrusage maxrss). */
  readonly peakRssMb: number
  readonly instrumented?: Instrumented
  readonly outOfRange?: OutOfRangeProbe
}

export const report = (r: PeerReport): void => {
  process.stdout.write(`${JSON.stringify(r)}\n`)
}
