"""Sales persistence: orders (the saga document plus queryable columns) and the order timeline."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
from pydantic_core import to_json

from contracts import risk
from contracts.common import BASE_CURRENCY, Address
from contracts.envelope import Envelope, Initiator
from services.sales import kpis
from services.sales.saga import Order, Timings, margin, next_check


async def price_list(conn: asyncpg.Connection, currency: str = BASE_CURRENCY,
                     skus: list[str] | None = None) -> dict[str, Decimal]:
    """List prices of active products in a currency (EUR: products.list_price unless product_prices has
    one), only of `skus` when given."""
    rows = await conn.fetch(
        "SELECT p.sku, COALESCE(pp.list_price, CASE WHEN $1 = $2 THEN p.list_price END) AS price FROM products p"
        " LEFT JOIN product_prices pp ON pp.sku = p.sku AND pp.currency = $1 WHERE p.active"
        " AND ($3::text[] IS NULL OR p.sku = ANY($3::text[]))", currency, BASE_CURRENCY, skus)
    return {r["sku"]: r["price"] for r in rows if r["price"] is not None}


async def customer_currency(conn: asyncpg.Connection, customer_id: str) -> str | None:
    return await conn.fetchval("SELECT currency FROM customers WHERE customer_id = $1", customer_id)


async def order_currency(conn: asyncpg.Connection, order_id: str) -> str:
    try:
        key = uuid.UUID(order_id)
    except ValueError:
        return BASE_CURRENCY
    return await conn.fetchval("SELECT currency FROM orders WHERE order_id = $1", key) or BASE_CURRENCY


async def customer_address(conn: asyncpg.Connection, customer_id: str) -> Address | None:
    raw = await conn.fetchval("SELECT default_address FROM customers WHERE customer_id = $1", customer_id)
    return Address.model_validate(raw) if raw else None


async def review_facts(conn: asyncpg.Connection, customer_id: str, skus: list[str]) -> dict[str, Any]:
    """Master data the joint-review rules read: the customer's start and agreed terms, the
    products' review flags and lead times."""
    customer = await conn.fetchrow("SELECT customer_since, payment_terms_days FROM customers WHERE customer_id = $1",
                                   customer_id)
    products = await conn.fetch("SELECT sku, review_reason, lead_time_days FROM products WHERE sku = ANY($1::text[])",
                                skus)
    return {"customer_since": customer["customer_since"] if customer else None,
            "agreed_terms": customer["payment_terms_days"] if customer else None,
            "flagged": {p["sku"]: p["review_reason"] for p in products if p["review_reason"]},
            "lead_days": {p["sku"]: p["lead_time_days"] for p in products}}


async def find_by_external_ref(conn: asyncpg.Connection, channel: str, external_ref: str) -> str | None:
    found = await conn.fetchval("SELECT order_id FROM orders WHERE channel = $1 AND external_ref = $2",
                                channel, external_ref)
    return str(found) if found else None


async def exchange_rate(conn: asyncpg.Connection, currency: str) -> Decimal:
    """Base currency per unit of `currency` (1 for EUR; an unknown currency has no margin conversion: 1)."""
    return Decimal(await conn.fetchval("SELECT eur_rate FROM exchange_rates WHERE currency = $1", currency) or 1)


async def next_rma(conn: asyncpg.Connection) -> str:
    seq = await conn.fetchval("SELECT nextval('rma_number_seq')")
    return f"RMA-{seq:06d}"


async def orders_with_returns(pool: asyncpg.Pool, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT order_id, order_number, customer_id, r AS return FROM orders,"
        " jsonb_array_elements(COALESCE(saga->'returns', '[]')) r"
        " WHERE jsonb_array_length(COALESCE(saga->'returns', '[]')) > 0 AND ($1::text IS NULL OR r->>'status' = $1)"
        " ORDER BY r->>'requested_at' DESC LIMIT $2", status, limit)
    return [{"order_id": str(r["order_id"]), "order_number": r["order_number"], "customer_id": r["customer_id"],
             **r["return"]} for r in rows]


async def feedback(conn: asyncpg.Connection, order_id: uuid.UUID, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM order_feedback WHERE order_id = $1" + (" FOR UPDATE" if lock else ""),
                               order_id)


async def save_feedback(conn: asyncpg.Connection, order_id: uuid.UUID, customer_id: str, rating: int,
                        comment: str | None, by: dict) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO order_feedback (order_id, customer_id, rating, comment, given_by) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (order_id) DO UPDATE SET rating = $3, comment = $4, given_by = $5, updated_at = now(),"
        " revisions = order_feedback.revisions + 1 RETURNING *", order_id, customer_id, rating, comment, by)


# --- the KPIs' facts (kpis.py) ------------------------------------------------------------------

KPI_EVENTS = ("warehouse.order_dispatched", "logistics.shipment_delivered", "logistics.shipment_booked",
              "warehouse.return_inspected", "finance.credit_note_issued")


async def kpi_facts(pool: asyncpg.Pool, start: dt.datetime, end: dt.datetime,
                    customer_id: str | None) -> list[kpis.OrderFacts]:
    """Every order that may have had something to count in [start, end): placed before its end and
    touched since its start, with the times the timeline recorded and its feedback."""
    rows = await pool.fetch(
        "SELECT order_id, saga, created_at FROM orders WHERE created_at < $2 AND updated_at >= $1"
        " AND ($3::text IS NULL OR customer_id = $3)", start, end, customer_id)
    facts = {r["order_id"]: kpis.OrderFacts(Order.model_validate(r["saga"]), r["created_at"]) for r in rows if r["saga"]}
    ids = list(facts)
    for e in await pool.fetch("SELECT order_id, type, at, detail FROM order_timeline WHERE order_id = ANY($1::uuid[])"
                              " AND kind = 'event' AND type = ANY($2::text[]) ORDER BY id", ids, list(KPI_EVENTS)):
        f, d = facts[e["order_id"]], e["detail"]
        if e["type"] == "warehouse.order_dispatched":
            f.dispatched_at.setdefault(d["shipment_id"], e["at"])
        elif e["type"] == "logistics.shipment_delivered":
            f.delivered_at.setdefault(d["shipment_id"], dt.datetime.fromisoformat(d["delivered_at"]))
        elif e["type"] == "logistics.shipment_booked":
            f.eta[d["shipment_id"]] = dt.date.fromisoformat(d["eta"])
        elif e["type"] == "warehouse.return_inspected":
            f.inspected_at.setdefault(d["rma"], e["at"])
        elif e["type"] == "finance.credit_note_issued" and d.get("kind") == "manual":
            f.corrected_at.append(e["at"])
    for r in await pool.fetch("SELECT order_id, rating FROM order_feedback WHERE order_id = ANY($1::uuid[])", ids):
        facts[r["order_id"]].rating = r["rating"]
    return list(facts.values())


async def stock_snapshots(pool: asyncpg.Pool, start: dt.datetime, end: dt.datetime,
                          sku: str | None) -> list[kpis.Snapshot]:
    rows = await pool.fetch("SELECT snapshot_id, taken_at, sku, value FROM stock_valuations"
                            " WHERE taken_at >= $1 AND taken_at < $2 AND ($3::text IS NULL OR sku = $3)", start, end, sku)
    return [kpis.Snapshot(r["snapshot_id"], r["taken_at"], r["sku"], r["value"]) for r in rows]


async def record_stock_valuation(conn: asyncpg.Connection, snapshot_id: str, taken_at: dt.datetime,
                                 skus: list[Any]) -> None:
    await conn.executemany(
        "INSERT INTO stock_valuations (snapshot_id, taken_at, sku, on_hand, unit_cost, value)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        [(snapshot_id, taken_at, s.sku, s.on_hand, s.unit_cost, s.value) for s in skus])


async def latest_valuation(pool: asyncpg.Pool) -> dt.datetime | None:
    return await pool.fetchval("SELECT max(taken_at) FROM stock_valuations")


async def saga_document(pool: asyncpg.Pool, order_id: uuid.UUID) -> dict[str, Any] | None:
    return await pool.fetchval("SELECT saga FROM orders WHERE order_id = $1", order_id)


async def next_number(conn: asyncpg.Connection) -> str:
    seq = await conn.fetchval("SELECT nextval('order_number_seq')")
    return f"SO-{seq:06d}"


async def insert(conn: asyncpg.Connection, order: Order, timings: Timings, *, channel: str,
                 external_ref: str | None, placed_by: str | None) -> None:
    """A new order, already in the state its saga's first decision put it in (one write, not an
    insert followed by an update)."""
    await conn.execute(
        "INSERT INTO orders (order_id, order_number, customer_id, order_type, payment_method, fulfilment_policy,"
        " channel, external_ref, lines, total, delivery_address, requested_delivery_date, status, saga,"
        " status_reason, revision, next_check_at, placed_by, currency)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::text::jsonb, $15, $16, $17, $18, $19)",
        uuid.UUID(order.order_id), order.number, order.customer_id, order.order_type.value,
        order.payment_method.value, order.fulfilment_policy.value, channel, external_ref,
        [line.model_dump(mode="json") for line in order.lines], order.total,
        order.address.model_dump(mode="json"), order.requested_delivery_date, order.status.value,
        order.model_dump_json(), order.status_reason, order.revision, next_check(order, timings), placed_by,
        order.currency,
    )


async def placed_by(conn: asyncpg.Connection, order_id: str) -> str | None:
    return await conn.fetchval("SELECT placed_by FROM orders WHERE order_id = $1", uuid.UUID(order_id))


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


async def order_exists(conn: asyncpg.Connection, order_id: str | None) -> bool:
    try:
        key = uuid.UUID(order_id or "")
    except ValueError:
        return False
    return bool(await conn.fetchval("SELECT true FROM orders WHERE order_id = $1", key))


# --- the risk feed's read model (GET /risks) ------------------------------------------------------

async def upsert_risk(conn: asyncpg.Connection, r: risk.RiskRaised) -> None:
    """A raised risk is open; raised again (same id) it is updated, and reopened if it was closed."""
    await conn.execute(
        "INSERT INTO risks (risk_id, kind, cause, severity, department, owner_role, summary, subject, status,"
        " raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9)"
        " ON CONFLICT (risk_id) DO UPDATE SET severity = EXCLUDED.severity, summary = EXCLUDED.summary,"
        " subject = EXCLUDED.subject, owner_role = EXCLUDED.owner_role, updated_at = now(),"
        " raised_at = CASE WHEN risks.status = 'closed' THEN EXCLUDED.raised_at ELSE risks.raised_at END,"
        " status = 'open', closed_at = NULL, closed_reason = NULL",
        r.risk_id, r.kind.value, r.cause, r.severity.value, r.department, r.owner_role, r.summary,
        r.subject.model_dump(mode="json", exclude_none=True), r.detected_at)


async def close_risk(conn: asyncpg.Connection, r: risk.RiskClosed) -> None:
    await conn.execute(
        "INSERT INTO risks (risk_id, kind, cause, severity, department, owner_role, summary, subject, status,"
        " raised_at, closed_at, closed_reason) VALUES ($1, $2, $3, 'info', $4, $4, $5, $6, 'closed', $7, $7, $5)"
        " ON CONFLICT (risk_id) DO UPDATE SET status = 'closed', closed_at = EXCLUDED.closed_at,"
        " closed_reason = EXCLUDED.closed_reason, updated_at = now()",
        r.risk_id, r.kind.value, r.cause, r.department, r.reason, r.subject.model_dump(mode="json", exclude_none=True),
        r.closed_at)


async def list_risks(pool: asyncpg.Pool, *, status: str | None, kinds: list[str], department: str | None,
                     order_id: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM risks WHERE ($1::text IS NULL OR status = $1) AND kind = ANY($2::text[])"
        " AND ($3::text IS NULL OR department = $3) AND ($4::text IS NULL OR subject->>'order_id' = $4)"
        " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, raised_at DESC LIMIT $5",
        status, kinds, department, order_id, limit)
    return [dict(r) for r in rows]


TimelineRow = tuple[uuid.UUID, str, str, str, "uuid.UUID | None", str, "str | None"]   # detail, initiated_by: JSON


def timeline_row(order_id: str, *, department: str, kind: str, type_: str, detail: dict[str, Any] | None = None,
                 message_id: uuid.UUID | None = None, initiated_by: Initiator | None = None) -> TimelineRow:
    return (uuid.UUID(order_id), department, kind, type_, message_id, to_json(detail or {}).decode(),
            initiated_by.model_dump_json() if initiated_by else None)


def event_row(order_id: str, envelope: Envelope) -> TimelineRow:
    return timeline_row(order_id, department=envelope.producer, kind="event", type_=envelope.type,
                        detail=envelope.payload, message_id=envelope.message_id, initiated_by=envelope.initiated_by)


async def add_timeline_rows(conn: asyncpg.Connection, rows: list[TimelineRow]) -> None:
    """Append entries in one statement, in list order (the timeline is read in id order)."""
    if not rows:
        return
    columns = list(zip(*rows))
    await conn.execute(
        "INSERT INTO order_timeline (order_id, department, kind, type, message_id, detail, initiated_by)"
        " SELECT o, d, k, t, m, x::jsonb, i::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],"
        " $5::uuid[], $6::text[], $7::text[]) WITH ORDINALITY AS r(o, d, k, t, m, x, i, n) ORDER BY n",
        *[list(c) for c in columns],
    )


async def add_timeline(conn: asyncpg.Connection, order_id: str, *, department: str, kind: str, type_: str,
                       detail: dict[str, Any] | None = None, message_id: uuid.UUID | None = None,
                       initiated_by: Initiator | None = None) -> None:
    await add_timeline_rows(conn, [timeline_row(order_id, department=department, kind=kind, type_=type_,
                                                detail=detail, message_id=message_id, initiated_by=initiated_by)])


async def add_action(conn: asyncpg.Connection, order_id: str, action: str, by: Initiator,
                     detail: dict[str, Any] | None = None) -> None:
    """A person's request on the timeline (place, approve, change, cancel, compensation retry), naming them."""
    await add_timeline(conn, order_id, department="sales", kind="action", type_=action, initiated_by=by,
                       detail={"user": by.subject, "name": by.name, "role": by.role, **(detail or {})})


async def add_event_to_timeline(conn: asyncpg.Connection, order_id: str, envelope: Envelope) -> None:
    await add_timeline_rows(conn, [event_row(order_id, envelope)])


async def get(pool: asyncpg.Pool, order_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
    if row is None:
        return None
    timeline = await pool.fetch(
        "SELECT at, department, kind, type, detail, initiated_by FROM order_timeline WHERE order_id = $1 ORDER BY id",
        order_id)
    order = Order.model_validate(row["saga"]) if row["saga"] else None
    extra = {"returns": [c.model_dump(mode="json") for c in order.returns], "margin": margin(order)} if order else {}
    return {**_public(row), **extra, "timeline": [dict(t) for t in timeline]}


async def get_by_reference(pool: asyncpg.Pool, reference: str) -> dict[str, Any] | None:
    """An order by its id (UUID) or its number (SO-000123)."""
    if reference.upper().startswith("SO-"):
        found = await pool.fetchval("SELECT order_id FROM orders WHERE order_number = $1", reference.upper())
    else:
        try:
            found = uuid.UUID(reference)
        except ValueError:
            return None
    return await get(pool, found) if found else None


async def search_orders(pool: asyncpg.Pool, *, customer_id: str | None, statuses: list[str],
                        created_from: dt.datetime | None, created_to: dt.datetime | None, order_number: str | None,
                        external_ref: str | None, channel: str | None, after: tuple[dt.datetime, uuid.UUID] | None,
                        limit: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of orders, newest first (created_at DESC, order_id DESC: a total order, so keyset
    paging never skips or repeats one). Returns (page, whether more follow)."""
    rows = await pool.fetch(
        "SELECT * FROM orders WHERE ($1::text IS NULL OR customer_id = $1)"
        " AND (cardinality($2::text[]) = 0 OR status = ANY($2::text[]))"
        " AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)"
        " AND ($5::text IS NULL OR order_number = upper($5)) AND ($6::text IS NULL OR external_ref = $6)"
        " AND ($7::text IS NULL OR channel = $7)"
        " AND ($8::timestamptz IS NULL OR (created_at, order_id) < ($8, $9::uuid))"
        " ORDER BY created_at DESC, order_id DESC LIMIT $10",
        customer_id, statuses, created_from, created_to, order_number, external_ref, channel,
        after[0] if after else None, after[1] if after else None, limit + 1)
    return [_public(r) for r in rows[:limit]], len(rows) > limit


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
        "currency": row["currency"],
        "delivery_address": row["delivery_address"],
        "requested_delivery_date": row["requested_delivery_date"],
        "revision": row["revision"],
        "version": row["version"],
        "compensations": saga.get("compensations", []),
        "pending_change": saga.get("change"),
        "review": saga.get("review"),
        "decision": saga.get("decision"),
        "alerts": saga.get("alerts", []),
        "saga": saga,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
