"""Sales persistence: orders (with their saga state) and the order timeline."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.common import Address, OrderType, PaymentMethod, PricedLine
from contracts.envelope import Envelope
from services.sales.saga import Order, Status

_SAGA_FIELDS = ("parcels", "weight_kg", "shipment_id", "carrier", "tracking_number", "invoice_number",
                "delivered", "paid", "completed_steps")


def _to_order(row: asyncpg.Record) -> Order:
    saga = row["saga"] or {}
    return Order(
        order_id=str(row["order_id"]),
        number=row["order_number"],
        customer_id=row["customer_id"],
        order_type=OrderType(row["order_type"]),
        payment_method=PaymentMethod(row["payment_method"]),
        lines=tuple(PricedLine.model_validate(line) for line in row["lines"]),
        address=Address.model_validate(row["delivery_address"]),
        requested_delivery_date=row["requested_delivery_date"],
        status=Status(row["status"]),
        **{k: (tuple(v) if k == "completed_steps" else v) for k, v in saga.items() if k in _SAGA_FIELDS},
    )


def _saga_json(order: Order) -> dict[str, Any]:
    return {k: (list(getattr(order, k)) if k == "completed_steps" else getattr(order, k)) for k in _SAGA_FIELDS}


async def price_list(conn: asyncpg.Connection) -> dict[str, Decimal]:
    return {r["sku"]: r["list_price"] for r in await conn.fetch("SELECT sku, list_price FROM products WHERE active")}


async def customer_address(conn: asyncpg.Connection, customer_id: str) -> Address | None:
    raw = await conn.fetchval("SELECT default_address FROM customers WHERE customer_id = $1", customer_id)
    return Address.model_validate(raw) if raw else None


async def find_by_external_ref(conn: asyncpg.Connection, channel: str, external_ref: str) -> str | None:
    found = await conn.fetchval("SELECT order_id FROM orders WHERE channel = $1 AND external_ref = $2",
                                channel, external_ref)
    return str(found) if found else None


async def insert(conn: asyncpg.Connection, order: Order, *, channel: str, external_ref: str | None) -> Order:
    seq = await conn.fetchval("SELECT nextval('order_number_seq')")
    number = f"SO-{seq:06d}"
    order = replace(order, number=number)
    await conn.execute(
        "INSERT INTO orders (order_id, order_number, customer_id, order_type, payment_method, channel,"
        " external_ref, lines, total, delivery_address, requested_delivery_date, status, saga)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        uuid.UUID(order.order_id), number, order.customer_id, order.order_type.value,
        order.payment_method.value, channel, external_ref,
        [line.model_dump(mode="json") for line in order.lines], order.total,
        order.address.model_dump(mode="json"), order.requested_delivery_date, order.status.value,
        _saga_json(order),
    )
    return order


async def lock(conn: asyncpg.Connection, order_id: str) -> Order | None:
    """Load an order for update: the row lock serialises everything that happens to one order."""
    try:
        key = uuid.UUID(order_id)
    except ValueError:
        return None
    row = await conn.fetchrow("SELECT * FROM orders WHERE order_id = $1 FOR UPDATE", key)
    return _to_order(row) if row else None


async def save(conn: asyncpg.Connection, order: Order, reason: str | None) -> None:
    await conn.execute(
        "UPDATE orders SET status = $2, status_reason = COALESCE($3, status_reason), saga = $4,"
        " version = version + 1, updated_at = now() WHERE order_id = $1",
        uuid.UUID(order.order_id), order.status.value, reason, _saga_json(order),
    )


async def add_timeline(conn: asyncpg.Connection, order_id: str, *, department: str, kind: str, type_: str,
                       detail: dict[str, Any] | None = None, message_id: uuid.UUID | None = None) -> None:
    await conn.execute(
        "INSERT INTO order_timeline (order_id, department, kind, type, message_id, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        uuid.UUID(order_id), department, kind, type_, message_id, detail or {},
    )


async def add_event_to_timeline(conn: asyncpg.Connection, order_id: str, envelope: Envelope) -> None:
    await add_timeline(conn, order_id, department=envelope.producer, kind="event", type_=envelope.type,
                       detail=envelope.payload, message_id=envelope.message_id)


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
    return {
        "order_id": str(row["order_id"]),
        "order_number": row["order_number"],
        "customer_id": row["customer_id"],
        "order_type": row["order_type"],
        "payment_method": row["payment_method"],
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
        "saga": row["saga"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
