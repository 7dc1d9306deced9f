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
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from contracts.envelope import DeadLetter, Envelope, Message, message_types
from contracts.topics import CATALOGUE, dlq_topic, replay_topic, topics_read_by
from services.runtime import dead_letters, tracing
from services.runtime.logging_setup import log_context, trace_id_of
from services.runtime.metrics import CONSUMED as MESSAGES, HANDLER_SECONDS
from services.runtime.outbox import OutboxRow, Tx, enqueue_raw, insert_rows

if TYPE_CHECKING:
    from services.runtime.config import Settings

log = logging.getLogger(__name__)

Handler = Callable[[Tx, Any], Awaitable[None]]


# Errors that say "the database or network is down", not "this message is bad": retried forever.
TRANSIENT = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
             asyncpg.CannotConnectNowError, asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


class _HandlerFailed(Exception):
    """A handler raised in the fast path; its cause is the handler's exception."""


class Unprocessable(Exception):
    """Raised by a handler for a message that can never succeed (e.g. a payment for an unknown
    invoice): dead-lettered at once with this reason, no retries."""


class Consumer:
    def __init__(self, service: str, settings: "Settings") -> None:
        self.service = service
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None   # held for the consumer's life
        self._handlers: dict[str, Handler] = {}
        self._fallback: Handler | None = None
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._types: dict[str, type[Message]] = {}

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

    # --- the held connection ------------------------------------------------------------------

    async def _connection(self) -> asyncpg.Connection:
        """One connection for every batch, instead of a pool acquire (and its reset) per batch."""
        assert self.pool is not None, "consumer started without a database pool"
        if self._conn is not None and not _usable(self._conn):
            await self._release()
        if self._conn is None:
            self._conn = await self.pool.acquire()
        return self._conn

    async def _release(self) -> None:
        if self._conn is not None and self.pool is not None:
            conn, self._conn = self._conn, None
            if _taken_back(conn):
                return                      # the pool already has it (e.g. reset after an outage)
            try:
                await self.pool.release(conn)
            except Exception:  # noqa: BLE001 - a broken connection is dropped by the pool anyway
                log.debug("releasing the consumer connection failed", exc_info=True)

    async def close(self) -> None:
        """Give the held connection back (before the pool closes)."""
        await self._release()

    # --- processing ---------------------------------------------------------------------------

    async def process_batch(self, records: tuple[ConsumerRecord, ...] | list[ConsumerRecord]) -> int:
        """Apply a batch in ONE database transaction: one multi-row inbox insert dedupes it, the
        handlers run, their messages go to the outbox in one multi-row insert, one commit (and the
        caller one offset commit for the batch's partitions).

        When a handler fails, that transaction is rolled back and the batch is applied again with
        a savepoint per record (`_process`): the failing record is retried a few times and then
        dead-lettered, the records before it are committed first, and the redelivered ones before
        it are no-ops thanks to the inbox. A transient failure (database or network) rolls the
        whole batch back and raises: the caller seeks back and the batch comes again.

        Returns how many records were applied (not ignored): 0 means no transaction was needed."""
        self._types = self._types or message_types()    # every contract module is imported by now
        wanted = []
        for record in records:
            topic = self.settings.logical_topic(record.topic)
            if self._wanted(record, topic):
                wanted.append(record)
            else:
                MESSAGES.labels(topic, _header_type(record), "ignored").inc()
        if not wanted:
            return 0
        records = wanted
        try:
            conn = await self._connection()
            try:
                async with conn.transaction():
                    await self._apply_batch(conn, records)
                return len(records)
            except _HandlerFailed as failed:
                log.info("a handler failed in a batch of %d (%r); applying it record by record",
                         len(records), failed.__cause__)
            retry: Exception | None = None
            async with conn.transaction():
                for record in records:
                    retry = await self._process(conn, record)
                    if retry is not None:
                        break           # commit what is done; the failed record comes again
        except TRANSIENT as exc:
            log.warning("transient failure in a batch of %d: %s; the batch will be retried", len(records), exc)
            await self._release()
            await asyncio.sleep(1.0)
            raise
        if retry is not None:
            raise retry
        return len(records)

    def _wanted(self, record: ConsumerRecord, topic: str) -> bool:
        """False for a record of another department's topic whose `type` header names a message
        no handler here wants: ignored without parsing it (most of what a service reads)."""
        if self._fallback is not None or self._owns(topic):
            return True
        for name, value in record.headers or ():
            if name == "type":
                type_name = value.decode("utf-8", "replace")
                return type_name in self._handlers and type_name in self._types
        return True                     # no header: the body decides

    async def _apply_batch(self, conn: asyncpg.Connection, records: Sequence[ConsumerRecord]) -> None:
        """The fast path: no savepoints; any handler failure raises _HandlerFailed (rolled back)."""
        todo: list[tuple[ConsumerRecord, str, Envelope, Message, Handler]] = []
        seen: set[str] = set()
        for record in records:
            parsed = await self._parse(conn, record, self.settings.logical_topic(record.topic))
            if parsed is None:
                continue
            topic, envelope, message, handler = parsed
            key = str(envelope.message_id)
            if key in seen:             # the same message twice in one batch (a re-published row)
                MESSAGES.labels(topic, envelope.type, "duplicate").inc()
                continue
            seen.add(key)
            todo.append((record, topic, envelope, message, handler))
        if not todo:
            return
        fresh = {row[0] for row in await conn.fetch(
            "INSERT INTO inbox (message_key, message_type, topic, kafka_partition, kafka_offset, outcome)"
            " SELECT k, y, t, p, o, 'handled' FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])"
            " AS r(k, y, t, p, o) ON CONFLICT DO NOTHING RETURNING message_key",
            [str(e.message_id) for _, _, e, _, _ in todo], [e.type for _, _, e, _, _ in todo],
            [t for _, t, _, _, _ in todo], [r.partition for r, _, _, _, _ in todo],
            [r.offset for r, _, _, _, _ in todo])}
        pending: list[OutboxRow] = []
        outcomes = []
        for record, topic, envelope, message, handler in todo:
            if str(envelope.message_id) not in fresh:
                outcomes.append((topic, envelope.type, "duplicate"))
                continue
            try:
                with HANDLER_SECONDS.labels(envelope.type).time(), self._record_context(topic, record, envelope):
                    await handler(Tx(conn, self.service, envelope, pending=pending), message)
            except TRANSIENT:
                raise
            except Exception as exc:
                raise _HandlerFailed() from exc
            outcomes.append((topic, envelope.type, "handled"))
        await insert_rows(conn, pending)
        for labels in outcomes:
            MESSAGES.labels(*labels).inc()

    async def _parse(self, conn: asyncpg.Connection, record: ConsumerRecord,
                     topic: str) -> tuple[str, Envelope, Message, Handler] | None:
        """The record's topic (the original one for a replay), envelope, typed message and handler;
        None when it is ignored or dead-lettered (which needs no savepoint: nothing of the
        record's own was written)."""
        try:
            envelope = Envelope.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(conn, record, topic, None, f"not a valid message envelope: {_summary(exc)}")
            return None
        if topic == replay_topic(self.service):
            original = self._replayed_as(envelope)
            if original is None:
                await self._dead_letter(conn, record, topic, envelope,
                                        "a record on the replay topic must name, in replay_of, a dead letter of "
                                        f"{self.service} and a topic {self.service} reads")
                return None
            topic = original                # a replayed dead letter counts as a record of its original topic
        handler = self._handlers.get(envelope.type) or self._fallback
        model = self._types.get(envelope.type)
        if model is None or handler is None:
            if self._owns(topic):
                await self._dead_letter(conn, record, topic, envelope,
                                        f"unknown message type {envelope.type!r} on {topic}")
            else:
                MESSAGES.labels(topic, envelope.type, "ignored").inc()
            return None
        if model.TOPIC != topic:
            # A type travels only on its own topic, so its topic's writer (enforced by the broker's
            # ACLs) is its author: nobody can pass off e.g. a finance event on another topic.
            await self._dead_letter(conn, record, topic, envelope,
                                    f"{envelope.type} belongs on {model.TOPIC}, not on {topic}")
            return None
        try:
            message = model.model_validate(envelope.payload)
        except ValidationError as exc:
            await self._dead_letter(conn, record, topic, envelope, f"invalid {envelope.type} payload: {_summary(exc)}")
            return None
        return topic, envelope, message, handler

    def _replayed_as(self, envelope: Envelope) -> str | None:
        """The topic a replayed dead letter counts as (None when the record does not say a valid one)."""
        replay = envelope.replay_of
        if replay is None or replay.service != self.service:
            return None
        readable = set(topics_read_by(self.service)) - {replay_topic(self.service)}
        return replay.original_topic if replay.original_topic in readable else None

    @contextlib.contextmanager
    def _record_context(self, topic: str, record: ConsumerRecord, envelope: Envelope) -> Iterator[None]:
        """While a record's handler runs: its consumer span (continuing the record's traceparent;
        what the handler emits is its child) and its ids on every log line."""
        with tracing.consuming(self.service, topic, record.headers, envelope.type), \
                log_context(order_id=envelope.correlation_id, message_id=envelope.message_id,
                            message_type=envelope.type, trace_id=trace_id_of(envelope.trace.get("traceparent"))):
            yield

    async def _process(self, conn: asyncpg.Connection, record: ConsumerRecord) -> Exception | None:
        """One record, in a savepoint of the batch's transaction (the path after a handler failed).
        Returns an exception when the record must be retried later."""
        parsed = await self._parse(conn, record, self.settings.logical_topic(record.topic))
        if parsed is None:
            return None
        topic, envelope, message, handler = parsed

        coordinates = (record.topic, record.partition, record.offset)
        try:
            with HANDLER_SECONDS.labels(envelope.type).time(), self._record_context(topic, record, envelope):
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


def _header_type(record: ConsumerRecord) -> str:
    for name, value in record.headers or ():
        if name == "type":
            return value.decode("utf-8", "replace")
    return "unknown"


def _taken_back(conn: asyncpg.Connection) -> bool:
    """A pool proxy the pool has taken back answers every call with InterfaceError."""
    try:
        conn.is_closed()
    except asyncpg.InterfaceError:
        return True
    return False


def _usable(conn: asyncpg.Connection) -> bool:
    return not _taken_back(conn) and not conn.is_closed()


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
