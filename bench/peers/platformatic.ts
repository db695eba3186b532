/** @platformatic/kafka's consumer: a group of one over all partitions from offset 0, no commits; messages as stream events. */
import { Consumer, MessagesStreamModes } from "@platformatic/kafka"
import { report, spec, Tally } from "./common.js"

const s = spec()
const consumer = new Consumer({
  groupId: `bench-platformatic-${process.pid}-${Date.now()}`,
  clientId: "bench-platformatic",
  bootstrapBrokers: [...s.bootstrap],
  maxWaitTime: s.maxWaitMs,
  maxBytesPerPartition: s.maxPartitionBytes,
})
const tally = new Tally(s.records, s.slow)
// Explicit offsets (every data set topic starts at 0): EARLIEST sends ListOffsets v5, which
// librdkafka 2.0.2's mock answers UNKNOWN_SERVER_ERROR.
tally.ready()
const stream = await consumer.consume({
  topics: [s.topic],
  mode: MessagesStreamModes.MANUAL,
  offsets: Array.from({ length: s.partitions }, (_, partition) => ({ topic: s.topic, partition, offset: 0n })),
  autocommit: false,
})
const result = await new Promise<ReturnType<Tally["finish"]>>((resolve, reject) => {
  let resolved = false
  stream.on("error", reject)
  stream.on("data", (message) => {
    if (resolved) return
    tally.record(message.partition, Number(message.offset))
    if (tally.done) {
      resolved = true
      resolve(tally.finish())
    }
  })
})
report(result)
process.exit(0)
