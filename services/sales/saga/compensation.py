"""Cancellation: every effect undone, newest first, one compensation at a time; each waits for
its department's `compensation_done`, is re-sent with backoff and parked for a person at last.
Goods already with a carrier are recalled first: the pivot an outsider can refuse."""

from __future__ import annotations

import datetime as dt

from contracts import finance, logistics, procurement, warehouse
from contracts.envelope import Message
from services.sales.saga.state import (Compensation, Decision, Order, Refused, Status, Timings, alert, join_notes,
                                       recorded_alert, updated, with_compensation)
from services.sales.saga.steps import COMPENSATION_DONE, advance, learn


def request_cancel(order: Order, reason: str, now: dt.datetime) -> Decision:
    if order.status.final or order.status == Status.CANCELLING:
        raise Refused(f"order is already {order.status.value}")
    if order.delivered:
        raise Refused("goods are already delivered; a return, not a cancellation, undoes that")
    if order.awaiting is not None or order.status == Status.CHANGING:
        # Semantic lock: the step in flight finishes first, then the cancellation compensates it too.
        return Decision(updated(order, cancel_requested=reason),
                        note=f"cancellation requested ({reason}); waits for {order.status.value} to settle")
    return cancel(order, reason, now)


def cancel(order: Order, reason: str, now: dt.datetime, *, rejected: bool = False) -> Decision:
    """Undo every effect, newest first. Rejected/cancelled at once when there is nothing to undo."""
    plan = compensation_plan(order, reason)
    cleared = {"awaiting": None, "change": None, "decision": None, "status_reason": reason, "cancel_requested": None}
    if not plan:
        final = Status.REJECTED if rejected else Status.CANCELLED
        return Decision(updated(order, status=final, **cleared), note=reason)
    order = updated(order, status=Status.CANCELLING, compensations=tuple(plan), **cleared)
    return send_next_compensation(order, now, f"cancelling: {reason}; compensating " +
                                   ", ".join(c.type for c in plan))


def compensation_plan(order: Order, reason: str) -> list[Compensation]:
    oid = order.order_id
    steps: list[Message] = []
    if order.dispatched:
        # Goods with a carrier come back first: the one compensation an outsider can refuse (once
        # delivered), so it is the pivot: if it fails nothing else has been undone yet.
        steps.append(logistics.RecallShipments(order_id=oid, reason=reason))
    if order.payments:
        steps.append(finance.RefundPayments(order_id=oid, reason=reason))
    if order.invoices or order.prepayment_invoiced:
        steps.append(finance.CreditInvoices(order_id=oid, reason=reason))
    if order.booked or order.status == Status.BOOKING:
        steps.append(logistics.CancelShipment(order_id=oid, reason=reason))
    if order.purchasing:
        steps.append(procurement.CancelPurchase(order_id=oid, reason=reason))
    if order.reservation_requested:
        steps.append(warehouse.ReleaseReservation(order_id=oid, reason=reason))
    if order.credit_held or order.credit_pending or (order.status == Status.CREDIT_CHECK
                                                     and order.awaiting is not None):
        # A check waiting for finance (credit hold) is withdrawn by the same command; a check still
        # in flight (e.g. cancelled by the payment deadline) may yet leave a hold: the release
        # follows the check on the same partition, so it finds it.
        steps.append(finance.ReleaseCredit(order_id=oid, reason=reason))
    return [Compensation(type=m.TYPE, payload=m.model_dump(mode="json")) for m in steps]


def current_compensation(order: Order) -> tuple[int, Compensation] | None:
    return next(((i, c) for i, c in enumerate(order.compensations) if not c.done and not c.parked), None)


def send_next_compensation(order: Order, now: dt.datetime, note: str) -> Decision:
    current = current_compensation(order)
    if current is None:
        parked = [c.type for c in order.compensations if c.parked]
        if parked:
            return Decision(order, note=join_notes(note, f"compensation parked for a person: {', '.join(parked)}"))
        return Decision(updated(order, status=Status.CANCELLED), note=join_notes(note, "every effect compensated"))
    index, comp = current
    sent = comp.model_copy(update={"sent_at": now, "attempts": comp.attempts + 1})
    return Decision(with_compensation(order, index, sent), [comp.message()], note=note)


def on_compensation_reply(order: Order, m: Message, now: dt.datetime) -> Decision | None:
    learnt, _, _ = learn(order, m, now)    # keep facts (e.g. a late payment) up to date
    if isinstance(m, logistics.RecallFailed):
        return abandon_cancellation(learnt, m.reason, now)
    if learnt.payments > order.payments:
        # Money that arrives while cancelling goes back too.
        refund = finance.RefundPayments(order_id=order.order_id, reason=order.status_reason or "order cancelled")
        learnt = updated(learnt, compensations=(*learnt.compensations, Compensation(
            type=refund.TYPE, payload=refund.model_dump(mode="json"))))
    # Match the oldest unfinished compensation of that type, parked ones included (a late answer counts).
    match = next(((i, c) for i, c in enumerate(learnt.compensations) if not c.done and c.sent_at is not None
                  and isinstance(m, COMPENSATION_DONE) and c.type == m.command_type), None)
    if match is None:
        return Decision(learnt) if learnt != order else None
    index, comp = match
    done = with_compensation(learnt, index, comp.model_copy(update={"done": True, "parked": False,
                                                                 "summary": m.summary}))
    if current_compensation(learnt) is not None and current_compensation(learnt)[0] != index:
        return Decision(done, note=f"{comp.type} done late: {m.summary}")
    return send_next_compensation(done, now, f"{comp.type} done: {m.summary}")


def abandon_cancellation(order: Order, why: str, now: dt.datetime) -> Decision:
    """The goods reached the customer before they could be recalled: nothing else was undone yet
    (the recall goes first), so the order simply carries on towards completion."""
    summary = f"cancellation abandoned, goods not recalled: {why}"
    resumed, events = recorded_alert(updated(order, compensations=(), status_reason=None, status=Status.SHIPPED),
                                     f"cancel_abandoned:{order.order_id}:{summary}", summary)
    decision = advance(resumed, now, f"cancellation abandoned: {why}")
    decision.events[:0] = events
    return decision


def refund_late_payment(order: Order, now: dt.datetime) -> Decision:
    """A payment for an order already cancelled: give it back."""
    refund = finance.RefundPayments(order_id=order.order_id, reason="payment arrived after cancellation")
    reopened = updated(order, status=Status.CANCELLING, payments=order.payments + 1,
                     compensations=(*order.compensations, Compensation(type=refund.TYPE,
                                                                       payload=refund.model_dump(mode="json"))))
    return send_next_compensation(reopened, now, "payment arrived after cancellation: refunding it")


def retry_compensation(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    current = current_compensation(order)
    if current is None:
        return None
    index, comp = current
    if comp.sent_at is None or now < comp.sent_at + timings.compensation_timeout * 2 ** (comp.attempts - 1):
        return None
    if comp.attempts >= timings.max_attempts:
        parked = with_compensation(order, index, comp.model_copy(update={"parked": True}))
        summary = f"{comp.type} unanswered after {comp.attempts} attempts: parked for a person"
        decision = send_next_compensation(parked, now, summary)
        decision.events.append(alert(order, summary, severity="critical"))
        return decision
    again = comp.model_copy(update={"sent_at": now, "attempts": comp.attempts + 1})
    return Decision(with_compensation(order, index, again), [comp.message()],
                    note=f"{comp.type} unanswered; sent again (attempt {again.attempts})")


def retry_parked(order: Order, now: dt.datetime) -> Decision:
    """An operator asks to try parked compensations again."""
    if not any(c.parked for c in order.compensations):
        raise Refused("no parked compensation")
    comps = tuple(c.model_copy(update={"parked": False, "attempts": 0}) if c.parked else c
                  for c in order.compensations)
    return send_next_compensation(updated(order, status=Status.CANCELLING, compensations=comps), now,
                                   "parked compensations retried by an operator")
