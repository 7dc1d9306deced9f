"""Procurement's supplier risks (contracts/risk.py, kind `supplier`), per purchase order:
`no_confirmation` (half the confirmation window passed without an answer), `promise_late` (the
promised date is after the date needed; a person decides), `late_delivery` (the promised date
passed without the goods). Each closes when its cause goes away: confirmed, accepted, delivered,
abandoned or cancelled. The periodic sweep (ORDERFLOW_PROCUREMENT_SWEEP_SECONDS) finds silence and
late deliveries."""

from __future__ import annotations

import datetime as dt

import asyncpg

from contracts.risk import RiskKind, RiskSubject, Severity
from services.runtime import risks
from services.runtime.outbox import Tx

CAUSES = ("no_confirmation", "promise_late", "late_delivery")


def subject(po: asyncpg.Record) -> RiskSubject:
    return RiskSubject(order_id=po["order_id"], sku=po["sku"], supplier_id=po["supplier_id"],
                       purchase_order_id=po["purchase_order_id"])


async def promise_late(tx: Tx, po: asyncpg.Record, promised: dt.date, needed_by: dt.date) -> None:
    await risks.raise_risk(tx, kind=RiskKind.SUPPLIER, cause="promise_late", subject=subject(po),
                           summary=f"{po['supplier_id']} promises {po['quantity']}x {po['sku']} ({po['purchase_order_id']}) "
                                   f"for {promised.isoformat()}, needed by {needed_by.isoformat()}",
                           severity=Severity.WARNING)


async def settle(tx: Tx, purchase_order_id: str, reason: str, causes: tuple[str, ...] = CAUSES) -> None:
    """The purchase order's risks whose cause went away."""
    for cause in causes:
        await risks.close(tx, RiskKind.SUPPLIER, cause, purchase_order_id, reason)


async def sweep(pool: asyncpg.Pool) -> int:
    raised = 0
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, "procurement")
        silent = await conn.fetch(
            "SELECT * FROM purchase_orders WHERE status = 'placed' AND confirm_by IS NOT NULL"
            " AND now() >= created_at + (confirm_by - created_at) / 2")
        for po in silent:
            raised += await risks.raise_risk(
                tx, kind=RiskKind.SUPPLIER, cause="no_confirmation", subject=subject(po), severity=Severity.WARNING,
                summary=f"{po['supplier_id']} has not confirmed {po['purchase_order_id']} ({po['quantity']}x "
                        f"{po['sku']}); the next supplier gets it at {po['confirm_by'].isoformat(timespec='seconds')}")
        overdue = await conn.fetch(
            "SELECT * FROM purchase_orders WHERE status IN ('confirmed', 'late') AND delivered_quantity IS NULL"
            " AND delivery_date < current_date")
        for po in overdue:
            raised += await risks.raise_risk(
                tx, kind=RiskKind.SUPPLIER, cause="late_delivery", subject=subject(po), severity=Severity.CRITICAL,
                summary=f"{po['supplier_id']} promised {po['purchase_order_id']} ({po['quantity']}x {po['sku']}) "
                        f"for {po['delivery_date'].isoformat()}; nothing has arrived")
    return raised
