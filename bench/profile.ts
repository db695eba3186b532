/**
 * Summarizes `node --cpu-prof` profiles (from `pnpm bench --profile dir`): where the time went, by
 * package or source file, and the functions with the most self and total time.
 *
 *   tsx bench/profile.ts <dir or .cpuprofile>… [--top 20] [--from recordBatch.ts]
 *
 * `--from`: only the samples from the first one whose stack has a frame in a file matching it (the
 * steady state, e.g. from the first record batch decoded: module loading and connecting left out).
 *
 * Several files are added up (e.g. every round of one peer). Idle time is left out of the shares,
 * and so is the inspector's own dispatch (the embedded broker's profiles end inside it).
 */
import * as fs from "node:fs"
import * as path from "node:path"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const argv = process.argv.slice(2)
const optionValue = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const top = Number(optionValue("top") ?? "20")
const from = optionValue("from")
const inputs = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"))
if (inputs.length === 0) {
  console.error("usage: tsx bench/profile.ts <dir or .cpuprofile>… [--top 20]")
  process.exit(2)
}

const files = inputs.flatMap((input) =>
  fs.statSync(input).isDirectory()
    ? fs
        .readdirSync(input, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => path.join(input, f))
    : [input],
)

/** node_modules/.pnpm/x@1/node_modules/x/… → x; packages/core/src/Consumer.ts → core/Consumer.ts; node:… → node. */
const where = (url: string): string => {
  if (url === "") return "(native / VM)"
  const nm = url.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/")
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const pkg = /\/packages\/([^/]+)\/src\/(.+)$/.exec(url)
  if (pkg) return `${pkg[1]}/${pkg[2]}`
  if (url.startsWith("node:")) return "node (built-in modules)"
  const bench = /\/bench\/(.+)$/.exec(url)
  return bench ? `bench/${bench[1]}` : url
}

const self = new Map<string, number>()
const total = new Map<string, number>()
const byWhere = new Map<string, number>()
let busy = 0
let idle = 0
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v)

for (const file of files) {
  const p = JSON.parse(fs.readFileSync(file, "utf8")) as Profile
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const key = (n: ProfileNode) =>
    n.callFrame.url === "" ? n.callFrame.functionName || "(anonymous)" : `${n.callFrame.functionName || "(anonymous)"} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
  let started = from === undefined
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    const n = byId.get(p.samples[i]!)
    if (n === undefined) continue
    if (!started) {
      for (let id: number | undefined = n.id; id !== undefined && !started; id = parent.get(id)) {
        if (byId.get(id)!.callFrame.url.includes(from!)) started = true
      }
      if (!started) continue
    }
    // The inspector's own work when it stops the profiler (the embedded broker's `profile stop`) is not the broker's.
    if (n.callFrame.functionName === "dispatch" && n.callFrame.url === "") continue
    if (n.callFrame.functionName === "(idle)") {
      idle += dt
      continue
    }
    busy += dt
    add(self, key(n), dt)
    add(byWhere, n.callFrame.url === "" ? key(n) : where(n.callFrame.url), dt)
    const seen = new Set<string>()
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const k = key(byId.get(id)!)
      if (seen.has(k)) continue
      seen.add(k)
      add(total, k, dt)
    }
  }
}

const pct = (v: number) => `${((v / busy) * 100).toFixed(1)}%`
const ms = (v: number) => `${(v / 1000).toFixed(0)} ms`
const rows = (m: Map<string, number>, n: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `| ${pct(v)} | ${ms(v)} | \`${k}\` |`)

console.log(
  [
    `${files.length} profile(s): ${ms(busy)} on CPU, ${ms(idle)} idle.`,
    "",
    "Self time by package or source file:",
    "",
    "| share | time | where |",
    "|---:|---:|---|",
    ...rows(byWhere, top),
    "",
    "Functions by self time:",
    "",
    "| share | time | function |",
    "|---:|---:|---|",
    ...rows(self, top),
    "",
    "Functions by total time (self and callees):",
    "",
    "| share | time | function |",
    "|---:|---:|---|",
    ...rows(total, top),
  ].join("\n"),
)
