"""aiokafka as a peer: one consumer per case on a prepared topic, printing what it did as JSON lines.

Argument: a JSON object {"bootstrap": "host:port", "cases": [{"id", "topic", "position", "setting"}]}.
Each topic has one partition, prepared by the caller (records produced, maybe DeleteRecords). The
consumer (no group, manual assignment) is seeked to `position` and consumes with
`auto_offset_reset=setting`. When it has settled (its position moved off `position` and reached the
end of the log) one marker record is produced with aiokafka's producer, and the case ends when the
marker arrives, when an error reaches the caller, or when `deadline` seconds have passed.

Output, one line per case: {"id", "client": "aiokafka", "version", "setting", "position",
"offsets": [...delivered...], "resetTo": position after the reset or null, "marker": offset or null,
"markerDelivered": bool, "error": {"type", "message"} or null, "timedOut": bool, "logs": what aiokafka
logged at INFO and above during the case, as "LEVEL message"}.
"""

import asyncio
import json
import logging
import sys
import time

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


class Collect(logging.Handler):
    """aiokafka's log records of the running case (Python shows none below WARNING by default)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.getMessage()}")


async def run_case(bootstrap, case, deadline):
    tp = TopicPartition(case["topic"], 0)
    logs = Collect()
    logger = logging.getLogger("aiokafka")
    logger.setLevel(logging.INFO)
    logger.addHandler(logs)
    out = {
        "id": case["id"],
        "client": "aiokafka",
        "version": aiokafka.__version__,
        "setting": case["setting"],
        "position": case["position"],
        "offsets": [],
        "resetTo": None,
        "marker": None,
        "markerDelivered": False,
        "error": None,
        "timedOut": False,
    }
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset=case["setting"],
        fetch_max_wait_ms=100,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, case["position"])
        ends = time.monotonic() + deadline
        while time.monotonic() < ends:
            try:
                batch = await consumer.getmany(tp, timeout_ms=200)
            except Exception as e:  # what reaches the user is the measurement
                out["error"] = {"type": type(e).__name__, "message": str(e)}
                break
            for record in batch.get(tp, []):
                out["offsets"].append(record.offset)
            if out["marker"] is not None:
                if out["marker"] in out["offsets"]:
                    out["markerDelivered"] = True
                    break
                continue
            position = await consumer.position(tp)
            if position != case["position"] and out["resetTo"] is None:
                out["resetTo"] = out["offsets"][0] if out["offsets"] else position
            end = (await consumer.end_offsets([tp]))[tp]
            if out["resetTo"] is not None and position == end:
                sent = await producer.send_and_wait(case["topic"], b"marker", partition=0)
                out["marker"] = sent.offset
        else:
            out["timedOut"] = True
    finally:
        await producer.stop()
        await consumer.stop()
        logger.removeHandler(logs)
    out["logs"] = logs.lines
    return out


async def main():
    spec = json.loads(sys.argv[1])
    for case in spec["cases"]:
        result = await run_case(spec["bootstrap"], case, spec.get("deadline", 30))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
