/**
 * The soak over the wire, shared by the embedded broker and the three-node Kafka cluster: members
 * run as child processes (`member.ts` under tsx) behind a `FaultProxy`, the parent produces numbered
 * records with acks=all (the kafka package's `Producer`, idempotent, one partition per send, straight
 * to the brokers), reads the members' reports into the ledger and plays a seeded schedule of
 * faults: closed connections, delays and error answers on every API through the proxy,
 * DeleteRecords under the consumers, members SIGKILLed and restarted, members joining, a slow
 * member, and whatever the broker kind adds (leader moves, a broker SIGKILLed and restarted).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import { Producer } from "@kafka-effect/kafka"
import type { FaultProxy } from "@kafka-effect/testkit"
import { Effect, Exit, Fiber, Schedule, Scope } from "effect"
import type * as Ledger from "./Ledger.js"
import type { MemberArgs } from "./member.js"
import type * as Prng from "./Prng.js"
import type { RunOptions } from "./Soak.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "..")
const memberScript = path.join(here, "member.ts")

/** A fault the broker kind adds to the proxy's: its name and what it does. */
export interface ExtraFault {
  readonly name: string
  readonly weight: number
  readonly run: Effect.Effect<void, unknown>
}

export interface Target {
  readonly broker: Ledger.Broker
  readonly topic: string
  readonly group: string
  readonly partitions: number
  /** Where the producer sends (the brokers themselves, not the proxy). */
  readonly brokers: ReadonlyArray<string>
  readonly proxy: FaultProxy.FaultProxy["Type"]
  readonly sessionTimeoutMs: number
  readonly logStartAndEnd: (partition: number) => Effect.Effect<{ readonly logStart: number; readonly end: number }, unknown>
  readonly deleteRecords: (partition: number, before: number) => Effect.Effect<void, unknown>
  /** The group's committed offsets now (polled during the run), or the complete commit log at the end. */
  readonly committed: Effect.Effect<ReadonlyArray<{ readonly partition: number; readonly offset: number }>, unknown>
  readonly pollCommits: boolean
  readonly extraFaults: ReadonlyArray<ExtraFault>
  /** After the faults: every broker up again. */
  readonly heal: Effect.Effect<void, unknown>
}

interface Member {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  dead: boolean
  slow: boolean
  generation: number
}

const proxyApis = [
  "Fetch",
  "ListOffsets",
  "Metadata",
  "FindCoordinator",
  "JoinGroup",
  "SyncGroup",
  "Heartbeat",
  "OffsetCommit",
  "OffsetFetch",
  "LeaveGroup",
  "ApiVersions",
] as const

export const run = (target: Target, options: RunOptions, ledger: Ledger.Ledger, prng: Prng.Prng) =>
  Effect.gen(function* () {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `kafka-effect-soak-${target.broker}-`))
    const log = (line: string) => {
      if (options.verbose) process.stderr.write(`soak: ${target.broker}: ${line}\n`)
    }
    process.stderr.write(`soak: ${target.broker}: member logs in ${logDir}\n`)
    const members: Array<Member> = []
    let memberCount = 0
    // Whatever ends the run, no member outlives it.
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      for (const m of members) m.child.kill("SIGKILL")
    }))

    const startMember = () => {
      const name = `m${++memberCount}`
      const args: MemberArgs = {
        name,
        brokers: target.proxy.brokers,
        topic: target.topic,
        group: target.group,
        slowMs: prng.int(300, 2000),
        sessionTimeoutMs: target.sessionTimeoutMs,
        verbose: options.verbose,
      }
      const out = fs.openSync(path.join(logDir, `${name}.log`), "w")
      // node itself (not tsx's launcher, which would survive as a parent's SIGKILL), reports on fd 3.
      const child = spawn(process.execPath, ["--import", "tsx", memberScript, JSON.stringify(args)], {
        cwd: root,
        stdio: ["ignore", out, out, "pipe"],
      })
      fs.closeSync(out)
      const reports = child.stdio[3]
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      const member: Member = { name, child, exited, dead: false, slow: false, generation: -1 }
      members.push(member)
      if (!(reports instanceof Readable)) throw new Error("no report pipe")
      const lines = readline.createInterface({ input: reports })
      lines.on("line", (line) => {
        if (!line.startsWith("{")) return
        const m: unknown = JSON.parse(line)
        if (typeof m !== "object" || m === null || !("t" in m)) return
        const msg: Record<string, unknown> = { ...m }
        switch (msg.t) {
          case "d": {
            const records = Array.isArray(msg.r) ? msg.r : []
            ledger.deliver(
              name,
              Number(msg.g),
              Number(msg.p),
              records.map((x: unknown) => (Array.isArray(x) ? { offset: Number(x[0]), n: Number(x[1]) } : { offset: -1, n: -1 })),
            )
            return
          }
          case "r":
            ledger.reset({ member: name, partition: Number(msg.p), requested: Number(msg.q), newOffset: Number(msg.o), skipped: Number(msg.s) })
            log(`${name}: reset partition ${msg.p} ${msg.q} → ${msg.o}`)
            return
          case "s":
            member.generation = Number(msg.g)
            log(`${name}: stable in generation ${msg.g}`)
            return
          case "x":
            ledger.crash(name, String(msg.e))
            process.stderr.write(`soak: ${target.broker}: ${name} died: ${String(msg.e)}\n`)
            return
        }
      })
      void exited.then((code) => {
        // A non-zero exit code is a crash even if it said nothing; signals come from the soak.
        if (code !== null && code !== 0 && !member.dead) ledger.crash(name, `exited with ${code}`)
        member.dead = true
      })
      ledger.join()
      log(`${name} started`)
      return member
    }

    const killMember = (m: Member) => {
      m.dead = true
      m.child.kill("SIGKILL")
      ledger.kill()
      log(`${m.name} killed`)
    }
    const alive = () => members.filter((m) => !m.dead)

    // The producer: numbered records per partition, acks=all, one partition per send.
    const makeProducer = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const service = yield* Producer.make({
        brokers: target.brokers,
        clientId: "soak-producer",
        acks: "all",
        idempotent: true,
        requestTimeout: "10 seconds",
        retrySchedule: Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(8))),
      }).pipe(Scope.extend(scope))
      return { service, scope }
    })
    // A send that failed may still have been written; the Producer then takes a new producer id
    // before its next send (else kafkajs would hand the failed batch's sequence numbers to the next
    // one, which the broker would acknowledge unwritten), so one producer serves the whole run and
    // the ledger checks that every acknowledgement is true.
    const producer = yield* makeProducer
    yield* Effect.addFinalizer(() => Scope.close(producer.scope, Exit.void))
    const next = new Array<number>(target.partitions).fill(0)
    const produceOnce = Effect.gen(function* () {
      const p = prng.int(0, target.partitions - 1)
      const count = prng.int(1, 10)
      const first = next[p]
      next[p] += count
      const sent = yield* Effect.either(
        producer.service.send(target.topic, Array.from({ length: count }, (_, i) => ({ partition: p, value: String(first + i) }))),
      )
      if (sent._tag === "Right") {
        const base = Number(sent.right[0]?.baseOffset ?? -1)
        for (let i = 0; i < count; i++) ledger.ack(p, first + i, base + i)
      } else {
        log(`send to partition ${p} failed: ${sent.left.message}`)
      }
      yield* Effect.sleep(`${prng.int(5, 40)} millis`)
    })
    const producing = yield* Effect.fork(Effect.forever(produceOnce))

    const pollCommits = Effect.gen(function* () {
      const offsets = yield* Effect.either(target.committed)
      if (offsets._tag === "Right") for (const o of offsets.right) ledger.commit(o.partition, o.offset)
    })
    const polling = target.pollCommits ? yield* Effect.fork(Effect.forever(Effect.zipRight(pollCommits, Effect.sleep("1 second")))) : undefined

    const restarts: Array<Fiber.RuntimeFiber<void>> = []
    const later = (ms: number, action: Effect.Effect<void>) =>
      Effect.flatMap(Effect.fork(Effect.zipRight(Effect.sleep(`${ms} millis`), action)), (f) => Effect.sync(() => restarts.push(f)))

    const fault = Effect.gen(function* () {
      const kinds = [
        { name: "close", weight: 3 },
        { name: "delay", weight: 2 },
        { name: "errorAnswer", weight: 1 },
        { name: "deleteRecords", weight: 1 },
        { name: "memberKill", weight: 1 },
        { name: "memberJoin", weight: 1 },
        { name: "slowConsumer", weight: 1 },
        ...target.extraFaults.map((f) => ({ name: f.name, weight: f.weight })),
      ]
      const kind = prng.weighted(kinds).name
      switch (kind) {
        case "close": {
          const api = prng.pick(proxyApis)
          yield* target.proxy.closeNext(api, prng.int(1, 3))
          ledger.fault(`close:${api}`)
          return
        }
        case "delay": {
          const api = prng.pick(proxyApis)
          yield* target.proxy.delay(api, `${prng.int(100, 3000)} millis`, { count: prng.int(1, 5) })
          ledger.fault(`delay:${api}`)
          return
        }
        case "errorAnswer": {
          const [api, code, count] = prng.pick([
            ["Fetch", 6, prng.int(1, 3)],
            ["ListOffsets", 6, 1],
            ["Fetch", 1, 1],
          ] as const)
          yield* target.proxy.answerError(api, code, count)
          ledger.fault(`errorAnswer:${api}:${code}`)
          return
        }
        case "deleteRecords": {
          const p = prng.int(0, target.partitions - 1)
          const { logStart, end } = yield* target.logStartAndEnd(p)
          if (end <= logStart) return
          const cut = logStart + prng.int(1, end - logStart)
          yield* target.deleteRecords(p, cut)
          ledger.cut(p, cut)
          ledger.fault("deleteRecords")
          log(`partition ${p} cut below ${cut}`)
          return
        }
        case "memberKill": {
          const live = alive()
          if (live.length === 0) return
          killMember(prng.pick(live))
          ledger.fault("memberKill")
          yield* later(prng.int(500, 5000), Effect.sync(() => void startMember()))
          return
        }
        case "memberJoin": {
          if (alive().length >= 4) return
          startMember()
          ledger.fault("memberJoin")
          return
        }
        case "slowConsumer": {
          const live = alive()
          if (live.length === 0) return
          const m = prng.pick(live)
          m.slow = !m.slow
          m.child.kill(m.slow ? "SIGUSR1" : "SIGUSR2")
          ledger.fault("slowConsumer")
          return
        }
        default: {
          const extra = target.extraFaults.find((f) => f.name === kind)
          if (extra === undefined) return
          yield* extra.run
          ledger.fault(kind)
          log(kind)
        }
      }
    })

    for (let i = 0; i < 3; i++) startMember()
    // The fault schedule starts once the first members are in a generation (starting node
    // processes takes a while on a busy machine); the producer is writing meanwhile.
    const settleUntil = Date.now() + 90_000
    while (!members.every((m) => m.generation >= 0) && Date.now() < settleUntil) yield* Effect.sleep("200 millis")
    const until = Date.now() + options.minutes * 60_000
    while (Date.now() < until) {
      yield* Effect.sleep(`${prng.int(200, 1500)} millis`)
      const r = yield* Effect.either(fault)
      if (r._tag === "Left") log(`fault failed: ${String(r.left)}`)
    }

    // The end: faults healed, brokers up, the producer stopped, every member fast, one at least.
    yield* Fiber.interrupt(producing)
    for (const f of restarts) yield* Fiber.interrupt(f)
    yield* target.proxy.clear
    yield* Effect.either(target.heal)
    for (const m of alive()) if (m.slow) m.child.kill("SIGUSR2")
    if (alive().length === 0) startMember()
    // Up to 2 minutes, and no longer than 30 s without progress (a record that will never come).
    const drainUntil = Date.now() + 120_000
    let open = ledger.outstanding()
    let progressAt = Date.now()
    while (open > 0 && Date.now() < drainUntil && Date.now() - progressAt < 30_000) {
      yield* Effect.sleep("250 millis")
      const left = ledger.outstanding()
      if (left < open) progressAt = Date.now()
      open = left
    }
    if (ledger.outstanding() > 0) process.stderr.write(`soak: ${target.broker}: ${ledger.outstanding()} records still outstanding after the drain\n`)
    // Let the last chunks be committed, then stop the members cleanly.
    yield* Effect.sleep("2 seconds")
    const last = alive()
    for (const m of last) m.child.kill("SIGTERM")
    yield* Effect.promise(() =>
      Promise.race([Promise.all(last.map((m) => m.exited)), new Promise((resolve) => setTimeout(resolve, 20_000))]),
    )
    for (const m of last) {
      if (m.child.exitCode === null && m.child.signalCode === null) {
        process.stderr.write(`soak: ${target.broker}: ${m.name} did not close within 20 s of SIGTERM; killed\n`)
      }
      m.dead = true
      m.child.kill("SIGKILL")
    }
    if (polling !== undefined) yield* Fiber.interrupt(polling)
    yield* pollCommits
  })
