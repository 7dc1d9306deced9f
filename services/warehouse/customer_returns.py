"""Customer returns (RMA) in the warehouse: an approved return is expected (ExpectReturn from the
sales saga), a person at the dock records the goods received, then inspects them: each unit is
restocked (back on the shelf at the cost it left with, ledger kind 'returned') or scrapped (received
and written off: 'returned' then 'scrapped'). ReturnReceived and ReturnInspected tell the saga.
Each step happens once per RMA; a repeated command re-announces."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from contracts import warehouse
from contracts.common import StockLine
from services.runtime.consumer import Consumer
from services.runtime.outbox import Tx
from services.warehouse import costing, rules


class ReturnRefused(Exception):
    """Why a receipt or an inspection cannot be recorded (HTTP 409), with the reason."""


def _lines(raw: Any) -> list[StockLine]:
    return [StockLine.model_validate(line) for line in raw or []]


def _quantities(lines: list[StockLine]) -> dict[str, int]:
    return rules.merge_lines(lines)


def _as_lines(quantities: dict[str, int]) -> list[StockLine]:
    return [StockLine(sku=sku, quantity=q) for sku, q in sorted(quantities.items()) if q > 0]


async def lock(conn: asyncpg.Connection, rma: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM customer_returns WHERE rma = $1 FOR UPDATE", rma)


def register(consumer: Consumer) -> None:
    @consumer.on(warehouse.ExpectReturn)
    async def expect(tx: Tx, cmd: warehouse.ExpectReturn) -> None:
        await tx.conn.execute(
            "INSERT INTO customer_returns (rma, order_id, lines, reason, status) VALUES ($1, $2, $3, $4, 'expected')"
            " ON CONFLICT DO NOTHING", cmd.rma, cmd.order_id, [line.model_dump() for line in cmd.lines], cmd.reason)
        await tx.emit(warehouse.ReturnExpected(rma=cmd.rma, order_id=cmd.order_id), key=cmd.order_id)


async def receive(tx: Tx, rma: str, lines: list[StockLine] | None) -> dict[str, Any]:
    """The goods arrived (default: everything expected). More than expected is refused."""
    row = await lock(tx.conn, rma)
    if row is None:
        raise LookupError(f"no return {rma} is expected")
    if row["status"] != "expected":
        raise ReturnRefused(f"{rma} was already received ({row['status']})")
    expected = _quantities(_lines(row["lines"]))
    got = _quantities(lines) if lines else expected
    beyond = [f"{sku}: {q} received, {expected.get(sku, 0)} expected" for sku, q in got.items()
              if q > expected.get(sku, 0)]
    if beyond:
        raise ReturnRefused("more than the approved return: " + "; ".join(beyond))
    received = _as_lines(got)
    await tx.conn.execute(
        "UPDATE customer_returns SET status = 'received', received = $2, received_at = now(), received_by = $3"
        " WHERE rma = $1", rma, [line.model_dump() for line in received],
        tx.initiator.model_dump() if tx.initiator else None)
    await tx.emit(warehouse.ReturnReceived(rma=rma, order_id=row["order_id"], lines=received), key=row["order_id"],
                  correlation_id=row["order_id"])
    return {"rma": rma, "order_id": row["order_id"], "status": "received",
            "lines": [line.model_dump() for line in received]}


async def inspect(tx: Tx, rma: str, restock: dict[str, int], scrap: dict[str, int], move) -> dict[str, Any]:
    """Restock or scrap every received unit. `move` is the warehouse's one way to change stock
    (handlers._move), so that the ledger and the levels stay one."""
    row = await lock(tx.conn, rma)
    if row is None:
        raise LookupError(f"no return {rma}")
    if row["status"] != "received":
        raise ReturnRefused(f"{rma} is {row['status']}: it is inspected once, after it is received")
    received = _quantities(_lines(row["received"]))
    try:
        costing.check_inspection(received, restock, scrap)
    except costing.InspectionError as exc:
        raise ReturnRefused(str(exc)) from exc
    order_id = row["order_id"]
    restocked_value = Decimal("0.00")
    for sku in sorted(received):
        level = await tx.conn.fetchrow("SELECT * FROM stock WHERE sku = $1 FOR UPDATE", sku)
        if level is None:
            await tx.conn.execute("INSERT INTO stock (sku, name, on_hand, weight_kg) VALUES ($1, $1, 0, 0)", sku)
            level = await tx.conn.fetchrow("SELECT * FROM stock WHERE sku = $1 FOR UPDATE", sku)
        shipped = await tx.conn.fetch(
            "SELECT -delta_on_hand AS quantity, unit_cost FROM stock_movements WHERE order_id = $1 AND sku = $2"
            " AND kind = 'shipped'", order_id, sku)
        cost = costing.shipped_unit_cost([(r["quantity"], r["unit_cost"]) for r in shipped],
                                         level["unit_cost"] or level["standard_cost"] or Decimal(0))
        back, gone = restock.get(sku, 0), scrap.get(sku, 0)
        if back:
            average = costing.moving_average(level["on_hand"], level["unit_cost"], back, cost)
            await tx.conn.execute("UPDATE stock SET unit_cost = $2 WHERE sku = $1", sku, average)
            restocked_value += costing.value(back, cost)
        await move(tx, sku, order_id, on_hand=back + gone, kind="returned", reason=f"returned {rma}", unit_cost=cost)
        if gone:
            await move(tx, sku, order_id, on_hand=-gone, kind="scrapped", reason=f"scrapped {rma}", unit_cost=cost)
    restocked, scrapped = _as_lines(restock), _as_lines(scrap)
    await tx.conn.execute(
        "UPDATE customer_returns SET status = 'inspected', restocked = $2, scrapped = $3, restocked_cost = $4,"
        " inspected_at = now(), inspected_by = $5 WHERE rma = $1", rma, [line.model_dump() for line in restocked],
        [line.model_dump() for line in scrapped], restocked_value, tx.initiator.model_dump() if tx.initiator else None)
    await tx.emit(warehouse.ReturnInspected(rma=rma, order_id=order_id, restocked=restocked, scrapped=scrapped,
                                            restocked_cost=restocked_value), key=order_id, correlation_id=order_id)
    return {"rma": rma, "order_id": order_id, "status": "inspected", "restocked_cost": restocked_value,
            "restocked": [line.model_dump() for line in restocked], "scrapped": [line.model_dump() for line in scrapped]}


async def listing(pool: asyncpg.Pool, order_id: str | None, status: str | None) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM customer_returns WHERE ($1::text IS NULL OR order_id = $1)"
                            " AND ($2::text IS NULL OR status = $2) ORDER BY expected_at", order_id, status)
    return [dict(r) for r in rows]
