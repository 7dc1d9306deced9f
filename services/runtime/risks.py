"""A department's own risks: raised once (announced again only when severity or summary change),
closed once when the cause goes away. Each change goes out through the outbox as the department's
own `<service>.risk_raised` / `<service>.risk_closed` on its own events topic (contracts/risk.py);
sales relays them onto the company's risk feed, `risk.events.v1`.

The register (`own_risks`, a runtime migration, so every department has it) is in the same
transaction as the handler's effect, so a risk is announced exactly when its cause is committed.
Risk ids are stable keys, `<kind>.<cause>:<subject>`, e.g. `carrier.eta_passed:SHP-1`."""

from __future__ import annotations

import asyncpg

from contracts.envelope import message_types
from contracts.risk import RiskKind, RiskSubject, Severity
from services.runtime.outbox import Tx

OWNER_ROLE = {"finance": "finance", "warehouse": "warehouse", "logistics": "logistics",
              "procurement": "procurement", "sales": "sales_manager"}


def risk_id(kind: RiskKind, cause: str, *subject: str) -> str:
    return f"{kind.value}.{cause}:{':'.join(subject)}"


def _key(subject: RiskSubject, rid: str) -> tuple[str, str]:
    """(Kafka key, correlation id): an order's risk travels with the order's messages."""
    return subject.order_id or rid, subject.order_id or rid


async def raise_risk(tx: Tx, *, kind: RiskKind, cause: str, subject: RiskSubject, summary: str,
                     severity: Severity = Severity.WARNING, key: str | None = None) -> bool:
    """Open (or update) a risk; True when something was announced. `key` names the subject in the
    id (default: the most specific subject field set)."""
    rid = risk_id(kind, cause, key or _subject_key(subject))
    row = await tx.conn.fetchrow("SELECT * FROM own_risks WHERE risk_id = $1 FOR UPDATE", rid)
    if row is not None and row["status"] == "open" and row["severity"] == severity.value \
            and row["summary"] == summary:
        return False
    await tx.conn.execute(
        "INSERT INTO own_risks (risk_id, kind, cause, severity, summary, subject, status) VALUES"
        " ($1, $2, $3, $4, $5, $6, 'open') ON CONFLICT (risk_id) DO UPDATE SET severity = EXCLUDED.severity,"
        " summary = EXCLUDED.summary, subject = EXCLUDED.subject, status = 'open', closed_at = NULL,"
        " raised_at = CASE WHEN own_risks.status = 'closed' THEN now() ELSE own_risks.raised_at END",
        rid, kind.value, cause, severity.value, summary, subject.model_dump(mode="json", exclude_none=True))
    raised = message_types()[f"{tx.service}.risk_raised"](
        risk_id=rid, kind=kind, cause=cause, severity=severity, department=tx.service,
        owner_role=OWNER_ROLE.get(tx.service, tx.service), summary=summary, subject=subject)
    k, correlation = _key(subject, rid)
    await tx.emit(raised, key=k, correlation_id=correlation)
    return True


async def close_risk(tx: Tx, rid: str, reason: str) -> bool:
    """Close an open risk; True when it was open."""
    row = await tx.conn.fetchrow(
        "UPDATE own_risks SET status = 'closed', closed_at = now() WHERE risk_id = $1 AND status = 'open'"
        " RETURNING *", rid)
    if row is None:
        return False
    subject = RiskSubject.model_validate(row["subject"])
    closed = message_types()[f"{tx.service}.risk_closed"](
        risk_id=rid, kind=RiskKind(row["kind"]), cause=row["cause"], department=tx.service, reason=reason,
        subject=subject)
    k, correlation = _key(subject, rid)
    await tx.emit(closed, key=k, correlation_id=correlation)
    return True


async def close(tx: Tx, kind: RiskKind, cause: str, key: str, reason: str) -> bool:
    return await close_risk(tx, risk_id(kind, cause, key), reason)


async def open_ids(conn: asyncpg.Connection, kind: RiskKind, cause: str) -> list[str]:
    """Ids of this department's open risks of one cause (for sweeps that close what went away)."""
    rows = await conn.fetch("SELECT risk_id FROM own_risks WHERE status = 'open' AND kind = $1 AND cause = $2",
                            kind.value, cause)
    return [r["risk_id"] for r in rows]


def subject_key_of(rid: str) -> str:
    return rid.split(":", 1)[1]


def _subject_key(subject: RiskSubject) -> str:
    for name in ("shipment_id", "purchase_order_id", "invoice_number", "order_id", "sku", "customer_id",
                 "supplier_id", "carrier"):
        value = getattr(subject, name)
        if value:
            return value
    raise ValueError("a risk needs a subject")
