/** kafkajs 2.2.4's own consumer: a group of one over all partitions, no commits; `eachBatch` or `eachMessage` (argv[3]). */
import { Kafka, logLevel } from "kafkajs"
import { report, spec, Tally } from "./common.js"

const s = spec()
const mode = process.argv[3] === "eachMessage" ? "eachMessage" : "eachBatch"
const kafka = new Kafka({ brokers: [...s.bootstrap], clientId: "bench-kafkajs", logLevel: logLevel.NOTHING })
const consumer = kafka.consumer({
  groupId: `bench-kafkajs-${process.pid}-${Date.now()}`,
  maxBytesPerPartition: s.maxPartitionBytes,
  maxWaitTimeInMs: s.maxWaitMs,
})
const tally = new Tally(s.records, s.slow)
await consumer.connect()
await consumer.subscribe({ topic: s.topic, fromBeginning: true })
tally.ready()
const result = await new Promise<ReturnType<Tally["finish"]>>((resolve) => {
  let resolved = false
  const check = () => {
    if (!resolved && tally.done) {
      resolved = true
      resolve(tally.finish())
    }
  }
  void consumer.run(
    mode === "eachBatch"
      ? {
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (resolved) return
            const partition = batch.partition
            for (const m of batch.messages) tally.batchRecord(partition, Number(m.offset))
            tally.batchDone()
            check()
          },
        }
      : {
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (resolved) return
            tally.record(partition, Number(message.offset))
            check()
          },
        },
  )
})
report(result)
await consumer.disconnect()
process.exit(0)
