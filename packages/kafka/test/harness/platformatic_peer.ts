/**
 * @platformatic/kafka as a peer, the same cases as `aiokafka_peer.py`, run on a Node its engines
 * field accepts (see `Platformatic.ts`). One consumer per case (a group of one, MANUAL mode: the
 * position given per partition, no commits), `fallbackMode` = the setting (its reset on out of
 * range). When it has settled (its position moved off the given one and reached the end of the log)
 * one marker record is produced with its Producer, and the case ends when the marker arrives, when
 * the stream fails, or after the deadline.
 *
 * Argument: JSON {"bootstrap", "deadline", "cases": [{"id", "topic", "position", "end", "setting"}]}.
 * Output, one JSON line per case: id, client, setting, position, offsets, resetTo, marker,
 * markerDelivered, error {type, message} or null, timedOut, logs (what reached the console or
 * process warnings during the case).
 */
import { Consumer, MessagesStreamModes, Producer } from "@platformatic/kafka"

interface Case {
  readonly id: string
  readonly topic: string
  readonly position: number
  readonly end: number
  readonly setting: "earliest" | "latest" | "fail"
}

const spec: { readonly bootstrap: string; readonly deadline: number; readonly cases: ReadonlyArray<Case> } = JSON.parse(
  process.argv[2] ?? "{}",
)

const logs: Array<string> = []
for (const level of ["log", "info", "warn", "error"] as const) {
  console[level] = (...args: ReadonlyArray<unknown>) => {
    logs.push(`${level} ${args.map(String).join(" ")}`)
  }
}
process.on("warning", (w) => logs.push(`warning ${w.name} ${w.message}`))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const runCase = async (c: Case) => {
  logs.length = 0
  const offsets: Array<number> = []
  let resetTo: number | null = null
  let marker: number | null = null
  let error: { type: string; message: string } | null = null
  let timedOut = false
  const consumer = new Consumer({
    groupId: `${c.topic}-group`,
    clientId: `platformatic-peer-${c.id}`,
    bootstrapBrokers: [spec.bootstrap],
    maxWaitTime: 100,
  })
  const producer = new Producer({ clientId: `platformatic-peer-${c.id}-producer`, bootstrapBrokers: [spec.bootstrap], acks: -1 })
  try {
    const stream = await consumer.consume({
      topics: [c.topic],
      mode: MessagesStreamModes.MANUAL,
      offsets: [{ topic: c.topic, partition: 0, offset: BigInt(c.position) }],
      fallbackMode: c.setting,
      autocommit: false,
    })
    stream.on("data", (message) => {
      offsets.push(Number(message.offset))
    })
    stream.on("error", (e: Error) => {
      // a ResponseError carries the protocol errors it collected
      const inner = "errors" in e && Array.isArray(e.errors) ? e.errors.map((x: unknown) => (x instanceof Error ? x.message : String(x))) : []
      error = { type: e.constructor.name, message: [e.message, ...inner].join(" / ") }
    })
    const ends = Date.now() + spec.deadline * 1000
    for (;;) {
      if (error !== null) break
      if (Date.now() >= ends) {
        timedOut = true
        break
      }
      await sleep(100)
      if (marker !== null) {
        if (offsets.includes(marker)) break
        continue
      }
      const position = stream.offsetsToFetch.get(`${c.topic}:0`)
      if (position === undefined) continue
      if (Number(position) !== c.position && resetTo === null) resetTo = offsets[0] ?? Number(position)
      if (resetTo !== null && Number(position) === c.end) {
        const sent = await producer.send({ messages: [{ topic: c.topic, partition: 0, value: Buffer.from("marker") }] })
        marker = Number(sent.offsets?.[0]?.offset)
      }
    }
    await stream.close()
  } catch (e) {
    if (error === null) error = { type: e instanceof Error ? e.constructor.name : "thrown", message: String(e) }
  } finally {
    await producer.close()
    await consumer.close(true)
  }
  return {
    id: c.id,
    client: "platformatic",
    setting: c.setting,
    position: c.position,
    offsets,
    resetTo,
    marker,
    markerDelivered: marker !== null && offsets.includes(marker),
    error,
    timedOut,
    logs: [...logs],
  }
}

for (const c of spec.cases) {
  const out = await runCase(c)
  process.stdout.write(`${JSON.stringify(out)}\n`)
}
process.exit(0)
