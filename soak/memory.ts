/**
 * The soak against the in-memory broker under `TestClock`: group members are fibers, each with its
 * own `Consumer` over the model and its own coordinator client (a crash cuts that client off, as
 * for a dead process, and the session expires); faults are the model's (`failNext` Network, Timeout
 * and error codes on every API, latencies, DeleteRecords, leader moves). Virtual time only: the
 * schedule and its outcome depend on the seed alone.
 */
import { Consumer, type Fetcher, GroupConsumer, GroupCoordinator, type GroupMembership, type OffsetLister, TopicPartition } from "@kafka-effect/core"
import { BrokerModel, InMemoryCoordinator, TestBroker } from "@kafka-effect/testkit"
import { Cause, Chunk, Effect, Exit, Fiber, Layer, Queue, Random, Scope, Stream, TestClock, TestContext } from "effect"
import type * as Ledger from "./Ledger.js"
import type * as Prng from "./Prng.js"
import { byPartition, logLayer, type RunOptions, type RunResult } from "./Soak.js"

const TOPIC = "soak"
const PARTITIONS = 4
const GROUP = "soak-group"
const STEP_MS = 250
/** Virtual time simulated per minute of `--minutes` (a minute of TestClock takes seconds). */
export const VIRTUAL_PER_MINUTE_MS = 10 * 60 * 1000

const generationOf = (s: GroupMembership.MemberState): number =>
  s._tag === "Stable" || s._tag === "Rebalancing" || s._tag === "Syncing" ? s.generationId : -1

const groupApis = ["FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat", "OffsetCommit", "OffsetFetch", "LeaveGroup"] as const
const allApis: ReadonlyArray<TestBroker.FaultApi> = ["Fetch", "ListOffsets", "Metadata", ...groupApis]

interface Member {
  readonly name: string
  readonly scope: Scope.CloseableScope
  fiber: Fiber.RuntimeFiber<void, unknown> | undefined
  slowMs: number
  dead: boolean
}

export const run = (options: RunOptions, ledger: Ledger.Ledger, prng: Prng.Prng): Promise<RunResult> => {
  const started = Date.now()
  const virtualMs = Math.max(30_000, Math.round(options.minutes * VIRTUAL_PER_MINUTE_MS))
  const program = Effect.gen(function* () {
    const broker = yield* TestBroker.TestBroker
    const model = yield* BrokerModel.BrokerModel
    const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
    const tps = Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(TOPIC, p))
    // Every partition has a committed offset from the start, so a member that starts below a cut
    // goes through recovery (an OffsetReset event) rather than autoOffsetReset.
    yield* model.commitOffsets(GROUP, tps.map((tp) => ({ ...tp, offset: 0n })))

    const members: Array<Member> = []
    let memberCount = 0

    const startMember = Effect.gen(function* () {
      const name = `m${++memberCount}`
      const scope = yield* Scope.make()
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "500 millis" } }).pipe(Scope.extend(scope), Effect.orDie)
      const events = yield* consumer.subscribeEvents.pipe(Scope.extend(scope))
      yield* Queue.take(events).pipe(
        Effect.tap((e) =>
          Effect.sync(() =>
            ledger.reset({
              member: name,
              partition: e.partition,
              requested: Number(e.requestedOffset),
              newOffset: Number(e.newOffset),
              skipped: Number(e.skipped),
            }),
          ),
        ),
        Effect.forever,
        Effect.forkIn(scope),
      )
      const sub = yield* GroupConsumer.subscribe(consumer, [TOPIC], {
        groupId: GROUP,
        sessionTimeout: "10 seconds",
        heartbeatInterval: "3 seconds",
        rebalanceTimeout: "20 seconds",
        autoCommitInterval: "2 seconds",
      }).pipe(Scope.extend(scope), Effect.provideService(GroupCoordinator.GroupCoordinator, coordinator.client(name)))
      const member: Member = { name, scope, fiber: undefined, slowMs: 0, dead: false }
      const fiber = yield* sub.chunks.pipe(
        Stream.runForEach((chunk) =>
          Effect.gen(function* () {
            const generation = generationOf(yield* sub.membership.state)
            for (const [p, list] of byPartition(chunk)) ledger.deliver(name, generation, p, list)
            if (member.slowMs > 0) yield* Effect.sleep(member.slowMs)
            yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
          }),
        ),
        Effect.forkDaemon,
      )
      member.fiber = fiber
      members.push(member)
      // A stream that ends with an error is a crash of the consumer: the soak records it and
      // treats the member as dead (cut off, restarted later).
      yield* Fiber.await(fiber).pipe(
        Effect.flatMap((exit) =>
          Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) && !member.dead
            ? Effect.gen(function* () {
                ledger.crash(name, Cause.pretty(exit.cause).split("\n")[0] ?? "")
                yield* kill(member)
              })
            : Effect.void,
        ),
        Effect.forkDaemon,
      )
      ledger.join()
      return member
    })

    const kill = (m: Member) =>
      Effect.gen(function* () {
        if (m.dead) return
        m.dead = true
        yield* coordinator.disconnect(m.name)
        if (m.fiber !== undefined) yield* Fiber.interrupt(m.fiber)
        // Its finalizers' commit and LeaveGroup fail (cut off); they run on the TestClock in the background.
        yield* Effect.forkDaemon(Scope.close(m.scope, Exit.void))
      })

    const stop = (m: Member) =>
      Effect.gen(function* () {
        if (m.dead) return
        m.dead = true
        if (m.fiber !== undefined) yield* Fiber.interrupt(m.fiber)
        yield* Effect.forkDaemon(Scope.close(m.scope, Exit.void))
      })

    const context = yield* Effect.context<Fetcher.Fetcher | OffsetLister.OffsetLister | GroupCoordinator.TopicMetadata>()
    const restart = Effect.asVoid(startMember).pipe(Effect.orDie, Effect.provide(context))

    const alive = () => members.filter((m) => !m.dead)

    // Actions due at a later virtual time (heal a latency, restart a killed member, end a slow spell).
    const due: Array<{ at: number; action: Effect.Effect<void> }> = []
    const later = (inMs: number, action: Effect.Effect<void>) => due.push({ at: now + inMs, action })

    const next = new Array<number>(PARTITIONS).fill(0)
    const produce = Effect.gen(function* () {
      const p = prng.int(0, PARTITIONS - 1)
      const count = prng.int(1, 5)
      const base = yield* broker.produce(
        TOPIC,
        p,
        Array.from({ length: count }, (_, i) => ({ value: String(next[p] + i) })),
      )
      for (let i = 0; i < count; i++) ledger.ack(p, next[p] + i, Number(base) + i)
      next[p] += count
    })

    const fault = Effect.gen(function* () {
      const kind = prng.pick([
        "network",
        "network",
        "timeout",
        "errorCode",
        "latency",
        "deleteRecords",
        "leaderMove",
        "memberKill",
        "memberJoin",
        "slowConsumer",
      ] as const)
      switch (kind) {
        case "network": {
          const api = prng.pick(allApis)
          yield* broker.failNext(api, prng.int(1, 3), { _tag: "Network" })
          ledger.fault(`network:${api}`)
          return
        }
        case "timeout": {
          const api = prng.pick(allApis)
          yield* broker.failNext(api, 1, { _tag: "Timeout" })
          ledger.fault(`timeout:${api}`)
          return
        }
        case "errorCode": {
          // NOT_LEADER_OR_FOLLOWER on a fetch or list, or one OFFSET_OUT_OF_RANGE inside the range.
          const [api, code, count] = prng.pick([
            ["Fetch", 6, prng.int(1, 3)],
            ["ListOffsets", 6, 1],
            ["Fetch", 1, 1],
          ] as const)
          yield* broker.failNext(api, count, { _tag: "ErrorCode", code })
          ledger.fault(`errorCode:${api}:${code}`)
          return
        }
        case "latency": {
          const api = prng.pick(allApis)
          yield* broker.setLatency(api, `${prng.int(100, 3000)} millis`)
          later(prng.int(1000, 10_000), broker.setLatency(api, 0))
          ledger.fault(`latency:${api}`)
          return
        }
        case "deleteRecords": {
          const tp = prng.pick(tps)
          const s = yield* broker.partitionState(tp)
          const span = Number(s.highWatermark - s.logStartOffset)
          if (span <= 0) return
          const cut = Number(s.logStartOffset) + prng.int(1, span)
          yield* broker.deleteRecords(tp, BigInt(cut))
          ledger.cut(tp.partition, cut)
          ledger.fault("deleteRecords")
          return
        }
        case "leaderMove": {
          yield* Effect.orDie(model.moveLeader(prng.pick(tps), prng.pick(model.brokers).nodeId))
          ledger.fault("leaderMove")
          return
        }
        case "memberKill": {
          const live = alive()
          if (live.length === 0) return
          yield* kill(prng.pick(live))
          ledger.kill()
          ledger.fault("memberKill")
          later(prng.int(500, 15_000), restart)
          return
        }
        case "memberJoin": {
          if (alive().length >= 4) return
          yield* startMember
          ledger.fault("memberJoin")
          return
        }
        case "slowConsumer": {
          const live = alive()
          if (live.length === 0) return
          const m = prng.pick(live)
          m.slowMs = prng.int(200, 3000)
          later(prng.int(2000, 20_000), Effect.sync(() => { m.slowMs = 0 }))
          ledger.fault("slowConsumer")
          return
        }
      }
    })

    let now = 0
    const tick = Effect.gen(function* () {
      yield* TestClock.adjust(`${STEP_MS} millis`)
      now += STEP_MS
      if (options.verbose && now % 60_000 === 0) {
        process.stderr.write(`soak: memory: ${now / 1000}s virtual, ${ledger.acknowledged()} acknowledged, ${ledger.outstanding()} outstanding, ${alive().length} members\n`)
      }
      const ready = due.filter((d) => d.at <= now)
      for (const d of ready) {
        due.splice(due.indexOf(d), 1)
        yield* d.action
      }
    })

    for (let i = 0; i < 3; i++) yield* startMember
    while (now < virtualMs) {
      if (prng.chance(0.8)) yield* produce
      if (prng.chance(0.06)) yield* fault
      yield* tick
    }

    // The end: faults healed, one member at least, the producer stopped; wait until every
    // acknowledged record is delivered or skipped (bounded), then stop everyone cleanly.
    yield* model.clearFaults
    for (const d of due.splice(0)) yield* d.action
    for (const m of members) m.slowMs = 0
    if (alive().length === 0) yield* startMember
    // Up to 10 virtual minutes, and no longer than 2 without progress (a record that will never come).
    const drainUntil = now + 10 * 60_000
    let open = ledger.outstanding()
    let progressAt = now
    while (open > 0 && now < drainUntil && now - progressAt < 2 * 60_000) {
      yield* tick
      const left = ledger.outstanding()
      if (left < open) progressAt = now
      open = left
    }
    // Five virtual seconds for the last auto-commits (every 2 s), five for the closes (commit, LeaveGroup).
    for (let i = 0; i < 20; i++) yield* tick
    for (const m of alive()) yield* stop(m)
    for (let i = 0; i < 20; i++) yield* tick
    for (const entry of yield* coordinator.commitLog(GROUP)) ledger.commit(entry.partition, Number(entry.offset))
  })

  const layer = Layer.provideMerge(InMemoryCoordinator.layerFromModel(), TestBroker.layer({ brokers: 3, topics: { [TOPIC]: PARTITIONS } }))
  return Effect.runPromise(
    program.pipe(
      Effect.provide(layer),
      Effect.withRandom(Random.make(prng.seed)),
      Effect.provide(TestContext.TestContext),
      Effect.provide(logLayer(options.verbose)),
      Effect.scoped,
    ),
  ).then(() => ({ seconds: (Date.now() - started) / 1000 }))
}
