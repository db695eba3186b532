/** The data sets: what is produced, into how many partitions on how many brokers, and how it is consumed. */
import { Kafka, logLevel } from "kafkajs"
import type { BrokerHandle } from "./brokers.js"

export type DatasetName = "value100" | "value1k" | "keyHeader" | "idleBrokers" | "rtt2ms" | "slowConsumer"
export const datasetNames: ReadonlyArray<DatasetName> = ["value100", "value1k", "keyHeader", "idleBrokers", "rtt2ms", "slowConsumer"]

export interface Dataset {
  readonly name: DatasetName
  readonly records: number
  /** Partitions holding data. */
  readonly partitions: number
  readonly valueBytes: number
  readonly keyBytes: number
  readonly header: boolean
  readonly brokers: 1 | 3
  /** idleBrokers: the data sits on the first broker; the topic also has twice as many empty partitions on the other two. */
  readonly idlePartitions: boolean
  readonly roundTripMs: number
  readonly slow: boolean
  readonly what: string
}

const base = { keyBytes: 0, header: false, brokers: 1, idlePartitions: false, roundTripMs: 0, slow: false } as const

/** Sizes for the full run; `scale` shrinks the record counts (quick). */
export const datasets = (scale: number): Record<DatasetName, Dataset> => {
  const n = (full: number, partitions: number) => Math.max(partitions * 50, Math.round((full * scale) / partitions) * partitions)
  return {
    value100: { ...base, name: "value100", records: n(400_000, 16), partitions: 16, valueBytes: 100, what: "100-byte values, no key" },
    value1k: { ...base, name: "value1k", records: n(48_000, 16), partitions: 16, valueBytes: 1024, what: "1 KiB values, no key" },
    keyHeader: {
      ...base,
      name: "keyHeader",
      records: n(300_000, 16),
      partitions: 16,
      valueBytes: 100,
      keyBytes: 16,
      header: true,
      what: "100-byte values, a 16-byte key, one header (5-byte name, 16-byte value)",
    },
    idleBrokers: {
      ...base,
      name: "idleBrokers",
      records: n(200_000, 8),
      partitions: 8,
      valueBytes: 100,
      brokers: 3,
      idlePartitions: true,
      what: "3 brokers; 8 partitions with data led by the first, 16 empty ones led by the other two; compared with a topic of only the 8",
    },
    rtt2ms: { ...base, name: "rtt2ms", records: n(200_000, 16), partitions: 16, valueBytes: 100, roundTripMs: 2, what: "100-byte values, 2 ms added to every answer" },
    slowConsumer: {
      ...base,
      name: "slowConsumer",
      records: n(200_000, 16),
      partitions: 16,
      valueBytes: 100,
      slow: true,
      what: "100-byte values, 1 ms of work per batch (per 1000 records for per-record peers)",
    },
  }
}

/** Key, value and header bytes a record carries (what MB/s counts). */
export const payloadBytes = (d: Dataset): number => d.valueBytes + d.keyBytes + (d.header ? 5 + 16 : 0)

/** librdkafka's mock keeps 5 MiB per partition and silently drops older data past it. */
export const MOCK_PARTITION_CAP = 5 * 1024 * 1024
/** Log bytes per partition: record overhead about 10 bytes, a batch header of 61 per 1000 records. */
export const bytesPerPartition = (d: Dataset): number => {
  const perPartition = Math.ceil(d.records / d.partitions)
  return perPartition * (payloadBytes(d) + 10) + Math.ceil(perPartition / 1000) * 61
}

export interface Produced {
  readonly topic: string
  /** Partitions of the topic (the peers consume all of them). */
  readonly partitions: number
  readonly records: number
  readonly offsetSum: number
  readonly weightedSum: number
}

/**
 * Creates the topic and fills it with kafkajs's producer. `layout`: "plain" (every partition has
 * data, leaders as the broker places them), "hot" (every partition led by the first node), "mixed"
 * (three times the partitions, round-robin over the nodes, data only in those of the first node).
 */
export const produce = async (broker: BrokerHandle, d: Dataset, layout: "plain" | "hot" | "mixed", topic: string): Promise<Produced> => {
  const nodes = broker.nodeIds
  const total = layout === "mixed" ? d.partitions * nodes.length : d.partitions
  const leaders =
    layout === "plain" ? undefined : Array.from({ length: total }, (_, p) => (layout === "hot" ? nodes[0]! : nodes[p % nodes.length]!))
  const hot = Array.from({ length: total }, (_, p) => p).filter((p) => layout !== "mixed" || p % nodes.length === 0)
  await broker.createTopic(topic, total, leaders)
  const kafka = new Kafka({ brokers: broker.bootstrap.split(","), clientId: "bench-producer", logLevel: logLevel.NOTHING })
  const producer = kafka.producer()
  await producer.connect()
  const value = Buffer.alloc(d.valueBytes, 120)
  const headerValue = Buffer.alloc(16, 104)
  const perPartition = Math.ceil(d.records / hot.length)
  // A produce batch stays under the broker's 1 MB message.max.bytes.
  const perSend = Math.max(1, Math.min(5000, Math.floor(900_000 / (payloadBytes(d) + 20))))
  let offsetSum = 0
  let weightedSum = 0
  let records = 0
  for (const [i, p] of hot.entries()) {
    const count = Math.min(perPartition, d.records - i * perPartition)
    for (let from = 0; from < count; from += perSend) {
      const n = Math.min(perSend, count - from)
      await producer.send({
        topic,
        acks: 1,
        messages: Array.from({ length: n }, (_, j) => ({
          partition: p,
          key: d.keyBytes > 0 ? Buffer.from(String(from + j).padStart(d.keyBytes, "k")) : null,
          value,
          ...(d.header ? { headers: { trace: headerValue } } : {}),
        })),
      })
      for (let j = 0; j < n; j++) {
        const o = from + j
        offsetSum += o
        weightedSum += (p + 1) * (o + 1)
      }
      records += n
    }
  }
  await producer.disconnect()
  return { topic, partitions: total, records, offsetSum, weightedSum }
}
