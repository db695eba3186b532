/**
 * `pnpm soak [--broker memory|embedded|kafka] [--seed N] [--minutes M]`: a seeded random schedule
 * of faults against each broker kind in turn (default: all three), then the invariants. Each run
 * ends with one JSON line on stdout; the exit code is 1 when an invariant broke. Logs go to stderr.
 */
import type { Broker } from "./Ledger.js"
import * as Memory from "./memory.js"
import { type RunOptions, type Runner, run, type Sabotage } from "./Soak.js"

const usage =
  "usage: pnpm soak [--broker memory|embedded|kafka[,…]] [--seed N] [--minutes M] [--bootstrap host:port[,…]] [--sabotage drop[,duplicate]] [--verbose]"

const fail = (message: string): never => {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const kinds: ReadonlyArray<Broker> = ["memory", "embedded", "kafka"]
const isBroker = (s: string): s is Broker => kinds.some((k) => k === s)

const runners = async (broker: Broker): Promise<Runner> => {
  switch (broker) {
    case "memory":
      return Memory.run
    case "embedded":
      return (await import("./embedded.js")).run
    case "kafka":
      return (await import("./kafka.js")).run
  }
}

const parse = (argv: ReadonlyArray<string>) => {
  let brokers: ReadonlyArray<Broker> = kinds
  let seed = Math.floor(Math.random() * 2 ** 31)
  let minutes = 1
  let verbose = false
  let sabotage: Array<Sabotage> | undefined
  let bootstrap: Array<string> | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => argv[++i] ?? fail(`${arg} needs a value`)
    switch (arg) {
      case "--broker": {
        const list = value().split(",")
        for (const b of list) if (!isBroker(b)) fail(`--broker: ${b} is not one of ${kinds.join(", ")}`)
        brokers = list.filter(isBroker)
        break
      }
      case "--seed": {
        const v = value()
        seed = Number(v)
        if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) fail(`--seed: ${v} is not an integer in [0, 2^32)`)
        break
      }
      case "--minutes": {
        const v = value()
        minutes = Number(v)
        if (!Number.isFinite(minutes) || minutes <= 0) fail(`--minutes: ${v} is not a positive number`)
        break
      }
      case "--sabotage": {
        sabotage = []
        for (const v of value().split(",")) {
          if (v === "drop" || v === "duplicate") sabotage.push(v)
          else fail(`--sabotage: ${v} is not drop or duplicate`)
        }
        break
      }
      case "--bootstrap": {
        const v = value()
        bootstrap = v.split(",")
        if (bootstrap.some((b) => !/^[^\s:]+:\d+$/.test(b))) fail(`--bootstrap: ${v} is not a list of host:port`)
        break
      }
      case "--verbose":
        verbose = true
        break
      case "--help":
        process.stdout.write(`${usage}\n`)
        process.exit(0)
        break
      default:
        fail(`unknown argument ${arg}`)
    }
  }
  const options: RunOptions = {
    seed,
    minutes,
    verbose,
    ...(sabotage === undefined ? {} : { sabotage }),
    ...(bootstrap === undefined ? {} : { bootstrap }),
  }
  return { brokers, options }
}

/** The flags of this run that a replay needs besides the seed and the minutes. */
const replayFlags = (broker: Broker, options: RunOptions): string =>
  `${options.sabotage === undefined ? "" : ` --sabotage ${options.sabotage.join(",")}`}${
    broker === "kafka" && options.bootstrap !== undefined ? ` --bootstrap ${options.bootstrap.join(",")}` : ""
  }`

const main = async () => {
  const { brokers, options } = parse(process.argv.slice(2))
  let ok = true
  for (const broker of brokers) {
    process.stderr.write(`soak: ${broker}, seed ${options.seed}, ${options.minutes} minute(s)\n`)
    const { summary, violations } = await run(broker, await runners(broker), options)
    for (const v of violations) process.stderr.write(`soak: ${broker}: ${v}\n`)
    if (!summary.ok) {
      ok = false
      process.stderr.write(
        `soak: ${broker}: invariants broken; replay with: pnpm soak --broker ${broker} --seed ${options.seed} --minutes ${options.minutes}${replayFlags(broker, options)}\n`,
      )
    }
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  }
  process.exit(ok ? 0 : 1)
}

main().catch((e: unknown) => {
  process.stderr.write(`soak: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})
