/** The peer: kafkajs 2.2.4's own consumer (a group of one, eachBatch, no commits). */
import { Kafka, logLevel } from "kafkajs"
import { args, report, rssMB } from "./common.js"

const loadedRssMB = rssMB()

const a = args()
const kafka = new Kafka({ brokers: [...a.bootstrap], clientId: "bench-kafkajs", logLevel: logLevel.NOTHING })
const consumer = kafka.consumer({
  groupId: `bench-kafkajs-${process.pid}-${Date.now()}`,
  maxBytesPerPartition: 1 << 20,
  maxWaitTimeInMs: 100,
})
const started = performance.now()
let first = 0
let n = 0
let sum = 0n
await consumer.connect()
await consumer.subscribe({ topic: a.topic, fromBeginning: true })
await new Promise<void>((resolve) => {
  void consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (n === 0 && batch.messages.length > 0) first = performance.now()
      for (const m of batch.messages) sum += BigInt(m.offset)
      n += batch.messages.length
      if (n >= a.records) resolve()
    },
  })
})
const done = performance.now()
report({
  firstRecordMs: first - started,
  steadyMs: done - first,
  records: n,
  offsetSum: sum.toString(),
  heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
  loadedRssMB,
})
await consumer.disconnect()
