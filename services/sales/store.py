"""Sales persistence: orders (the saga document plus queryable columns) and the order timeline."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.common import Address
from contracts.envelope import Envelope, Initiator
from services.sales.saga import Order, Timings, next_check


async def price_list(conn: asyncpg.Connection) -> dict[str, Decimal]:
    return {r["sku"]: r["list_price"] for r in await conn.fetch("SELECT sku, list_price FROM products WHERE active")}


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


async def insert(conn: asyncpg.Connection, order: Order, *, channel: str, external_ref: str | None,
                 placed_by: str | None) -> None:
    await conn.execute(
        "INSERT INTO orders (order_id, order_number, customer_id, order_type, payment_method, fulfilment_policy,"
        " channel, external_ref, lines, total, delivery_address, requested_delivery_date, status, saga, placed_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        uuid.UUID(order.order_id), order.number, order.customer_id, order.order_type.value,
        order.payment_method.value, order.fulfilment_policy.value, channel, external_ref,
        [line.model_dump(mode="json") for line in order.lines], order.total,
        order.address.model_dump(mode="json"), order.requested_delivery_date, order.status.value,
        order.model_dump(mode="json"), placed_by,
    )


async def placed_by(conn: asyncpg.Connection, order_id: str) -> str | None:
    return await conn.fetchval("SELECT placed_by FROM orders WHERE order_id = $1", uuid.UUID(order_id))


async def lock(conn: asyncpg.Connection, order_id: str) -> Order | None:
    """Load an order for update: the row lock serialises everything that happens to one order."""
    try:
        key = uuid.UUID(order_id)
    except ValueError:
        return None
    saga = await conn.fetchval("SELECT saga FROM orders WHERE order_id = $1 FOR UPDATE", key)
    return Order.model_validate(saga) if saga else None


async def save(conn: asyncpg.Connection, order: Order, timings: Timings) -> None:
    await conn.execute(
        "UPDATE orders SET status = $2, status_reason = $3, saga = $4, lines = $5, total = $6,"
        " delivery_address = $7, requested_delivery_date = $8, revision = $9, next_check_at = $10,"
        " version = version + 1, updated_at = now() WHERE order_id = $1",
        uuid.UUID(order.order_id), order.status.value, order.status_reason, order.model_dump(mode="json"),
        [line.model_dump(mode="json") for line in order.lines], order.total, order.address.model_dump(mode="json"),
        order.requested_delivery_date, order.revision, next_check(order, timings),
    )


async def due_orders(conn: asyncpg.Connection, now: dt.datetime, limit: int = 100) -> list[str]:
    rows = await conn.fetch("SELECT order_id FROM orders WHERE next_check_at <= $1 ORDER BY next_check_at"
                            " LIMIT $2", now, limit)
    return [str(r["order_id"]) for r in rows]


async def add_timeline(conn: asyncpg.Connection, order_id: str, *, department: str, kind: str, type_: str,
                       detail: dict[str, Any] | None = None, message_id: uuid.UUID | None = None,
                       initiated_by: Initiator | None = None) -> None:
    await conn.execute(
        "INSERT INTO order_timeline (order_id, department, kind, type, message_id, detail, initiated_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        uuid.UUID(order_id), department, kind, type_, message_id, detail or {},
        initiated_by.model_dump() if initiated_by else None,
    )


async def add_action(conn: asyncpg.Connection, order_id: str, action: str, by: Initiator,
                     detail: dict[str, Any] | None = None) -> None:
    """A person's request on the timeline (place, approve, change, cancel, compensation retry), naming them."""
    await add_timeline(conn, order_id, department="sales", kind="action", type_=action, initiated_by=by,
                       detail={"user": by.subject, "name": by.name, "role": by.role, **(detail or {})})


async def add_event_to_timeline(conn: asyncpg.Connection, order_id: str, envelope: Envelope) -> None:
    await add_timeline(conn, order_id, department=envelope.producer, kind="event", type_=envelope.type,
                       detail=envelope.payload, message_id=envelope.message_id, initiated_by=envelope.initiated_by)


async def get(pool: asyncpg.Pool, order_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
    if row is None:
        return None
    timeline = await pool.fetch(
        "SELECT at, department, kind, type, detail, initiated_by FROM order_timeline WHERE order_id = $1 ORDER BY id",
        order_id)
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
        "placed_by": row["placed_by"],
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


# --- metrics (read at each scrape, services/runtime/metrics.py) ---------------------------------------

async def orders_by_status(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["status"]: r["n"] for r in await pool.fetch("SELECT status, count(*) AS n FROM orders GROUP BY status")}


async def needing_a_person(pool: asyncpg.Pool) -> tuple[int, int]:
    """(orders with an open saga alert, compensations parked for a person)."""
    row = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE jsonb_array_length(COALESCE(saga->'alerts', '[]')) > 0) AS alerts,"
        " COALESCE(sum((SELECT count(*) FROM jsonb_array_elements(COALESCE(saga->'compensations', '[]')) c"
        "   WHERE (c->>'parked')::boolean)), 0) AS parked"
        " FROM orders WHERE jsonb_array_length(COALESCE(saga->'alerts', '[]')) > 0"
        " OR saga->'compensations' @> '[{\"parked\": true}]'")
    return int(row["alerts"]), int(row["parked"])


async def placed_at(conn: asyncpg.Connection, order_id: str) -> dt.datetime | None:
    return await conn.fetchval("SELECT created_at FROM orders WHERE order_id = $1", uuid.UUID(order_id))
