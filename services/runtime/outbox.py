"""Transactional outbox: `Tx.emit` writes messages in the handler's own DB transaction;
`Relay` publishes them (idempotent producer, acks=all) in id order and deletes them once sent.

A row holds the envelope's JSON bytes, encoded once when emitted, and its Kafka headers, so the
relay sends what is stored without decoding or re-encoding it. Nothing is emitted for a
rolled-back change, and nothing committed is lost: a crash between publish and delete
re-publishes, and consumers drop the duplicate by message_id (inbox).

Standby: every replica of a service runs a relay, but only the one holding the database's
advisory lock publishes (so per-key order holds); the others retry the lock every
`relay_poll_seconds` and take over within that time when the holder's session ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream.exceptions import IncorrectState
from pydantic_core import to_json

from contracts.envelope import Envelope, Initiator, Message, kafka_headers
from contracts.topics import CATALOGUE
from services.runtime import tracing
from services.runtime.metrics import OUTBOX_PUBLISHED

if TYPE_CHECKING:
    from faststream.kafka import KafkaBroker

    from services.runtime.config import Settings

log = logging.getLogger(__name__)

_RELAY_LOCK = 0x0DE7F11  # one relay per database publishes, so per-key order holds across replicas


class ForbiddenTopic(Exception):
    """A service tried to write a topic the catalogue does not allow it to write."""


@dataclass
class OutboxRow:
    """One message as the relay will send it: the envelope's JSON bytes, encoded once at emit, and
    the Kafka headers of this row (identifying fields, trace context; more may be added per row)."""

    message_id: uuid.UUID
    topic: str                      # catalogue (logical) name
    key: str | None
    message_type: str
    body: bytes
    headers: dict[str, str]


async def insert_rows(conn: asyncpg.Connection, rows: list[OutboxRow]) -> None:
    """Queue rows in one statement, in list order (the relay publishes in id order)."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO outbox (message_id, topic, message_key, message_type, body, headers)"
        " SELECT m, t, k, y, b, h::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[],"
        " $6::text[]) WITH ORDINALITY AS r(m, t, k, y, b, h, n) ORDER BY n",
        [r.message_id for r in rows], [r.topic for r in rows], [r.key for r in rows],
        [r.message_type for r in rows], [r.body for r in rows], [to_json(r.headers).decode() for r in rows],
    )


@dataclass
class Tx:
    """What a handler gets: the open transaction, and `emit` to queue messages in it.

    With `pending` (the consumer's batch) emitted rows are collected and inserted together when the
    batch commits; without it (HTTP requests, periodic jobs) each `emit` inserts at once."""

    conn: asyncpg.Connection
    service: str
    cause: Envelope | None = None
    trace: dict[str, str] | None = None   # trace context when there is no cause (an HTTP request)
    initiated_by: Initiator | None = None  # the HTTP caller; else carried on from the cause
    emitted: list[Envelope] = field(default_factory=list)
    pending: list[OutboxRow] | None = None

    @property
    def initiator(self) -> Initiator | None:
        """Who asked for what this transaction does: the HTTP caller, or whoever started the cause."""
        return self.initiated_by or (self.cause.initiated_by if self.cause else None)

    async def emit(self, message: Message, *, key: str, correlation_id: str | None = None) -> Envelope:
        spec = CATALOGUE[message.TOPIC]
        if self.service not in spec.writers:
            raise ForbiddenTopic(f"{self.service} may not write {spec.name} (writers: {sorted(spec.writers)})")
        envelope = Envelope.wrap(
            message,
            correlation_id=correlation_id or (self.cause.correlation_id if self.cause else key),
            producer=self.service,
            causation_id=self.cause.message_id if self.cause else None,
            # The span doing this work (a record's consumer span, an HTTP request's server span) is
            # the parent of what is emitted; stored with the outbox row, used by the relay.
            trace=tracing.current_trace() or (self.cause.trace if self.cause else self.trace),
            initiated_by=self.initiator,
        )
        row = OutboxRow(envelope.message_id, spec.name, key, envelope.type, envelope.model_dump_json().encode(),
                        kafka_headers(envelope))
        if self.pending is not None:
            self.pending.append(row)
        else:
            await insert_rows(self.conn, [row])
        self.emitted.append(envelope)
        return envelope


async def enqueue_raw(conn: asyncpg.Connection, *, topic: str, key: str | None, message_type: str,
                      envelope: dict, message_id: uuid.UUID | None = None) -> None:
    """Queue an already-built record (dead letters, whose body is not a normal envelope; replays)."""
    await insert_rows(conn, [OutboxRow(message_id or uuid.uuid4(), topic, key, message_type,
                                       json.dumps(envelope).encode(), kafka_headers(envelope))])


def raw_producer(broker: "KafkaBroker") -> "AIOKafkaProducer | None":
    """The broker's own aiokafka producer (idempotent, acks=all, the broker's security settings).
    The relay sends stored bytes and headers through it as they are: FastStream's publish path
    (command objects, middlewares, its own headers) cost ~9% of a service's CPU. None when a
    FastStream version keeps it elsewhere; the relay then publishes through the broker."""
    try:
        producer = broker.config.producer._producer.producer   # noqa: SLF001 - see docstring
    except (AttributeError, IncorrectState):
        return None
    return producer if isinstance(producer, AIOKafkaProducer) else None


class Relay:
    """Publishes the outbox. Woken by NOTIFY on commit, with a slow poll as a safety net."""

    def __init__(self, pool: asyncpg.Pool, broker: "KafkaBroker", settings: "Settings") -> None:
        self._pool = pool
        self._broker = broker
        self._settings = settings
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._listen_conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Publish what is committed, then stop (called after consumers have stopped)."""
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=self._settings.shutdown_grace_seconds)
            except asyncio.TimeoutError:
                self._task.cancel()
                log.warning("outbox relay did not drain in time; the rest is published at next start")

    async def _run(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await self._publish_loop(conn)
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if self._stopping:
                    return
                log.warning("outbox relay lost the database (%s); retrying", exc)
                await asyncio.sleep(1.0)
            except Exception:
                if self._stopping:
                    return
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)

    async def _publish_loop(self, conn: asyncpg.Connection) -> None:
        # Only one relay per database publishes; other replicas wait here as hot standbys.
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
            if self._stopping:
                return
            await asyncio.sleep(self._settings.relay_poll_seconds)
        await conn.add_listener("outbox", self._on_notify)
        try:
            while True:
                self._wake.clear()
                sent = await self.publish_batch(conn)
                # A short batch was everything committed before the SELECT; a later commit has set
                # _wake again. A full one may have more behind it; when stopping, look once more.
                if sent == self._settings.relay_batch_size or (sent and self._stopping):
                    continue
                if self._stopping:
                    return
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._settings.relay_poll_seconds)
                except asyncio.TimeoutError:
                    pass
        finally:
            await conn.remove_listener("outbox", self._on_notify)
            await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        """Publish the oldest unsent rows, then delete them (the outbox holds only what is still to
        be sent). A crash between the two re-publishes; consumers drop the copy by message_id."""
        rows = await conn.fetch(
            "SELECT id, topic, message_key, body, headers, envelope FROM outbox ORDER BY id LIMIT $1",
            self._settings.relay_batch_size,
        )
        if not rows:
            return 0
        # Send the whole batch before awaiting acks: the idempotent producer keeps per-partition
        # order, so pipelining is safe and much faster than one round trip per message.
        producer = raw_producer(self._broker)
        futures = []
        for row in rows:
            body, headers = row["body"], row["headers"]
            if body is None:                   # a row queued before the outbox kept bytes
                body, headers = json.dumps(row["envelope"]).encode(), kafka_headers(row["envelope"])
            topic = self._settings.topic(row["topic"])
            key = row["message_key"].encode() if row["message_key"] else None
            headers = tracing.publish_headers(self._settings.service, topic, headers)
            if producer is not None:
                futures.append(await producer.send(topic, body, key=key,
                                                   headers=[(k, v.encode()) for k, v in headers.items()]))
            else:
                futures.append(await self._broker.publish(body, topic=topic, key=key, headers=headers,
                                                          no_confirm=True))
        await asyncio.gather(*futures)
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        for row in rows:
            OUTBOX_PUBLISHED.labels(row["topic"]).inc()
        return len(rows)
