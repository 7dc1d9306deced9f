"""Dead letters of one service: recorded by the consumer, listed, shown, replayed, skipped, purged by
an operator (HTTP: dead_letter_api.py; CLI: `orderflow dlq`).

Replay: the record goes back through this service's own `<service>.replay.v1` topic (not the
original topic: a department may not write its command topic or another department's events, and
the catalogue stays the only source of permissions), through the outbox, with the original key,
a NEW message id (the original one is in the inbox as dead-lettered) and `replay_of` in the
envelope naming the dead letter and the original topic, as which the consumer then handles it. The
dead letter becomes `replayed` in the same transaction, so a second replay is refused (409) and the
replayed message is published exactly once. If the replay fails again it is a new dead letter
(`replay_of` = the first one): an operator decides again; nothing is ever replayed automatically,
so nothing loops. Every replay, skip and purge is recorded in `dead_letter_actions` with who and when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import ValidationError

from contracts.envelope import Envelope, Initiator, ReplayOf, message_types
from contracts.topics import replay_topic
from services.runtime.metrics import DEAD_LETTER_ACTIONS
from services.runtime.outbox import enqueue_raw

COLUMNS = ("id, topic, kafka_partition, kafka_offset, message_type, reason, raw_value, created_at, message_key,"
           " headers, message_id, origin_topic, replay_of, status, resolved_at, resolved_by, replayed_as")
SUMMARY = ("id, topic, kafka_partition, kafka_offset, message_type, reason, created_at, message_key, message_id,"
           " origin_topic, replay_of, status, resolved_at, resolved_by, replayed_as")
STATUSES = ("open", "replayed", "skipped")


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The dead letter is not open (already replayed or skipped), or cannot be replayed as it is."""


class Invalid(ValueError):
    def __init__(self, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


@dataclass(frozen=True)
class Filter:
    status: str | None = "open"          # None: any
    reason: str | None = None            # substring, case-insensitive
    from_id: int | None = None
    to_id: int | None = None
    older_than: float | None = None      # seconds
    newer_than: float | None = None
    message_type: str | None = None

    def where(self, first_arg: int = 1) -> tuple[str, list[Any]]:
        clauses, args = [], []

        def add(sql: str, value: Any) -> None:
            args.append(value)
            clauses.append(sql.format(f"${first_arg + len(args) - 1}"))
        if self.status:
            add("status = {}", self.status)
        if self.reason:
            add("reason ILIKE '%' || {} || '%'", self.reason)
        if self.from_id is not None:
            add("id >= {}", self.from_id)
        if self.to_id is not None:
            add("id <= {}", self.to_id)
        if self.older_than is not None:
            add("created_at <= now() - make_interval(secs => {})", self.older_than)
        if self.newer_than is not None:
            add("created_at >= now() - make_interval(secs => {})", self.newer_than)
        if self.message_type:
            add("message_type = {}", self.message_type)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    for key in ("replayed_as",):
        if row.get(key) is not None:
            row[key] = str(row[key])
    return row


# --- recording (the consumer) --------------------------------------------------------------------

async def record(conn: asyncpg.Connection, *, topic: str, partition: int, offset: int, message_type: str | None,
                 reason: str, raw_value: str, message_key: str | None, headers: dict[str, str],
                 message_id: str | None, origin_topic: str, replay_of: int | None) -> bool:
    """Insert a dead letter (once per coordinates). False when it was already there."""
    inserted = await conn.fetchval(
        "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, message_type, reason, raw_value,"
        " message_key, headers, message_id, origin_topic, replay_of)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        "  (SELECT id FROM dead_letters WHERE id = $11))"      # NULL if that letter was purged meanwhile
        " ON CONFLICT DO NOTHING RETURNING true",
        topic, partition, offset, message_type, reason, raw_value, message_key, headers, message_id, origin_topic,
        replay_of)
    return bool(inserted)


# --- reading ------------------------------------------------------------------------------------

async def search(pool: asyncpg.Pool, where: Filter, limit: int = 50) -> list[dict[str, Any]]:
    sql, args = where.where()
    rows = await pool.fetch(f"SELECT {SUMMARY} FROM dead_letters{sql} ORDER BY id DESC LIMIT ${len(args) + 1}",
                            *args, limit)
    return [_row(r) for r in rows]


async def show(pool: asyncpg.Pool, letter_id: int) -> dict[str, Any]:
    row = await pool.fetchrow(f"SELECT {COLUMNS} FROM dead_letters WHERE id = $1", letter_id)
    if row is None:
        raise NotFound(f"no dead letter {letter_id}")
    actions = await pool.fetch(
        "SELECT action, at, subject, name, role, new_message_id, note, detail FROM dead_letter_actions"
        " WHERE dead_letter_id = $1 ORDER BY id", letter_id)
    return {**_row(row), "actions": [_row(a) | {"new_message_id": str(a["new_message_id"]) if a["new_message_id"]
                                                else None} for a in actions]}


# --- operator actions ---------------------------------------------------------------------------

async def _log(conn: asyncpg.Connection, letter_id: int, action: str, by: Initiator, *, new_message_id: uuid.UUID |
               None = None, note: str | None = None, detail: dict | None = None) -> None:
    await conn.execute(
        "INSERT INTO dead_letter_actions (dead_letter_id, action, subject, name, role, new_message_id, note, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        letter_id, action, by.subject, by.name, by.role, new_message_id, note, detail)


async def _lock_open(conn: asyncpg.Connection, letter_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM dead_letters WHERE id = $1 FOR UPDATE", letter_id)
    if row is None:
        raise NotFound(f"no dead letter {letter_id}")
    if row["status"] != "open":
        raise Conflict(f"dead letter {letter_id} is already {row['status']} (by {row['resolved_by']} at "
                       f"{row['resolved_at']:%Y-%m-%d %H:%M:%S}Z)")
    return row


def _original_envelope(row: asyncpg.Record) -> dict[str, Any] | None:
    raw = row["raw_value"] or ""
    if raw.startswith("base64:"):
        return None
    try:
        return Envelope.model_validate_json(raw).model_dump(mode="json")
    except ValidationError:
        return None


def build_replay(service: str, row: asyncpg.Record, *, payload: dict | None, envelope: dict | None,
                 logical_topic: str) -> Envelope:
    """The record a replay publishes: the original envelope (or the operator's corrected one), the
    payload replaced if given and valid for its type, a new message id and `replay_of`."""
    base = envelope or _original_envelope(row)
    if base is None:
        raise Conflict(f"dead letter {row['id']} is not a message envelope ({row['reason']}); replay it with a "
                       "corrected envelope")
    if payload is not None:
        base = {**base, "payload": payload}
    try:
        candidate = Envelope.model_validate(base)
    except ValidationError as exc:
        raise Invalid("the corrected envelope is not valid", exc.errors(include_url=False)) from None
    model = message_types().get(candidate.type)
    if model is None:
        raise Invalid(f"unknown message type {candidate.type!r}")
    try:
        model.model_validate(candidate.payload)
    except ValidationError as exc:
        raise Invalid(f"the payload is not a valid {candidate.type}", exc.errors(include_url=False)) from None
    return candidate.model_copy(update={
        "message_id": uuid.uuid4(),
        "replay_of": ReplayOf(service=service, dead_letter_id=row["id"], original_topic=logical_topic,
                              original_message_id=row["message_id"]),
    })


async def replay(pool: asyncpg.Pool, service: str, letter_id: int, by: Initiator, *, logical_topic_of,
                 payload: dict | None = None, envelope: dict | None = None, note: str | None = None,
                 dry_run: bool = False) -> dict[str, Any]:
    """Replay one open dead letter through `<service>.replay.v1` (see the module docstring)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock_open(conn, letter_id)
        original_topic = row["origin_topic"] or logical_topic_of(row["topic"])
        message = build_replay(service, row, payload=payload, envelope=envelope, logical_topic=original_topic)
        body = message.model_dump(mode="json")
        answer = {"dead_letter_id": letter_id, "topic": replay_topic(service), "counts_as": original_topic,
                  "key": row["message_key"], "message_id": str(message.message_id), "envelope": body,
                  "dry_run": dry_run}
        if dry_run:
            return answer
        await enqueue_raw(conn, topic=replay_topic(service), key=row["message_key"], message_type=message.type,
                          envelope=body, message_id=message.message_id)
        await conn.execute("UPDATE dead_letters SET status = 'replayed', resolved_at = now(), resolved_by = $2,"
                           " replayed_as = $3 WHERE id = $1", letter_id, by.subject, message.message_id)
        await _log(conn, letter_id, "replay", by, new_message_id=message.message_id, note=note,
                   detail={"corrected": payload is not None or envelope is not None})
    DEAD_LETTER_ACTIONS.labels(service, "replay").inc()
    return answer


async def skip(pool: asyncpg.Pool, service: str, letter_id: int, by: Initiator, note: str | None = None) -> dict:
    async with pool.acquire() as conn, conn.transaction():
        await _lock_open(conn, letter_id)
        await conn.execute("UPDATE dead_letters SET status = 'skipped', resolved_at = now(), resolved_by = $2"
                           " WHERE id = $1", letter_id, by.subject)
        await _log(conn, letter_id, "skip", by, note=note)
    DEAD_LETTER_ACTIONS.labels(service, "skip").inc()
    return {"dead_letter_id": letter_id, "status": "skipped"}


async def purge(pool: asyncpg.Pool, service: str, where: Filter, by: Initiator, *, dry_run: bool = False,
                note: str | None = None) -> dict[str, Any]:
    """Delete the matching dead letters from the table (the DLQ topic keeps its records until its
    retention). Open ones only when the filter asks for status 'open' or any status explicitly."""
    sql, args = where.where()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(f"SELECT id, status, reason, message_type FROM dead_letters{sql} ORDER BY id FOR UPDATE",
                                *args)
        ids = [r["id"] for r in rows]
        if not dry_run and ids:
            for r in rows:
                await _log(conn, r["id"], "purge", by, note=note,
                           detail={"status": r["status"], "reason": r["reason"], "message_type": r["message_type"]})
            await conn.execute("DELETE FROM dead_letters WHERE id = ANY($1::bigint[])", ids)
    if not dry_run and ids:
        DEAD_LETTER_ACTIONS.labels(service, "purge").inc(len(ids))
    return {"purged": [] if dry_run else ids, "matched": ids, "dry_run": dry_run}
