/**
 * The typed boundary to kafkajs's group requests (an extension of `../internal/kafkajs.ts`, kept
 * next to the group code so the two files can be merged without conflict). kafkajs 2.2.4 is frozen.
 * These broker methods run the response's `parse`, which throws a KafkaJSProtocolError for an error
 * code (for OffsetFetch and OffsetCommit: the first partition's); `errors.classify` reads it.
 */
import type * as K from "../internal/kafkajs.js"

export interface CoordinatorMetadata {
  readonly coordinator: { readonly nodeId: number; readonly host: string; readonly port: number }
}

export interface JoinGroupAnswer {
  readonly generationId: number
  readonly groupProtocol: string
  readonly leaderId: string
  readonly memberId: string
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly memberMetadata: Buffer }>
}

export interface OffsetFetchAnswer {
  readonly responses: ReadonlyArray<{
    readonly topic: string
    readonly partitions: ReadonlyArray<{
      readonly partition: number
      /** "-1" when the group has no committed offset. */
      readonly offset: string
      readonly metadata: string | null
      readonly errorCode: number
    }>
  }>
}

export interface GroupBroker {
  readonly nodeId: number | null
  joinGroup(args: {
    readonly groupId: string
    readonly sessionTimeout: number
    readonly rebalanceTimeout: number
    readonly memberId: string
    readonly protocolType: string
    readonly groupProtocols: ReadonlyArray<{ readonly name: string; readonly metadata: Buffer }>
  }): Promise<JoinGroupAnswer>
  syncGroup(args: {
    readonly groupId: string
    readonly generationId: number
    readonly memberId: string
    readonly groupAssignment: ReadonlyArray<{ readonly memberId: string; readonly memberAssignment: Buffer }>
  }): Promise<{ readonly memberAssignment: Buffer }>
  heartbeat(args: { readonly groupId: string; readonly groupGenerationId: number; readonly memberId: string }): Promise<unknown>
  leaveGroup(args: { readonly groupId: string; readonly memberId: string }): Promise<unknown>
  offsetFetch(args: {
    readonly groupId: string
    readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<{ readonly partition: number }> }>
  }): Promise<OffsetFetchAnswer>
  offsetCommit(args: {
    readonly groupId: string
    readonly groupGenerationId: number
    readonly memberId: string
    readonly topics: ReadonlyArray<{
      readonly topic: string
      readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string; readonly metadata?: string | null }>
    }>
  }): Promise<unknown>
}

export interface GroupCluster {
  findGroupCoordinatorMetadata(args: { readonly groupId: string; readonly coordinatorType: 0 }): Promise<CoordinatorMetadata>
}

/** The same kafkajs objects, seen with their group methods. */
export const groupBroker = (broker: K.Broker): GroupBroker => broker as unknown as GroupBroker
export const groupCluster = (cluster: K.Cluster): GroupCluster => cluster as unknown as GroupCluster
