/**
 * What every API module shares: the context a request is answered in, what the connection does
 * with the answer, and the shape of a module (`Api`: its key and how it answers a request).
 */
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import { Effect, type Ref } from "effect"
import type * as BrokerModel from "../../BrokerModel.js"
import type * as ProducerState from "../ProducerState.js"
import type * as Sasl from "../Sasl.js"
import type * as WireCoordinator from "../WireCoordinator.js"
import type { Reader } from "../protocol/Codec.js"
import { Writer } from "../protocol/Codec.js"
import { encodeResponseHeader, type RequestHeader } from "../protocol/Header.js"

/** What the connection does with a request. */
export type Outcome =
  /** The answer's bytes in order (stored batches of a Fetch answer are passed on as they are, not copied). */
  | { readonly _tag: "Reply"; readonly frame: ReadonlyArray<Uint8Array> }
  /** A refusal after which the connection closes (failed SASL authentication, as Kafka). */
  | { readonly _tag: "ReplyAndClose"; readonly frame: ReadonlyArray<Uint8Array>; readonly reason: string }
  /** Produce with acks=0: no answer. */
  | { readonly _tag: "NoReply" }
  /** An injected Network fault, or a request that cannot be parsed: the connection closes. */
  | { readonly _tag: "Close"; readonly reason: string }
  /**
   * An injected Timeout: this request gets no answer (the client's request timeout fires); later
   * requests on the connection are answered (clients match answers by correlation id).
   */
  | { readonly _tag: "Unanswered" }

/** What a listener answers with: the same for every connection. */
export interface ListenerContext {
  readonly model: BrokerModel.Service
  readonly coordinator: WireCoordinator.Service
  readonly producers: ProducerState.ProducerState
  readonly nodeId: number
  readonly clientHost: string
  /** Metadata creates unknown topics (auto.create.topics.enable). */
  readonly autoCreateTopics: boolean
  /** Partitions of auto-created topics and of CreateTopics with -1 (num.partitions). */
  readonly defaultPartitions: number
  /** Largest batch a Produce may carry (message.max.bytes); larger: MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number
  /** Users and mechanisms when the listener requires SASL. */
  readonly sasl: Sasl.Service | undefined
}

/** A request's context: its listener's and its connection's. */
export interface Context extends ListenerContext {
  /** Where the connection is in SASL authentication (authenticated from the start without SASL). */
  readonly session: Ref.Ref<Sasl.State>
}

export type RequestFault = BrokerModel.RequestFault

/** One API: its key, and its answer to a request whose header has been read (the body follows in `r`). */
export interface Api {
  readonly key: number
  /** Reads the body synchronously (throws `Truncated`/`Malformed` on bad input), then answers. */
  readonly handle: (ctx: Context, header: RequestHeader, r: Reader) => Effect.Effect<Outcome, RequestFault>
}

/** A response frame's bytes: size, header, then the body `value` as `encode` writes it at the request's version. */
export const frame = <A>(
  h: Pick<RequestHeader, "apiKey" | "apiVersion" | "correlationId">,
  encode: (w: Writer, v: number, value: A) => void,
  value: A,
): ReadonlyArray<Uint8Array> => {
  const w = new Writer(256)
  const sizeAt = w.reserve(4)
  encodeResponseHeader(w, h.apiKey, h.apiVersion, h.correlationId)
  encode(w, h.apiVersion, value)
  w.setInt32At(sizeAt, w.totalLength - 4)
  return w.chunks()
}

/** The answer `frame` builds. */
export const reply = <A>(
  h: Pick<RequestHeader, "apiKey" | "apiVersion" | "correlationId">,
  encode: (w: Writer, v: number, value: A) => void,
  value: A,
): Outcome => ({ _tag: "Reply", frame: frame(h, encode, value) })

/** The coordinator of a group: a stable hash of its id over the brokers, as Kafka's __consumer_offsets partitioning. */
export const coordinatorFor = (groupId: string, brokers: number): number => {
  let hash = 0
  for (let i = 0; i < groupId.length; i++) hash = (Math.imul(31, hash) + groupId.charCodeAt(i)) | 0
  return (hash & 0x7fffffff) % brokers
}

/** Whether this broker coordinates the group. */
export const coordinates = (ctx: Context, groupId: string): boolean => coordinatorFor(groupId, ctx.model.brokers.length) === ctx.nodeId

export const validTopicName = (name: string): boolean => name.length > 0 && name.length <= 249 && /^[a-zA-Z0-9._-]+$/.test(name)

/** An API from its request decoder and its answer to a decoded request. */
export const define = <R>(
  key: number,
  decode: (r: Reader, v: number) => R,
  answer: (ctx: Context, h: RequestHeader, request: R) => Effect.Effect<Outcome, RequestFault>,
): Api => ({ key, handle: (ctx, h, r) => answer(ctx, h, decode(r, h.apiVersion)) })

/**
 * A JoinGroup/SyncGroup/Heartbeat/LeaveGroup request through the model (request log, faults,
 * latency): `answer` gets the code to answer instead of asking the coordinator (an injected code,
 * NOT_COORDINATOR on the wrong broker), or 0.
 */
export const groupRequest = (
  ctx: Context,
  api: "JoinGroup" | "SyncGroup" | "Heartbeat" | "LeaveGroup",
  groupId: string,
  answer: (code: number) => Effect.Effect<Outcome>,
): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(api, [], (sc) => answer(sc.requestCode ?? (coordinates(ctx, groupId) ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR)), {
    brokerId: ctx.nodeId,
  })

/**
 * A write on each partition's leader (Produce, DeleteRecords) through the model (request log,
 * faults, latency): a partition gets its injected code, the model's code for an unknown partition,
 * or NOT_LEADER_OR_FOLLOWER when another broker leads it; else `write` answers it, with the
 * partition's answer or an error code. `refused` is a partition's answer to an error code; the
 * errors go to the request log, and `answer` makes the outcome from the topics' answers.
 */
export const onLeaders = <P, R extends object>(
  ctx: Context,
  api: "Produce" | "DeleteRecords",
  topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<P> }>,
  partitionOf: (p: P) => number,
  refused: (p: P, errorCode: number) => R,
  write: (tp: TopicPartition.TopicPartition, p: P) => Effect.Effect<R | number>,
  answer: (topics: Array<{ readonly name: string; readonly partitions: Array<R> }>) => Outcome,
): Effect.Effect<Outcome, RequestFault> => {
  const tps = topics.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, partitionOf(p))))
  return ctx.model.serve(
    api,
    tps,
    (sc) =>
      Effect.gen(function* () {
        const errors: Array<BrokerModel.PartitionErrorCode> = []
        const answered = yield* Effect.forEach(topics, (t) =>
          Effect.map(
            Effect.forEach(t.partitions, (p) =>
              Effect.gen(function* () {
                const tp = TopicPartition.make(t.name, partitionOf(p))
                const fail = (code: number): R => {
                  errors.push({ ...tp, code })
                  return refused(p, code)
                }
                const injected = sc.injectedCode(tp)
                if (injected !== undefined) return fail(injected)
                const state = yield* Effect.either(ctx.model.partitionOffsets(tp))
                if (state._tag === "Left") return fail(state.left.code)
                if (state.right.leader !== ctx.nodeId) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER)
                const result = yield* write(tp, p)
                return typeof result === "number" ? fail(result) : result
              }),
            ),
            (partitions) => ({ name: t.name, partitions }),
          ),
        )
        sc.reportErrors(errors)
        return answer(answered)
      }),
    { brokerId: ctx.nodeId },
  )
}
