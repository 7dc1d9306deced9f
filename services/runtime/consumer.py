"""The idempotent consumer: validate -> dedupe (inbox) -> handler -> commit -> ack.

Every record ends in exactly one of three ways, recorded in `inbox` in the same transaction as
its effect: `handled`, `ignored` (an event this service does not care about is not recorded at
all), or `dead_lettered` (not JSON, not an envelope, unknown type on a topic we own, payload that
fails validation, or a handler that keeps failing). The Kafka offset is committed only after that
transaction commits (FastStream AckPolicy.NACK_ON_ERROR with auto-commit off): a crash in between
redelivers, and the inbox turns the redelivery into a no-op.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from contracts.envelope import DeadLetter, Envelope, Message, message_types
from contracts.topics import CATALOGUE, dlq_topic, replay_topic, topics_read_by
from services.runtime import dead_letters, tracing
from services.runtime.logging_setup import log_context, trace_id_of
from services.runtime.metrics import CONSUMED as MESSAGES, HANDLER_SECONDS
from services.runtime.outbox import Tx, enqueue_raw

if TYPE_CHECKING:
    from services.runtime.config import Settings

log = logging.getLogger(__name__)

Handler = Callable[[Tx, Any], Awaitable[None]]


# Errors that say "the database or network is down", not "this message is bad": retried forever.
TRANSIENT = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
             asyncpg.CannotConnectNowError, asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


class Unprocessable(Exception):
    """Raised by a handler for a message that can never succeed (e.g. a payment for an unknown
    invoice): dead-lettered at once with this reason, no retries."""


class Consumer:
    def __init__(self, service: str, settings: "Settings") -> None:
        self.service = service
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self._handlers: dict[str, Handler] = {}
        self._fallback: Handler | None = None
        self._attempts: dict[tuple[str, int, int], int] = {}

    # --- registration -------------------------------------------------------------------------

    def on(self, message_type: type[Message]) -> Callable[[Handler], Handler]:
        """Register `handler(tx, message)` for one message type."""
        def register(handler: Handler) -> Handler:
            if message_type.TYPE in self._handlers:
                raise ValueError(f"{message_type.TYPE} already has a handler")
            self._handlers[message_type.TYPE] = handler
            return handler
        return register

    def on_any(self, handler: Handler) -> Handler:
        """Handler for every valid message without a specific handler (e.g. sales' timeline)."""
        self._fallback = handler
        return handler

    # --- processing ---------------------------------------------------------------------------

    async def process_batch(self, records: tuple[ConsumerRecord, ...] | list[ConsumerRecord]) -> None:
        """Apply a batch in ONE database transaction, each record in its own savepoint, so that a
        batch costs one commit (and the caller one offset commit) instead of one per record.

        A transient failure (database or network) rolls the whole batch back and raises: the
        caller seeks back and the batch comes again. A record whose handler fails is retried a
        few times and then dead-lettered: the records before it are committed first, and the
        redelivered ones before it are no-ops thanks to the inbox."""
        assert self.pool is not None, "consumer started without a database pool"
        retry: Exception | None = None
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    for record in records:
                        retry = await self._process(conn, record)
                        if retry is not None:
                            break           # commit what is done; the failed record comes again
            except TRANSIENT as exc:
                log.warning("transient failure in a batch of %d: %s; the batch will be retried", len(records), exc)
                await asyncio.sleep(1.0)
                raise
        if retry is not None:
            raise retry

    async def _process(self, conn: asyncpg.Connection, record: ConsumerRecord) -> Exception | None:
        """One record, in a savepoint of the batch's transaction. Returns an exception when the
        record must be retried later."""
        topic = self.settings.logical_topic(record.topic)
        try:
            envelope = Envelope.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(conn, record, topic, None, f"not a valid message envelope: {_summary(exc)}")
            return None
        with tracing.consuming(self.service, topic, record.headers, envelope.type), \
                log_context(order_id=envelope.correlation_id, message_id=envelope.message_id,
                            message_type=envelope.type, trace_id=trace_id_of(envelope.trace.get("traceparent"))):
            if topic == replay_topic(self.service):
                original = self._replayed_as(envelope)
                if original is None:
                    await self._dead_letter(conn, record, topic, envelope,
                                            "a record on the replay topic must name, in replay_of, a dead letter of "
                                            f"{self.service} and a topic {self.service} reads")
                    return None
                topic = original
            return await self._handle(conn, record, topic, envelope)

    def _replayed_as(self, envelope: Envelope) -> str | None:
        """The topic a replayed dead letter counts as (None when the record does not say a valid one)."""
        replay = envelope.replay_of
        if replay is None or replay.service != self.service:
            return None
        readable = set(topics_read_by(self.service)) - {replay_topic(self.service)}
        return replay.original_topic if replay.original_topic in readable else None

    async def _handle(self, conn: asyncpg.Connection, record: ConsumerRecord, topic: str,
                      envelope: Envelope) -> Exception | None:
        handler = self._handlers.get(envelope.type) or self._fallback
        model = message_types().get(envelope.type)
        if model is None or handler is None:
            if self._owns(topic):
                await self._dead_letter(conn, record, topic, envelope,
                                        f"unknown message type {envelope.type!r} on {topic}")
            else:
                MESSAGES.labels(topic, envelope.type, "ignored").inc()
            return None
        try:
            message = model.model_validate(envelope.payload)
        except ValidationError as exc:
            await self._dead_letter(conn, record, topic, envelope, f"invalid {envelope.type} payload: {_summary(exc)}")
            return None

        coordinates = (record.topic, record.partition, record.offset)
        try:
            with HANDLER_SECONDS.labels(envelope.type).time():
                async with conn.transaction():          # a savepoint: a failure undoes only this record
                    outcome = await self._apply(conn, record, topic, envelope, message, handler)
        except Unprocessable as exc:
            await self._dead_letter(conn, record, topic, envelope, f"unprocessable {envelope.type}: {exc}")
            return None
        except TRANSIENT:
            raise
        except Exception as exc:
            attempts = self._attempts.get(coordinates, 0) + 1
            self._attempts[coordinates] = attempts
            if attempts >= self.settings.handler_max_attempts:
                log.exception("handler for %s failed %d times; dead-lettering", envelope.type, attempts)
                self._attempts.pop(coordinates, None)
                await self._dead_letter(conn, record, topic, envelope,
                                        f"handler failed {attempts} times: {type(exc).__name__}: {exc}")
                return None
            log.warning("handler for %s failed (attempt %d): %r; retrying", envelope.type, attempts, exc)
            await asyncio.sleep(min(0.2 * 2 ** attempts, 5.0))
            return exc
        self._attempts.pop(coordinates, None)
        MESSAGES.labels(topic, envelope.type, outcome).inc()
        return None

    async def _apply(self, conn: asyncpg.Connection, record: ConsumerRecord, topic: str, envelope: Envelope,
                     message: Message, handler: Handler) -> str:
        fresh = await conn.fetchval(
            "INSERT INTO inbox (message_key, message_type, topic, kafka_partition, kafka_offset, outcome)"
            " VALUES ($1, $2, $3, $4, $5, 'handled') ON CONFLICT DO NOTHING RETURNING true",
            str(envelope.message_id), envelope.type, topic, record.partition, record.offset,
        )
        if not fresh:
            return "duplicate"
        await handler(Tx(conn, self.service, envelope), message)
        return "handled"

    def _owns(self, topic: str) -> bool:
        spec = CATALOGUE.get(topic)
        return spec is not None and spec.owner == self.service

    async def _dead_letter(self, conn: asyncpg.Connection, record: ConsumerRecord, topic: str,
                           envelope: Envelope | None, reason: str) -> None:
        """Park the record on this service's DLQ (through the outbox, so exactly once) and move on."""
        key = str(envelope.message_id) if envelope else f"{record.topic}/{record.partition}/{record.offset}"
        letter = DeadLetter(
            service=self.service,
            reason=reason,
            original_topic=record.topic,
            original_partition=record.partition,
            original_offset=record.offset,
            original_key=_printable(record.key) if record.key else None,
            original_headers={_printable(k.encode()): _printable(v) for k, v in (record.headers or ())},
            message_type=envelope.type if envelope else None,
            replay_of_dead_letter=(envelope.replay_of.dead_letter_id
                                   if envelope and envelope.replay_of and envelope.replay_of.service == self.service
                                   else None),
            **_value_fields(record.value or b""),
        )
        async with conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO inbox (message_key, message_type, topic, kafka_partition, kafka_offset, outcome)"
                " VALUES ($1, $2, $3, $4, $5, 'dead_lettered') ON CONFLICT DO NOTHING RETURNING true",
                key, letter.message_type, topic, record.partition, record.offset,
            )
            if not fresh:
                return
            await dead_letters.record(
                conn, topic=record.topic, partition=record.partition, offset=record.offset,
                message_type=letter.message_type, reason=reason,
                raw_value=(letter.original_value if letter.original_value is not None
                           else f"base64:{letter.original_value_base64}"),
                message_key=letter.original_key, headers=letter.original_headers,
                message_id=str(envelope.message_id) if envelope else None, origin_topic=topic,
                replay_of=letter.replay_of_dead_letter)
            await enqueue_raw(conn, topic=dlq_topic(self.service), key=letter.original_key,
                              message_type="deadletter", envelope=letter.model_dump(mode="json"))
        MESSAGES.labels(topic, letter.message_type or "unparseable", "dead_lettered").inc()
        log.warning("dead-lettered %s/%s@%s: %s", record.topic, record.partition, record.offset, reason)


def _value_fields(raw: bytes) -> dict[str, str]:
    """A record value as text when it is clean UTF-8, else base64 (PostgreSQL cannot store NUL)."""
    try:
        text = raw.decode("utf-8")
        if "\x00" not in text:
            return {"original_value": text}
    except UnicodeDecodeError:
        pass
    return {"original_value_base64": base64.b64encode(raw).decode()}


def _printable(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").replace("\x00", "\\0")


def _summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5])
