"""The same-stack baseline: what raw aiokafka + pydantic + asyncpg cost for the per-message work
orderflow does, with the same guarantees and none of the framework.

One process consumes a topic of envelopes (a consumer group, offsets committed after the database
commit, only for the batch's partitions), and per batch, in ONE transaction on a held connection:
validates every envelope and payload with the contracts' pydantic models, inserts the message ids
into an inbox (multi-row, ON CONFLICT DO NOTHING), applies an effect (an upsert per order) and
inserts one outbound envelope per fresh message into an outbox; then commits the offsets and
publishes the outbox rows with an idempotent producer (acks=all), deleting them once acknowledged.

Its topics and database are scratch ones no environment's catalogue knows, so it connects as the
provisioning identities (Kafka `admin` over SASL_SSL, PostgreSQL `orderflow_admin`), credentials
from the settings' files like every process of the stack (nothing secret on its command line).

Run by `orderflow bench --bound` as a child process (its CPU is measured from /proc):
    python -m services.cli.bench.baseline --messages 20000 --database DB --prefix P
    # prints READY, waits for a line, runs, prints JSON
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.envelope import Envelope
from contracts.sales import OrderStatusChanged
from contracts.warehouse import ReservedLine, StockReserved
from services.provisioning.postgres import admin_settings
from services.runtime.config import Settings
from services.runtime.kafka_acl import ADMIN
from services.runtime.kafka_security import client_kwargs

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (message_key TEXT PRIMARY KEY, topic TEXT NOT NULL, kafka_partition INT NOT NULL,
                                  kafka_offset BIGINT NOT NULL, processed_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS effect (order_id TEXT PRIMARY KEY, seen INT NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id BIGSERIAL PRIMARY KEY, message_key TEXT, message_type TEXT NOT NULL,
                                   body BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
"""


def _envelope(n: int) -> bytes:
    order_id = str(uuid.uuid4())
    message = StockReserved(order_id=order_id, lines=[ReservedLine(sku="SKU-BOLT-M8", requested=1 + n % 5,
                                                                   reserved=1 + n % 5)], complete=True)
    return Envelope.wrap(message, correlation_id=order_id, producer="warehouse").model_dump_json().encode()


async def prepare(settings: Settings, topics: tuple[str, str], messages: int, dsn: str) -> None:
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        present = set(await admin.list_topics())
        await admin.create_topics([NewTopic(t, num_partitions=6, replication_factor=1) for t in topics
                                   if t not in present])
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
    finally:
        await conn.close()
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5, **client_kwargs(settings))
    await producer.start()
    try:
        futures = [await producer.send(topics[0], _envelope(n), key=str(n).encode(),
                                       headers=[("type", StockReserved.TYPE.encode())]) for n in range(messages)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def work(settings: Settings, topics: tuple[str, str], messages: int, dsn: str, group: str,
               batch: int) -> dict:
    consumer = AIOKafkaConsumer(topics[0], group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_poll_records=batch, **client_kwargs(settings))
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5, **client_kwargs(settings))
    conn = await asyncpg.connect(dsn)
    await consumer.start()
    await producer.start()
    handled = batches = 0
    started = None
    cpu_started = time.process_time()
    try:
        while handled < messages:
            fetched = await consumer.getmany(timeout_ms=200, max_records=batch)
            records = [r for rs in fetched.values() for r in rs]
            if not records:
                continue
            started = started or time.monotonic()
            envelopes = [Envelope.model_validate_json(r.value) for r in records]
            payloads = [StockReserved.model_validate(e.payload) for e in envelopes]
            async with conn.transaction():
                fresh = {row[0] for row in await conn.fetch(
                    "INSERT INTO inbox (message_key, topic, kafka_partition, kafka_offset)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])"
                    " ON CONFLICT DO NOTHING RETURNING message_key",
                    [str(e.message_id) for e in envelopes], [r.topic for r in records],
                    [r.partition for r in records], [r.offset for r in records])}
                todo = [(e, p) for e, p in zip(envelopes, payloads) if str(e.message_id) in fresh]
                await conn.execute(
                    "INSERT INTO effect (order_id, seen, updated_at) SELECT o, 1, now() FROM unnest($1::text[]) o"
                    " ON CONFLICT (order_id) DO UPDATE SET seen = effect.seen + 1, updated_at = now()",
                    sorted({p.order_id for _, p in todo}))
                out = [Envelope.wrap(OrderStatusChanged(order_id=p.order_id, order_number="SO-1", status="reserved"),
                                     correlation_id=e.correlation_id, producer="sales", causation_id=e.message_id)
                       for e, p in todo]
                ids = [row[0] for row in await conn.fetch(
                    "INSERT INTO outbox (message_key, message_type, body)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) RETURNING id",
                    [o.correlation_id for o in out], [o.type for o in out],
                    [o.model_dump_json().encode() for o in out])]
            last: dict[TopicPartition, int] = {}
            for r in records:
                last[TopicPartition(r.topic, r.partition)] = max(last.get(TopicPartition(r.topic, r.partition), -1),
                                                                 r.offset)
            await consumer.commit({tp: offset + 1 for tp, offset in last.items()})
            rows = await conn.fetch("SELECT id, message_key, message_type, body FROM outbox WHERE id = ANY($1)", ids)
            futures = [await producer.send(topics[1], row["body"], key=row["message_key"].encode(),
                                           headers=[("type", row["message_type"].encode())]) for row in rows]
            await asyncio.gather(*futures)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1)", ids)
            handled += len(records)
            batches += 1
        elapsed = time.monotonic() - (started or time.monotonic())
    finally:
        await producer.stop()
        await consumer.stop()
        await conn.close()
    return {"messages": handled, "batches": batches, "seconds": round(elapsed, 3),
            "messages_per_s": round(handled / elapsed, 1) if elapsed else None,
            "process_cpu_ms": round((time.process_time() - cpu_started) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database", required=True, help="scratch database (created by the caller)")
    parser.add_argument("--prefix", required=True, help="topic/group prefix of this run")
    args = parser.parse_args()
    settings = Settings().as_principal(ADMIN)
    dsn = admin_settings(settings).dsn(database=args.database)
    topics = (f"{args.prefix}bench.baseline.in", f"{args.prefix}bench.baseline.out")
    asyncio.run(prepare(settings, topics, args.messages, dsn))
    print("READY", flush=True)
    sys.stdin.readline()
    result = asyncio.run(work(settings, topics, args.messages, dsn, f"{args.prefix}bench.baseline", args.batch))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
