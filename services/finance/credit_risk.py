"""Finance's credit risks (contracts/risk.py, kind `credit`): a customer near (90 %) or over its
credit limit, and overdue invoices. Re-assessed whenever a customer's exposure moves (a credit
hold, a release, a payment, a credit note, a refund, a change); overdue invoices by a periodic
sweep (ORDERFLOW_OVERDUE_SWEEP_SECONDS). Each closes when its cause goes away."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import asyncpg

from contracts.risk import RiskKind, RiskSubject, Severity
from services.finance import rules
from services.runtime import risks
from services.runtime.outbox import Tx

LEVELS = ("near_limit", "over_limit")


async def reassess(tx: Tx, customer_id: str, credit_limit: Decimal, exposure: Decimal, *,
                   refused_amount: Decimal | None = None, order_id: str | None = None) -> None:
    level = rules.credit_level(exposure, credit_limit, refused_amount)
    for other in LEVELS:
        if other != level:
            await risks.close(tx, RiskKind.CREDIT, other, customer_id,
                              f"exposure {exposure} of the limit {credit_limit}")
    if level is None:
        return
    if level == "over_limit":
        summary = (f"{customer_id}: an order of {refused_amount} was refused, exposure {exposure} + "
                   f"{refused_amount} > limit {credit_limit}")
        severity = Severity.CRITICAL
    else:
        summary = f"{customer_id} uses {exposure / credit_limit:.0%} of its credit limit ({exposure} of {credit_limit})"
        severity = Severity.WARNING
    await risks.raise_risk(tx, kind=RiskKind.CREDIT, cause=level, key=customer_id, summary=summary,
                           severity=severity, subject=RiskSubject(customer_id=customer_id, order_id=order_id))


async def sweep_overdue(pool: asyncpg.Pool, today: dt.date | None = None) -> int:
    """Raise a risk for every open invoice past its due date; close those paid or credited since."""
    today = today or dt.date.today()
    changed = 0
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, "finance")
        rows = await conn.fetch(
            "SELECT i.invoice_number, i.order_id, i.customer_id, i.due_date, b.outstanding FROM invoices i"
            " JOIN invoice_balances b USING (invoice_number) WHERE b.outstanding > 0 AND i.due_date < $1", today)
        overdue = set()
        for r in rows:
            overdue.add(r["invoice_number"])
            days = (today - r["due_date"]).days
            changed += await risks.raise_risk(
                tx, kind=RiskKind.CREDIT, cause="overdue", key=r["invoice_number"],
                severity=Severity.CRITICAL if days > 30 else Severity.WARNING,
                summary=f"{r['invoice_number']} of {r['customer_id']}: {r['outstanding']} overdue "
                        f"since {r['due_date'].isoformat()} ({'over 30 days' if days > 30 else 'up to 30 days'})",
                subject=RiskSubject(customer_id=r["customer_id"], order_id=r["order_id"],
                                    invoice_number=r["invoice_number"]))
        for rid in await risks.open_ids(conn, RiskKind.CREDIT, "overdue"):
            if risks.subject_key_of(rid) not in overdue:
                changed += await risks.close_risk(tx, rid, "paid or credited")
    return changed
