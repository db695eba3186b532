/** Redraws bench/results/chart.svg (or `<dir>/chart.svg`) from the latest.json next to it. */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { datasetNames } from "./datasets.js"
import { chart, type Results } from "./report.js"

const dir = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "results")
const all = JSON.parse(fs.readFileSync(path.join(dir, "latest.json"), "utf8")) as Results
const order = ["kafka", "mock", "embedded", "external"].filter((b) => all[b] !== undefined)
const roundsOf = (b: string) => Object.values(all[b] ?? {}).flatMap((peers) => Object.values(peers))[0]?.rounds ?? 0
const note = `${order.map((b) => `${b}: ${roundsOf(b)} round(s)`).join(", ")}; a 2-core machine shared with other jobs`
fs.writeFileSync(path.join(dir, "chart.svg"), chart(all, order, datasetNames, note))
