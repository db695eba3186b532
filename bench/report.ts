/** Medians, the Markdown tables, `latest.json` and the SVG chart. */
import type { Instrumented, OutOfRangeProbe } from "./peers/common.js"

export const peerNames = [
  "kafkajs-eachBatch",
  "kafkajs-eachMessage",
  "platformatic",
  "kafka-effect-chunks",
  "kafka-effect-records",
  "kcat",
] as const
export type PeerName = (typeof peerNames)[number]

/** One peer process's run, as the orchestrator records it. */
export interface Sample {
  readonly recordsPerSec: number
  /** From the client's start (connect, metadata, group join or ListOffsets) to the last record. */
  readonly recordsPerSecFromStart: number
  readonly cpuUsPerRecord: number
  readonly peakRssMb: number
  readonly firstRecordMs: number
  /** The broker's CPU (µs) over the peer's whole process, and the records it delivered (brokers we started only). */
  readonly broker?: { readonly cpuUs: number; readonly records: number }
  readonly instrumented?: Instrumented
  readonly outOfRange?: OutOfRangeProbe
}

/** What latest.json holds per broker, data set and peer (medians over the rounds). */
export interface Result {
  readonly recordsPerSec: number
  readonly recordsPerSecFromStart: number
  readonly cpuUsPerRecord: number
  readonly peakRssMb: number
  readonly mbPerSec: number
  readonly firstRecordMs: number
  readonly rounds: number
  /**
   * The broker's CPU per record it served to this peer (over the peer's whole process): total CPU
   * over total records of the rounds, not a median, because /proc reads in 10 ms steps.
   */
  readonly brokerCpuUsPerRecord?: number
  /** idleBrokers: the same records from a topic of only the hot partitions. */
  readonly hotOnlyRecordsPerSec?: number
  readonly fetchesInFlightMax?: number
  readonly fetchesInFlightMean?: number
  readonly brokerIdleShare?: number
  readonly outOfRange?: OutOfRangeProbe
}

export type Results = Record<string, Record<string, Partial<Record<PeerName, Result>>>>

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const summarize = (samples: ReadonlyArray<Sample>, payloadBytes: number, hot?: ReadonlyArray<Sample>): Result => {
  const rate = median(samples.map((s) => s.recordsPerSec))
  const inst = samples.flatMap((s) => (s.instrumented ? [s.instrumented] : []))
  const oor = samples.flatMap((s) => (s.outOfRange ? [s.outOfRange] : []))
  const brokerCpu = samples.flatMap((s) => (s.broker === undefined ? [] : [s.broker]))
  return {
    recordsPerSec: Math.round(rate),
    recordsPerSecFromStart: Math.round(median(samples.map((s) => s.recordsPerSecFromStart))),
    cpuUsPerRecord: round(median(samples.map((s) => s.cpuUsPerRecord)), 3),
    peakRssMb: round(median(samples.map((s) => s.peakRssMb)), 1),
    mbPerSec: round((rate * payloadBytes) / 1e6, 2),
    firstRecordMs: Math.round(median(samples.map((s) => s.firstRecordMs))),
    rounds: samples.length,
    ...(brokerCpu.length > 0
      ? { brokerCpuUsPerRecord: round(brokerCpu.reduce((a, b) => a + b.cpuUs, 0) / brokerCpu.reduce((a, b) => a + b.records, 0), 3) }
      : {}),
    ...(hot && hot.length > 0 ? { hotOnlyRecordsPerSec: Math.round(median(hot.map((s) => s.recordsPerSec))) } : {}),
    ...(inst.length > 0
      ? {
          fetchesInFlightMax: Math.max(...inst.map((i) => i.fetchesInFlightMax)),
          fetchesInFlightMean: round(median(inst.map((i) => i.fetchesInFlightMean)), 2),
          brokerIdleShare: round(median(inst.map((i) => i.brokerIdleShare)), 3),
        }
      : {}),
    ...(oor.length > 0
      ? {
          outOfRange: {
            ms: round(median(oor.map((o) => o.ms)), 1),
            fetches: median(oor.map((o) => o.fetches)),
            listOffsets: median(oor.map((o) => o.listOffsets)),
            nextOffset: oor[0]!.nextOffset,
          },
        }
      : {}),
  }
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits))
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? "—" : `${(a / b).toFixed(2)}×`

/** One Markdown table for a broker and data set. */
export const table = (title: string, rows: Partial<Record<PeerName, Result>>): string => {
  const batch = rows["kafkajs-eachBatch"]
  const plat = rows.platformatic
  const out = [
    `### ${title}`,
    "",
    "| peer | records/s | from start | MB/s | × kafkajs eachBatch | × platformatic | CPU µs/record | peak RSS MB | RSS × kafkajs | first record ms | fetches in flight max / mean | broker idle share | broker CPU µs/record |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ]
  for (const name of peerNames) {
    const r = rows[name]
    if (r === undefined) continue
    const inst = r.brokerIdleShare === undefined ? "—" : `${r.fetchesInFlightMax} / ${r.fetchesInFlightMean}`
    const idle = r.brokerIdleShare === undefined ? "—" : `${(r.brokerIdleShare * 100).toFixed(0)}%`
    const rate = r.hotOnlyRecordsPerSec === undefined ? `${r.recordsPerSec}` : `${r.recordsPerSec} (hot only ${r.hotOnlyRecordsPerSec}: ${ratio(r.recordsPerSec, r.hotOnlyRecordsPerSec)})`
    out.push(
      `| ${name} | ${rate} | ${r.recordsPerSecFromStart} | ${r.mbPerSec} | ${ratio(r.recordsPerSec, batch?.recordsPerSec)} | ${ratio(r.recordsPerSec, plat?.recordsPerSec)} | ${r.cpuUsPerRecord} | ${r.peakRssMb} | ${ratio(r.peakRssMb, batch?.peakRssMb)} | ${name === "kcat" ? "—" : r.firstRecordMs} | ${inst} | ${idle} | ${r.brokerCpuUsPerRecord ?? "—"} |`,
    )
  }
  const oor = rows["kafka-effect-chunks"]?.outOfRange ?? rows["kafka-effect-records"]?.outOfRange
  if (oor) {
    out.push(
      "",
      `Injected OffsetOutOfRange (seek far past the end, reset to earliest): next record after ${oor.ms} ms, ${oor.fetches} Fetch and ${oor.listOffsets} ListOffsets calls (next offset ${oor.nextOffset}).`,
    )
  }
  return out.join("\n")
}

/** The goals' ratios for one broker, where measured. */
export const goals = (broker: string, r: Results[string]): string => {
  const g = (d: string, a: PeerName, b: PeerName) => ratio(r[d]?.[a]?.recordsPerSec, r[d]?.[b]?.recordsPerSec)
  const lines = [
    `### ${broker}: the goals' ratios`,
    "",
    "| ratio | measured | goal |",
    "|---|---:|---:|",
    `| chunks / kafkajs eachBatch, 100 B | ${g("value100", "kafka-effect-chunks", "kafkajs-eachBatch")} | ≥ 3× |`,
    `| chunks / platformatic, 100 B | ${g("value100", "kafka-effect-chunks", "platformatic")} | ≥ 2× |`,
    `| chunks / kafkajs eachBatch, 1 KiB | ${g("value1k", "kafka-effect-chunks", "kafkajs-eachBatch")} | ≥ 1.5× |`,
    `| chunks / platformatic, 1 KiB | ${g("value1k", "kafka-effect-chunks", "platformatic")} | ≥ 1.5× |`,
    `| chunks / kafkajs eachBatch, key + header | ${g("keyHeader", "kafka-effect-chunks", "kafkajs-eachBatch")} | ≥ 1.5× |`,
    `| chunks / platformatic, key + header | ${g("keyHeader", "kafka-effect-chunks", "platformatic")} | ≥ 1.5× |`,
    `| records / kafkajs eachMessage, 100 B | ${g("value100", "kafka-effect-records", "kafkajs-eachMessage")} | ≥ 3× |`,
    `| records / platformatic, 100 B | ${g("value100", "kafka-effect-records", "platformatic")} | ≥ 1.5× |`,
    `| chunks CPU µs/record, 100 B | ${r.value100?.["kafka-effect-chunks"]?.cpuUsPerRecord ?? "—"} | ≤ 0.5 |`,
    `| chunks CPU µs/record, key + header | ${r.keyHeader?.["kafka-effect-chunks"]?.cpuUsPerRecord ?? "—"} | ≤ 1 |`,
    `| chunks peak RSS / kafkajs eachBatch, 100 B | ${ratio(r.value100?.["kafka-effect-chunks"]?.peakRssMb, r.value100?.["kafkajs-eachBatch"]?.peakRssMb)} | ≤ 1× |`,
    `| chunks peak RSS / kafkajs eachBatch, key + header | ${ratio(r.keyHeader?.["kafka-effect-chunks"]?.peakRssMb, r.keyHeader?.["kafkajs-eachBatch"]?.peakRssMb)} | ≤ 1× |`,
    `| chunks, 3 brokers data on one: all / hot only | ${ratio(r.idleBrokers?.["kafka-effect-chunks"]?.recordsPerSec, r.idleBrokers?.["kafka-effect-chunks"]?.hotOnlyRecordsPerSec)} | ≥ 0.83× (within 1.2×) |`,
    `| chunks broker idle share, 100 B | ${r.value100?.["kafka-effect-chunks"]?.brokerIdleShare === undefined ? "—" : `${((r.value100["kafka-effect-chunks"].brokerIdleShare ?? 0) * 100).toFixed(0)}%`} | < 20% |`,
  ]
  return lines.join("\n")
}

/** latest.json merged with what this run measured (a partial run keeps the other entries). */
export const merge = (old: Results, fresh: Results): Results => {
  const out: Results = { ...old }
  for (const [broker, sets] of Object.entries(fresh)) {
    out[broker] = { ...(out[broker] ?? {}) }
    for (const [d, peers] of Object.entries(sets)) out[broker]![d] = { ...(out[broker]![d] ?? {}), ...peers }
  }
  return out
}

const colors: Record<PeerName, string> = {
  "kafkajs-eachBatch": "#8c8c8c",
  "kafkajs-eachMessage": "#c4c4c4",
  platformatic: "#e39b3b",
  "kafka-effect-chunks": "#2b6cb0",
  "kafka-effect-records": "#79a8e0",
  kcat: "#3a9d5d",
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;")

/** Grouped bars: records/s as a multiple of kafkajs eachBatch, one panel per broker, one group per data set. */
export const chart = (results: Results, brokers: ReadonlyArray<string>, datasets: ReadonlyArray<string>, note: string): string => {
  const present = brokers.filter((b) => results[b] !== undefined)
  const groupW = 24 + peerNames.length * 14
  const left = 50
  const panelW = left + datasets.length * groupW + 10
  const panelH = 220
  const top = 40
  const legendH = 30
  const width = Math.max(panelW, 770)
  const height = top + present.length * (panelH + 30) + legendH + 20
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>Consumer throughput as a multiple of kafkajs eachBatch, per broker and data set</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">Consumer throughput, × kafkajs eachBatch (median records/s)</text>`,
    `<text x="10" y="33" fill="#555">${esc(note)}</text>`,
  ]
  present.forEach((broker, bi) => {
    const y0 = top + bi * (panelH + 30) + 20
    const sets = results[broker]!
    const values = datasets.flatMap((d) =>
      peerNames.map((p) => {
        const base = sets[d]?.["kafkajs-eachBatch"]?.recordsPerSec
        const v = sets[d]?.[p]?.recordsPerSec
        return base && v ? v / base : 0
      }),
    )
    const max = Math.max(1, ...values)
    const step = max > 8 ? 2 : max > 4 ? 1 : 0.5
    const scaleMax = Math.ceil(max / step) * step
    const y = (v: number) => y0 + panelH - (v / scaleMax) * panelH
    parts.push(`<text x="10" y="${y0 - 6}" font-weight="bold">${esc(broker)}</text>`)
    for (let t = 0; t <= scaleMax + 1e-9; t += step) {
      parts.push(
        `<line x1="${left}" x2="${panelW - 10}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="${t === 1 ? "#999" : "#eee"}"/>`,
        `<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" fill="#555">${t}×</text>`,
      )
    }
    datasets.forEach((d, di) => {
      const gx = left + di * groupW + 12
      peerNames.forEach((p, pi) => {
        const base = sets[d]?.["kafkajs-eachBatch"]?.recordsPerSec
        const r = sets[d]?.[p]
        if (!base || !r) return
        const v = r.recordsPerSec / base
        const x = gx + pi * 14
        parts.push(
          `<rect x="${x}" y="${y(v).toFixed(1)}" width="12" height="${(y0 + panelH - y(v)).toFixed(1)}" fill="${colors[p]}"><title>${esc(`${broker} ${d} ${p}: ${r.recordsPerSec} records/s (${v.toFixed(2)}×)`)}</title></rect>`,
        )
      })
      parts.push(`<text x="${gx + (peerNames.length * 14) / 2}" y="${y0 + panelH + 14}" text-anchor="middle">${esc(d)}</text>`)
    })
  })
  const ly = height - legendH
  peerNames.forEach((p, i) => {
    const x = 10 + i * 125
    parts.push(`<rect x="${x}" y="${ly}" width="10" height="10" fill="${colors[p]}"/>`, `<text x="${x + 14}" y="${ly + 9}">${esc(p)}</text>`)
  })
  parts.push("</svg>")
  return `${parts.join("\n")}\n`
}
