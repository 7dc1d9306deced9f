"""Credit control: the dunning run (reminder levels, fees and interest, credit hold), what a credit
check does for a customer on hold, and what a payment does to a hold. The rules are in dunning.py,
the SQL in store.py; this module orchestrates them inside the caller's transaction (`Tx`).

    dunning run (periodic)  overdue shipment invoice reaches a level -> dunning_notices row,
                            charge invoice for fee + interest (if any), PaymentReminderIssued;
                            customer past the threshold -> hold, CustomerCreditHoldPlaced
    CheckCredit, on hold    policy wait   -> credit_waiting_orders, CreditCheckPending
                            policy reject -> CreditRejected with the reason
    a payment is recorded   customer no longer past the threshold -> hold lifted,
                            CustomerCreditHoldLifted, every waiting order reviewed again
    a person                lifts a hold, or approves / rejects one waiting order (dunning_api.py)

Risk: when a customer goes on hold (and when it is lifted) every function in CREDIT_RISK_HOOKS is
called with (tx, CreditRiskSignal). The company's risk feed (`risk.events.v1`, issue 11) is meant to
register itself there; until then the finance events above are the published signal.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from contracts import finance, integrations
from contracts.common import OrderType
from services.finance import dunning, store
from services.runtime.outbox import Tx

log = logging.getLogger(__name__)

Review = Callable[[Tx, finance.CheckCredit], Awaitable[None]]   # handlers.review_credit


@dataclass(frozen=True)
class CreditConfig:
    levels: tuple[dunning.DunningLevel, ...] = dunning.DEFAULT_LEVELS
    hold_overdue_seconds: float = 30 * 86400
    hold_min_overdue: Decimal = Decimal("0.01")
    hold_policy: str = "wait"


@dataclass(frozen=True)
class CreditRiskSignal:
    """What a risk feed needs to know: the customer, whether the hold was placed or lifted, why."""

    customer_id: str
    placed: bool
    reason: str
    overdue_amount: Decimal


# The integration point for the risk feed (issue 11): async callables (tx, CreditRiskSignal) -> None,
# run in the transaction that places or lifts the hold.
CREDIT_RISK_HOOKS: list[Callable[[Tx, CreditRiskSignal], Awaitable[None]]] = []


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- the dunning run --------------------------------------------------------------------------

async def run_dunning(pool: asyncpg.Pool, config: CreditConfig, review: Review) -> int:
    """One pass: the next level of every overdue invoice that reached it (one transaction each), then
    the holds (placed for customers past the threshold, lifted for those no longer past it however
    that came about: a payment, a credit note). Returns how many reminders were issued."""
    issued = 0
    async with pool.acquire() as conn:
        due = await store.invoices_due_for_dunning(conn, now())
    for invoice_number in due:
        async with pool.acquire() as conn, conn.transaction():
            issued += await remind(Tx(conn, "finance"), invoice_number, config)
    cutoff = now() - dt.timedelta(seconds=config.hold_overdue_seconds)
    async with pool.acquire() as conn:
        candidates = {*await store.customers_with_overdue(conn, cutoff), *await store.customers_on_hold(conn)}
    for customer_id in sorted(candidates):
        async with pool.acquire() as conn, conn.transaction():
            await evaluate_hold(Tx(conn, "finance"), customer_id, config, review)
    return issued


async def remind(tx: Tx, invoice_number: str, config: CreditConfig) -> int:
    invoice = await store.lock_invoice_for_dunning(tx.conn, invoice_number)
    if invoice is None:
        return 0
    reminder = dunning.next_reminder(config.levels, due_at=invoice["due_at"], now=now(),
                                     last_level=invoice["last_level"], outstanding=Decimal(invoice["outstanding"]))
    if reminder is None:
        return 0
    charge = None
    if reminder.charge > 0:
        charge = await store.insert_charge_invoice(tx.conn, invoice, reminder)
        order_id = charge["order_id"]
        await tx.emit(integrations.PaymentRequested(
            invoice_number=charge["invoice_number"], order_id=order_id, customer_id=charge["customer_id"],
            amount=charge["amount"], method="invoice", due_date=charge["due_date"]), key=order_id,
            correlation_id=order_id)
        await tx.emit(finance.InvoiceIssued(
            order_id=order_id, invoice_number=charge["invoice_number"], shipment_ref=charge["shipment_ref"],
            amount=charge["amount"], due_date=charge["due_date"], kind="charge"), key=order_id,
            correlation_id=order_id)
    await store.record_notice(tx.conn, invoice, reminder, charge["invoice_number"] if charge else None)
    overdue_days = max(0, int((now() - invoice["due_at"]).total_seconds() // 86400))
    await tx.emit(finance.PaymentReminderIssued(
        order_id=invoice["order_id"], customer_id=invoice["customer_id"], invoice_number=invoice_number,
        level=reminder.level, level_name=reminder.name, outstanding=invoice["outstanding"],
        due_date=invoice["due_date"], overdue_days=overdue_days, fee=reminder.fee, interest=reminder.interest,
        charge_invoice=charge["invoice_number"] if charge else None),
        key=invoice["order_id"], correlation_id=invoice["order_id"])
    log.info("%s: %s (level %d) to %s", invoice_number, reminder.name, reminder.level, invoice["customer_id"])
    return 1


# --- holds ------------------------------------------------------------------------------------

async def evaluate_hold(tx: Tx, customer_id: str, config: CreditConfig, review: Review | None = None) -> None:
    """Put the customer on hold, or lift the hold, as its overdue invoices say now. A lift reviews the
    orders that waited (with `review`, the normal credit check), oldest first."""
    customer = await store.lock_customer(tx.conn, customer_id)
    if customer is None:
        return
    overdue = await store.overdue_invoices(tx.conn, customer_id, now())
    reason = dunning.hold_reason(overdue, now=now(), threshold_seconds=config.hold_overdue_seconds,
                                 min_amount=config.hold_min_overdue)
    current = await store.credit_hold(tx.conn, customer_id)
    if reason is not None and current is None:
        amount = sum((o.outstanding for o in overdue), Decimal("0.00"))
        policy = dunning.policy_for(customer["credit_hold_policy"], config.hold_policy)
        await store.place_hold(tx.conn, customer_id, reason, amount)
        await tx.emit(finance.CustomerCreditHoldPlaced(
            customer_id=customer_id, reason=reason, overdue_invoices=[o.invoice_number for o in overdue],
            overdue_amount=amount, policy=policy), key=customer_id, correlation_id=customer_id)
        await _signal(tx, CreditRiskSignal(customer_id, True, reason, amount))
        log.warning("customer %s on credit hold: %s", customer_id, reason)
    elif reason is None and current is not None:
        await lift(tx, customer_id, "nothing is overdue past the threshold any more", review)


async def lift(tx: Tx, customer_id: str, why: str, review: Review | None) -> None:
    """Lift the hold (a payment, or a person) and review the waiting orders again."""
    by = tx.initiator.model_dump() if tx.initiator else None
    await store.lift_hold(tx.conn, customer_id, why, by)
    await tx.emit(finance.CustomerCreditHoldLifted(customer_id=customer_id, reason=why), key=customer_id,
                  correlation_id=customer_id)
    await _signal(tx, CreditRiskSignal(customer_id, False, why, Decimal("0.00")))
    log.info("credit hold of %s lifted: %s", customer_id, why)
    for waiting in sorted(await store.take_waiting(tx.conn, customer_id), key=lambda w: w["queued_at"]):
        if review is not None:
            await review(_as_cause(tx, waiting["order_id"]), finance.CheckCredit.model_validate(waiting["command"]))


async def _signal(tx: Tx, signal: CreditRiskSignal) -> None:
    for hook in CREDIT_RISK_HOOKS:
        await hook(tx, signal)


def _as_cause(tx: Tx, order_id: str) -> Tx:
    """The reviews of waiting orders are about those orders: their messages correlate to them."""
    return _OrderTx(tx.conn, tx.service, tx.cause, tx.trace, tx.initiated_by, tx.emitted, order_id=order_id)


@dataclass
class _OrderTx(Tx):
    order_id: str = ""

    async def emit(self, message, *, key: str, correlation_id: str | None = None):  # type: ignore[override]
        return await super().emit(message, key=key, correlation_id=correlation_id or self.order_id)


async def held_back(tx: Tx, cmd: finance.CheckCredit, config: CreditConfig) -> bool:
    """Before a credit check: a new standard order of a customer on hold waits for finance (answered
    CreditCheckPending) or is rejected with the reason; True when it was held back. An order already
    approved (a repeated check) is answered as usual, and so is every other order type."""
    await tx.conn.execute("INSERT INTO order_numbers (order_id, order_number) VALUES ($1, $2)"
                          " ON CONFLICT DO NOTHING", cmd.order_id, cmd.order_number)
    if cmd.order_type != OrderType.STANDARD:
        return False
    if await tx.conn.fetchval("SELECT true FROM credit_holds WHERE order_id = $1", cmd.order_id):
        return False
    hold = await store.credit_hold(tx.conn, cmd.customer_id)
    if hold is None:
        return False
    if await tx.conn.fetchval("SELECT decision = 'approve' FROM credit_decisions WHERE order_id = $1", cmd.order_id):
        return False                      # a person approved this order despite the hold
    policy_row = await tx.conn.fetchval("SELECT credit_hold_policy FROM customers WHERE customer_id = $1",
                                        cmd.customer_id)
    policy = dunning.policy_for(policy_row, config.hold_policy)
    reason = dunning.held_back_reason(cmd.customer_id, hold["reason"], policy)
    if policy == "reject":
        await tx.emit(finance.CreditRejected(order_id=cmd.order_id, customer_id=cmd.customer_id, reasons=[reason]),
                      key=cmd.order_id)
        return True
    await store.queue_waiting(tx.conn, cmd.order_id, cmd.customer_id, cmd.model_dump(mode="json"), reason)
    await tx.emit(finance.CreditCheckPending(order_id=cmd.order_id, customer_id=cmd.customer_id, reason=reason),
                  key=cmd.order_id)
    return True


async def decide_waiting(tx: Tx, order_id: str, approve: bool, reason: str, review: Review) -> bool:
    """A person decides on one waiting order: approve (the normal credit check, without the hold) or
    reject with the reason. False when the order is not waiting."""
    waiting = await store.waiting_order(tx.conn, order_id)
    if waiting is None:
        return False
    await store.take_waiting_order(tx.conn, order_id)
    await store.record_decision(tx.conn, order_id, waiting["customer_id"], "approve" if approve else "reject", reason,
                                tx.initiator.model_dump() if tx.initiator else None)
    order_tx = _as_cause(tx, order_id)
    if approve:
        await review(order_tx, finance.CheckCredit.model_validate(waiting["command"]))
    else:
        await order_tx.emit(finance.CreditRejected(order_id=order_id, customer_id=waiting["customer_id"],
                                                   reasons=[f"rejected by finance: {reason}"]), key=order_id)
    return True


async def drop_waiting(tx: Tx, order_id: str) -> bool:
    """The order was cancelled while it waited: forget it (ReleaseCredit)."""
    return await store.take_waiting_order(tx.conn, order_id) is not None
