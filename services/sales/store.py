"""Sales persistence: orders (the saga document plus queryable columns) and the order timeline."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
from pydantic_core import to_json

from contracts.common import Address
from contracts.envelope import Envelope
from services.sales.saga import Order, Timings, next_check


async def price_list(conn: asyncpg.Connection, skus: list[str] | None = None) -> dict[str, Decimal]:
    """List prices of active products (only of `skus` when given)."""
    rows = await conn.fetch("SELECT sku, list_price FROM products WHERE active"
                            " AND ($1::text[] IS NULL OR sku = ANY($1::text[]))", skus)
    return {r["sku"]: r["list_price"] for r in rows}


async def customer_address(conn: asyncpg.Connection, customer_id: str) -> Address | None:
    raw = await conn.fetchval("SELECT default_address FROM customers WHERE customer_id = $1", customer_id)
    return Address.model_validate(raw) if raw else None


async def find_by_external_ref(conn: asyncpg.Connection, channel: str, external_ref: str) -> str | None:
    found = await conn.fetchval("SELECT order_id FROM orders WHERE channel = $1 AND external_ref = $2",
                                channel, external_ref)
    return str(found) if found else None


async def next_number(conn: asyncpg.Connection) -> str:
    seq = await conn.fetchval("SELECT nextval('order_number_seq')")
    return f"SO-{seq:06d}"


async def insert(conn: asyncpg.Connection, order: Order, timings: Timings, *, channel: str,
                 external_ref: str | None) -> None:
    """A new order, already in the state its saga's first decision put it in (one write, not an
    insert followed by an update)."""
    await conn.execute(
        "INSERT INTO orders (order_id, order_number, customer_id, order_type, payment_method, fulfilment_policy,"
        " channel, external_ref, lines, total, delivery_address, requested_delivery_date, status, saga,"
        " status_reason, revision, next_check_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::text::jsonb, $15, $16, $17)",
        uuid.UUID(order.order_id), order.number, order.customer_id, order.order_type.value,
        order.payment_method.value, order.fulfilment_policy.value, channel, external_ref,
        [line.model_dump(mode="json") for line in order.lines], order.total,
        order.address.model_dump(mode="json"), order.requested_delivery_date, order.status.value,
        order.model_dump_json(), order.status_reason, order.revision, next_check(order, timings),
    )


async def lock(conn: asyncpg.Connection, order_id: str) -> Order | None:
    """Load an order for update: the row lock serialises everything that happens to one order."""
    try:
        key = uuid.UUID(order_id)
    except ValueError:
        return None
    # The saga document as text, parsed by pydantic in one pass (not json.loads, then validated).
    saga = await conn.fetchval("SELECT saga::text FROM orders WHERE order_id = $1 FOR UPDATE", key)
    return Order.model_validate_json(saga) if saga else None


async def save(conn: asyncpg.Connection, order: Order, timings: Timings) -> None:
    await conn.execute(
        "UPDATE orders SET status = $2, status_reason = $3, saga = $4::text::jsonb, lines = $5, total = $6,"
        " delivery_address = $7, requested_delivery_date = $8, revision = $9, next_check_at = $10,"
        " version = version + 1, updated_at = now() WHERE order_id = $1",
        uuid.UUID(order.order_id), order.status.value, order.status_reason, order.model_dump_json(),
        [line.model_dump(mode="json") for line in order.lines], order.total, order.address.model_dump(mode="json"),
        order.requested_delivery_date, order.revision, next_check(order, timings),
    )


async def due_orders(conn: asyncpg.Connection, now: dt.datetime, limit: int = 100) -> list[str]:
    rows = await conn.fetch("SELECT order_id FROM orders WHERE next_check_at <= $1 ORDER BY next_check_at"
                            " LIMIT $2", now, limit)
    return [str(r["order_id"]) for r in rows]


TimelineRow = tuple[uuid.UUID, str, str, str, "uuid.UUID | None", str]   # detail as JSON text


def timeline_row(order_id: str, *, department: str, kind: str, type_: str, detail: dict[str, Any] | None = None,
                 message_id: uuid.UUID | None = None) -> TimelineRow:
    return (uuid.UUID(order_id), department, kind, type_, message_id, to_json(detail or {}).decode())


def event_row(order_id: str, envelope: Envelope) -> TimelineRow:
    return timeline_row(order_id, department=envelope.producer, kind="event", type_=envelope.type,
                        detail=envelope.payload, message_id=envelope.message_id)


async def add_timeline_rows(conn: asyncpg.Connection, rows: list[TimelineRow]) -> None:
    """Append entries in one statement, in list order (the timeline is read in id order)."""
    if not rows:
        return
    columns = list(zip(*rows))
    await conn.execute(
        "INSERT INTO order_timeline (order_id, department, kind, type, message_id, detail)"
        " SELECT o, d, k, t, m, x::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[])"
        " WITH ORDINALITY AS r(o, d, k, t, m, x, n) ORDER BY n",
        *[list(c) for c in columns],
    )


async def get(pool: asyncpg.Pool, order_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
    if row is None:
        return None
    timeline = await pool.fetch(
        "SELECT at, department, kind, type, detail FROM order_timeline WHERE order_id = $1 ORDER BY id", order_id)
    return {**_public(row), "timeline": [dict(t) for t in timeline]}


async def list_orders(pool: asyncpg.Pool, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM orders WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC LIMIT $2",
        status, limit)
    return [_public(r) for r in rows]


def _public(row: asyncpg.Record) -> dict[str, Any]:
    saga = row["saga"] or {}
    return {
        "order_id": str(row["order_id"]),
        "order_number": row["order_number"],
        "customer_id": row["customer_id"],
        "order_type": row["order_type"],
        "payment_method": row["payment_method"],
        "fulfilment_policy": row["fulfilment_policy"],
        "channel": row["channel"],
        "external_ref": row["external_ref"],
        "status": row["status"],
        "status_reason": row["status_reason"],
        "lines": row["lines"],
        "total": str(row["total"]),
        "delivery_address": row["delivery_address"],
        "requested_delivery_date": row["requested_delivery_date"],
        "revision": row["revision"],
        "version": row["version"],
        "compensations": saga.get("compensations", []),
        "pending_change": saga.get("change"),
        "alerts": saga.get("alerts", []),
        "saga": saga,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
