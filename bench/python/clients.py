"""The Python clients of the benchmark: confluent-kafka-python, aiokafka and FastStream.

Run by the orchestrator (`kafka-utils-bench run`), one process per run, with the job as JSON
in the last argument; prints the outcome as JSON on the last line of its output. The shapes
and the rules are those of the Rust clients (bench/src/job.rs): the same payloads (compact
JSON with the fields id, sent_at, body, in that order; or bytes), only acknowledged records
count when producing, consumers decode each record, hand it to a no-op handler and commit.

`python clients.py versions` prints the versions of the clients and of Python.
"""

import asyncio
import json
import resource
import sys
import time

BODY_OVERHEAD = 47  # see body_len in bench/src/job.rs
ID, TIME = 500_000, 1_700_000_000_000  # throughput records: a 6-digit id, a 13-digit time
WINDOW = 100_000  # the most pending delivery futures, as on the Rust side
FIRST_RECORD = 60.0  # how long a consumer may wait for its first record
DRAIN = 5.0  # how long the latency receiver may take after the last send


def body(size):
    return "x" * max(size - BODY_OVERHEAD, 0)


def encode(job, i, sent_at, text):
    """What record `i` carries: compact JSON, as a user's json.dumps would write it."""
    return json.dumps({"id": i, "sent_at": sent_at, "body": text}, separators=(",", ":")).encode()


def outcome(messages, seconds, cpu_before, latency_ns=(), lost=0):
    return {
        "messages": messages,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_before,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "latency_ns": list(latency_ns),
        "lost": lost,
    }


def model():
    """FastStream's handler and publisher types: a pydantic model of the payload."""
    from pydantic import BaseModel

    class Payload(BaseModel):
        id: int
        sent_at: int
        body: str

    return Payload


class Samples:
    """Latencies of the records due after the warm-up, in ns."""

    def __init__(self, job, start_ns):
        self.start_ns = start_ns
        self.from_ns = start_ns + int(job["warmup_seconds"] * 1e9)
        self.latency_ns = []

    def record(self, sent_at):
        if sent_at >= self.from_ns:
            self.latency_ns.append(time.perf_counter_ns() - sent_at)


def schedule(job):
    total = int(job["rate"] * (job["warmup_seconds"] + job["seconds"]))
    measured = total - int(-(-job["warmup_seconds"] * job["rate"] // 1))
    return total, max(measured, 0)


# ---------------------------------------------------------------- confluent-kafka-python


def confluent_config(job):
    return {"bootstrap.servers": job["bootstrap"], "enable.idempotence": True, "acks": "all"}


def confluent_consumer(job, extra=None):
    from confluent_kafka import Consumer

    config = {
        "bootstrap.servers": job["bootstrap"],
        "group.id": job["group"],
        "auto.offset.reset": "earliest",
        "enable.auto.offset.store": False,
        # The Rust clients' fetch setting (kafka-utils' default, and raw's in this benchmark):
        # librdkafka's default of 1 s leaves a consumer that drained its queue idle.
        "fetch.queue.backoff.ms": 20,
    }
    config.update(extra or {})
    consumer = Consumer(config)
    consumer.subscribe([job["topic"]])
    return consumer


def confluent_produce(job):
    from confluent_kafka import Producer

    cpu = time.process_time()
    acked = [0, 0]

    def report(err, _msg):
        acked[1 if err else 0] += 1

    producer = Producer(confluent_config(job))
    text = body(job["size"])
    raw = b"x" * job["size"]
    deadline = time.monotonic() + job["seconds"]
    start = time.monotonic()
    sent = 0
    while sent % 256 or time.monotonic() < deadline:
        value = raw if job["kind"] == "bytes" else encode(job, ID + sent % 1024, TIME + sent % 1024, text)
        while True:
            try:
                producer.produce(job["topic"], value, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.001)
        sent += 1
        if sent % 1024 == 0:
            producer.poll(0)
    producer.flush(120)
    seconds = time.monotonic() - start
    if acked != [sent, 0]:
        raise SystemExit(f"confluent producer: {acked[0]} of {sent} acknowledged, {acked[1]} failed")
    return outcome(sent, seconds, cpu)


def confluent_consume(job):
    from confluent_kafka import TopicPartition

    cpu = time.process_time()
    consumer = confluent_consumer(job)
    seen = checksum = 0
    first = last = None
    joined_by = time.monotonic() + FIRST_RECORD
    while seen < job["count"]:
        now = time.monotonic()
        if first is None and now > joined_by:
            raise SystemExit("confluent consumer: no record within 60 s")
        if first is not None and now - first >= job["seconds"]:
            break
        messages = consumer.consume(num_messages=500, timeout=0.1)
        for message in messages:
            if message.error():
                raise SystemExit(f"confluent consumer: {message.error()}")
            if first is None:
                first = time.monotonic()
            value = message.value()
            checksum += len(value) if job["kind"] == "bytes" else json.loads(value)["id"]
            handler(value)
            seen += 1
        if messages:
            # Once per batch, after it was handled: the last record of each partition.
            last_of = {(m.topic(), m.partition()): m for m in messages}
            consumer.store_offsets(offsets=[
                TopicPartition(t, p, m.offset() + 1) for (t, p), m in last_of.items()
            ])
        last = time.monotonic()
    consumer.close()
    return outcome(seen, (last - first) if first else float("nan"), cpu)


def handler(_value):
    """The no-op handler."""


def confluent_latency(job):
    import threading

    from confluent_kafka import Producer

    cpu = time.process_time()
    start_ns = time.perf_counter_ns()
    samples = Samples(job, start_ns)
    stopping = threading.Event()
    consumer = confluent_consumer(job)

    def receive():
        # poll, not consume(500): a batch call waits for its 500 records or its timeout.
        while not stopping.is_set():
            message = consumer.poll(0.1)
            if message is not None and not message.error():
                samples.record(json.loads(message.value())["sent_at"])
                consumer.store_offsets(message=message)

    receiver = threading.Thread(target=receive)
    receiver.start()
    producer = Producer(confluent_config(job))
    text = body(job["size"])
    total, measured = schedule(job)
    for i in range(total):
        due = start_ns + i * 1_000_000_000 // job["rate"]
        wait = due - time.perf_counter_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        producer.produce(job["topic"], encode(job, i, due, text))
        producer.poll(0)
    producer.flush(30)
    drained_by = time.monotonic() + DRAIN
    while len(samples.latency_ns) < measured and time.monotonic() < drained_by:
        time.sleep(0.01)
    stopping.set()
    receiver.join()
    consumer.close()
    return outcome(len(samples.latency_ns), job["seconds"], cpu, samples.latency_ns,
                   measured - len(samples.latency_ns))


# ---------------------------------------------------------------- aiokafka


def aiokafka_producer(job):
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=job["bootstrap"], acks="all", enable_idempotence=True)


async def settle(pending):
    """Awaits the delivery futures; the number acknowledged."""
    results = await asyncio.gather(*pending, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise SystemExit(f"{len(failed)} records not acknowledged: {failed[0]!r}")
    return len(results)


async def aiokafka_produce(job):
    cpu = time.process_time()
    producer = aiokafka_producer(job)
    await producer.start()
    text = body(job["size"])
    raw = b"x" * job["size"]
    deadline = time.monotonic() + job["seconds"]
    start = time.monotonic()
    sent = acked = 0
    pending = []
    while sent % 256 or time.monotonic() < deadline:
        value = raw if job["kind"] == "bytes" else encode(job, ID + sent % 1024, TIME + sent % 1024, text)
        pending.append(await producer.send(job["topic"], value))
        sent += 1
        if len(pending) >= WINDOW:
            acked += await settle(pending)
            pending = []
    acked += await settle(pending)
    seconds = time.monotonic() - start
    await producer.stop()
    return outcome(acked, seconds, cpu)


def aiokafka_consumer(job):
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(job["topic"], bootstrap_servers=job["bootstrap"], group_id=job["group"],
                            auto_offset_reset="earliest", enable_auto_commit=True)


async def aiokafka_consume(job):
    cpu = time.process_time()
    consumer = aiokafka_consumer(job)
    await consumer.start()
    seen = checksum = 0
    first = last = None
    joined_by = time.monotonic() + FIRST_RECORD
    while seen < job["count"]:
        now = time.monotonic()
        if first is None and now > joined_by:
            raise SystemExit("aiokafka consumer: no record within 60 s")
        if first is not None and now - first >= job["seconds"]:
            break
        batches = await consumer.getmany(timeout_ms=100, max_records=500)
        for records in batches.values():
            if first is None:
                first = time.monotonic()
            for record in records:
                value = record.value
                checksum += len(value) if job["kind"] == "bytes" else json.loads(value)["id"]
                handler(value)
                seen += 1
        last = time.monotonic()
    await consumer.stop()
    return outcome(seen, (last - first) if first else float("nan"), cpu)


async def aiokafka_latency(job):
    cpu = time.process_time()
    start_ns = time.perf_counter_ns()
    samples = Samples(job, start_ns)
    consumer = aiokafka_consumer(job)
    await consumer.start()

    async def receive():
        async for record in consumer:
            samples.record(json.loads(record.value)["sent_at"])

    receiver = asyncio.create_task(receive())
    producer = aiokafka_producer(job)
    await producer.start()
    text = body(job["size"])
    total, measured = schedule(job)
    pending = []
    for i in range(total):
        due = start_ns + i * 1_000_000_000 // job["rate"]
        wait = due - time.perf_counter_ns()
        if wait > 0:
            await asyncio.sleep(wait / 1e9)
        pending.append(await producer.send(job["topic"], encode(job, i, due, text)))
    await settle(pending)
    drained_by = time.monotonic() + DRAIN
    while len(samples.latency_ns) < measured and time.monotonic() < drained_by:
        await asyncio.sleep(0.01)
    receiver.cancel()
    await producer.stop()
    await consumer.stop()
    return outcome(len(samples.latency_ns), job["seconds"], cpu, samples.latency_ns,
                   measured - len(samples.latency_ns))


# ---------------------------------------------------------------- FastStream


def faststream_broker(job):
    from faststream.kafka import KafkaBroker

    return KafkaBroker(job["bootstrap"], acks="all", enable_idempotence=True, logger=None)


async def faststream_produce(job):
    cpu = time.process_time()
    Payload = model()
    broker = faststream_broker(job)
    await broker.start()
    text = body(job["size"])
    raw = b"x" * job["size"]
    deadline = time.monotonic() + job["seconds"]
    start = time.monotonic()
    sent = acked = 0
    pending = []
    while sent % 256 or time.monotonic() < deadline:
        if job["kind"] == "bytes":
            value = raw
        else:
            value = Payload(id=ID + sent % 1024, sent_at=TIME + sent % 1024, body=text)
        pending.append(await broker.publish(value, job["topic"], no_confirm=True))
        sent += 1
        if len(pending) >= WINDOW:
            acked += await settle(pending)
            pending = []
    acked += await settle(pending)
    seconds = time.monotonic() - start
    await broker.stop()
    return outcome(acked, seconds, cpu)


async def faststream_consume(job):
    cpu = time.process_time()
    Payload = model()
    broker = faststream_broker(job)
    state = {"seen": 0, "checksum": 0, "first": None, "last": None}
    done = asyncio.Event()

    def count(weight):
        now = time.monotonic()
        if state["first"] is None:
            state["first"] = now
        state["last"] = now
        state["checksum"] += weight
        state["seen"] += 1
        if state["seen"] >= job["count"]:
            done.set()

    subscriber = broker.subscriber(job["topic"], group_id=job["group"], auto_offset_reset="earliest")
    if job["kind"] == "bytes":
        @subscriber
        async def handle_bytes(value: bytes):
            count(len(value))
    else:
        @subscriber
        async def handle_json(value: Payload):
            count(value.id)

    await broker.start()
    joined_by = time.monotonic() + FIRST_RECORD
    while not done.is_set():
        now = time.monotonic()
        if state["first"] is None and now > joined_by:
            raise SystemExit("faststream subscriber: no record within 60 s")
        if state["first"] is not None and now - state["first"] >= job["seconds"]:
            break
        try:
            await asyncio.wait_for(done.wait(), 0.05)
        except asyncio.TimeoutError:
            pass
    seen, first, last = state["seen"], state["first"], state["last"]
    await broker.stop()
    return outcome(seen, (last - first) if first else float("nan"), cpu)


async def faststream_latency(job):
    cpu = time.process_time()
    Payload = model()
    start_ns = time.perf_counter_ns()
    samples = Samples(job, start_ns)
    broker = faststream_broker(job)

    @broker.subscriber(job["topic"], group_id=job["group"], auto_offset_reset="earliest")
    async def handle(value: Payload):
        samples.record(value.sent_at)

    await broker.start()
    text = body(job["size"])
    total, measured = schedule(job)
    pending = []
    for i in range(total):
        due = start_ns + i * 1_000_000_000 // job["rate"]
        wait = due - time.perf_counter_ns()
        if wait > 0:
            await asyncio.sleep(wait / 1e9)
        pending.append(await broker.publish(Payload(id=i, sent_at=due, body=text), job["topic"],
                                            no_confirm=True))
    await settle(pending)
    drained_by = time.monotonic() + DRAIN
    while len(samples.latency_ns) < measured and time.monotonic() < drained_by:
        await asyncio.sleep(0.01)
    await broker.stop()
    return outcome(len(samples.latency_ns), job["seconds"], cpu, samples.latency_ns,
                   measured - len(samples.latency_ns))


CLIENTS = {
    ("confluent", "produce"): confluent_produce,
    ("confluent", "consume"): confluent_consume,
    ("confluent", "latency"): confluent_latency,
    ("aiokafka", "produce"): aiokafka_produce,
    ("aiokafka", "consume"): aiokafka_consume,
    ("aiokafka", "latency"): aiokafka_latency,
    ("faststream", "produce"): faststream_produce,
    ("faststream", "consume"): faststream_consume,
    ("faststream", "latency"): faststream_latency,
}


def versions():
    import platform
    from importlib.metadata import version

    import confluent_kafka

    return {
        "python": platform.python_version(),
        "confluent-kafka-python": f"{version('confluent-kafka')} (librdkafka {confluent_kafka.libversion()[0]})",
        "aiokafka": version("aiokafka"),
        "faststream": version("faststream"),
        "pydantic": version("pydantic"),
    }


def main():
    if sys.argv[1:] == ["versions"]:
        print(json.dumps(versions()))
        return
    if len(sys.argv) != 2:
        raise SystemExit("usage: clients.py JOB_JSON | versions")
    job = json.loads(sys.argv[1])
    run = CLIENTS.get((job["client"], job["op"]))
    if run is None:
        raise SystemExit(f"no Python client `{job['client']}` for {job['op']}")
    result = run(job)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
