/**
 * Injected faults and latencies, per API. A rule fails the next `remaining` requests of its API
 * (those touching one of `partitions`, when given).
 */
import { TopicPartition } from "@kafka-effect/core"
import type { Duration } from "effect"
import type { Fault } from "../TestBroker.js"

interface Rule {
  readonly fault: Fault
  remaining: number
  readonly partitions: ReadonlySet<string> | undefined
}

/** What a request gets from the injected faults. */
export type Injection =
  | { readonly _tag: "None" }
  | { readonly _tag: "Fail"; readonly fault: Fault }
  | {
      readonly _tag: "Codes"
      /** Code for every partition of the request (and for the request itself when it has none). */
      readonly all: number | undefined
      /** Codes for single partitions, by `TopicPartition.key`. */
      readonly byPartition: ReadonlyMap<string, number>
    }

const none: Injection = { _tag: "None" }

export class Faults {
  private readonly rules = new Map<string, Array<Rule>>()
  readonly latency = new Map<string, Duration.Duration>()

  add(api: string, count: number, fault: Fault, partitions?: ReadonlyArray<TopicPartition.TopicPartition>): void {
    if (!(count > 0)) return
    const list = this.rules.get(api) ?? []
    list.push({
      fault,
      remaining: count,
      partitions: partitions === undefined ? undefined : new Set(partitions.map(TopicPartition.key)),
    })
    this.rules.set(api, list)
  }

  clear(): void {
    this.rules.clear()
    this.latency.clear()
  }

  /**
   * Consumes the rules that match a request. A Network/Timeout rule fails the whole request (only
   * that rule is consumed); otherwise every matching ErrorCode rule applies, the oldest winning per partition.
   */
  take(api: string, partitionKeys: ReadonlyArray<string>): Injection {
    const list = this.rules.get(api)
    if (list === undefined || list.length === 0) return none
    const matching: Array<Rule> = []
    for (const rule of list) {
      if (rule.partitions === undefined || partitionKeys.some((k) => rule.partitions!.has(k))) matching.push(rule)
    }
    if (matching.length === 0) return none
    const failing = matching.find((r) => r.fault._tag !== "ErrorCode")
    const consumed = failing !== undefined ? [failing] : matching
    for (const rule of consumed) rule.remaining -= 1
    this.rules.set(
      api,
      list.filter((r) => r.remaining > 0),
    )
    if (failing !== undefined) return { _tag: "Fail", fault: failing.fault }
    let all: number | undefined
    const byPartition = new Map<string, number>()
    for (const rule of matching) {
      if (rule.fault._tag !== "ErrorCode") continue
      if (rule.partitions === undefined) {
        all ??= rule.fault.code
      } else {
        for (const k of partitionKeys) if (rule.partitions.has(k) && !byPartition.has(k)) byPartition.set(k, rule.fault.code)
      }
    }
    return { _tag: "Codes", all, byPartition }
  }
}

/** The injected code for one partition, if any. */
export const injectedCode = (injection: Injection, key: string): number | undefined =>
  injection._tag === "Codes" ? (injection.byPartition.get(key) ?? injection.all) : undefined
