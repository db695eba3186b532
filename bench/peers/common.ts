/** What every peer process shares: its arguments and the one JSON line it reports. */
export interface PeerArgs {
  readonly bootstrap: ReadonlyArray<string>
  readonly topic: string
  readonly partitions: number
  readonly records: number
}

export const args = (): PeerArgs => {
  const [bootstrap, topic, partitions, records] = process.argv.slice(2)
  if (!bootstrap || !topic || !partitions || !records) {
    console.error("usage: <peer> BOOTSTRAP TOPIC PARTITIONS RECORDS")
    process.exit(2)
  }
  return { bootstrap: bootstrap.split(","), topic, partitions: Number(partitions), records: Number(records) }
}

export interface PeerReport {
  /** From the start of the client (connect, metadata, group join) to the first record. */
  readonly firstRecordMs: number
  /** From the first record to the last. */
  readonly steadyMs: number
  readonly records: number
  /** A checksum over the offsets, so a peer that skips or repeats records shows it. */
  readonly offsetSum: string
  readonly heapUsedMB: number
  /** RSS once the modules are loaded, before the client starts (what the code alone costs). */
  readonly loadedRssMB: number
}

/** RSS now; peers read it first thing (ES imports are evaluated before the module body). */
export const rssMB = (): number => process.memoryUsage().rss / 2 ** 20

export const report = (r: PeerReport): void => {
  process.stdout.write(`${JSON.stringify(r)}\n`)
}
