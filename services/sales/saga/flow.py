"""The saga's entry points: start, approve, react (a department replied), tick (time passed), and
`next_check` (when tick may next have something to do). They route to the forward steps, the
change review or the compensation; handlers.py persists the Decision they return."""

from __future__ import annotations

import datetime as dt

from contracts import finance, logistics, procurement, warehouse
from contracts.common import OrderType
from contracts.envelope import Message
from services.sales.saga import decisions, returns, review
from services.sales.saga.changes import on_review, review_deadline
from services.sales.saga.compensation import (cancel, current_compensation, on_compensation_reply,
                                              refund_late_payment, retry_compensation)
from services.sales.saga.state import (IN_FLIGHT, PREPAID, Decision, Order, Refused, Status, Timings, alert,
                                       join_notes, recorded_alert, updated)
from services.sales.saga.steps import (DISPATCH_RETRY, NEVER, advance, answers, is_review, learn, stuck_key)


def start(order: Order, now: dt.datetime, timings: Timings) -> Decision:
    if review.pending(order):
        return review.begin_review(order, now)      # the payment window opens once it is approved
    if order.order_type in PREPAID:
        order = order.model_copy(update={"payment_due_at": now + timings.payment_deadline})
    if order.order_type == OrderType.SAMPLE:
        return Decision(updated(order, status=Status.AWAITING_APPROVAL),
                        note="sample order: waiting for a sales manager's approval")
    return advance(order, now, "order accepted")


def approve(order: Order, approver: str, now: dt.datetime) -> Decision:
    if order.status != Status.AWAITING_APPROVAL:
        raise Refused(f"order is {order.status.value}, not awaiting approval")
    return advance(updated(order, approved_by=approver), now, f"approved by {approver}")


def react(order: Order, message: Message, now: dt.datetime, timings: Timings) -> Decision | None:
    """The saga's answer to a department's event, or None when it changes nothing."""
    if order.status == Status.CANCELLED and isinstance(message, finance.PaymentReceived):
        return refund_late_payment(order, now)
    if returns.is_return_message(message):
        return returns.react(order, message, now)
    if order.status.final:
        return returns.after_the_end(order, message)
    if order.status == Status.CANCELLING:
        return on_compensation_reply(order, message, now)
    if order.status == Status.CHANGING and is_review(message):
        return on_review(order, message, now, timings)
    if isinstance(message, review.OPINIONS):
        return review.on_opinion(order, message, now, timings)
    if isinstance(message, procurement.PurchaseDelayed):
        return decisions.on_purchase_delayed(order, message, now, timings)
    if isinstance(message, logistics.ShipmentLate):
        return decisions.on_shipment_late(order, message, now, timings)
    if isinstance(message, logistics.ShipmentBookingFailed) and order.awaiting is not None \
            and answers(order.awaiting, message):
        if order.cancel_requested:
            return cancel(updated(order, awaiting=None), order.cancel_requested, now)
        return decisions.on_booking_failed(order, message, now, timings)

    learnt, note, failure = learn(order, message, now)
    learnt, moot_events, moot_note = decisions.drop_if_moot(learnt, now)
    note = join_notes(note or "", moot_note or "") or None
    alerts = [*moot_events,
              *(alert(order, key.split(":", 2)[-1]) for key in learnt.alerts if key not in order.alerts)]
    step_done = learnt.awaiting is not None and answers(learnt.awaiting, message, order)
    if failure:
        if learnt.awaiting is not None and not step_done:
            # Semantic lock: the step in flight finishes first; its reply then starts compensation.
            return Decision(updated(learnt, cancel_requested=failure), events=alerts,
                            note=f"{failure}; cancelling once {learnt.awaiting.type} is answered")
        answered = updated(learnt, awaiting=None) if step_done else learnt
        return cancel(answered, failure, now, rejected=isinstance(message, finance.CreditRejected))
    if step_done:
        learnt = updated(learnt, awaiting=None)
    # A stock picture is worth re-deciding on even when unchanged (e.g. an increase found no stock).
    if learnt == order and not isinstance(message, warehouse.StockReserved):
        return None
    if learnt.status == Status.CHANGING:
        return Decision(learnt, events=alerts, note=note)   # facts recorded; the change decides what is next
    if learnt.cancel_requested and learnt.awaiting is None:
        if learnt.delivered:
            dropped, too_late = recorded_alert(
                updated(learnt, cancel_requested=None),
                f"cancel_too_late:{learnt.delivered[-1]}:cancellation requested too late: goods were delivered",
                "cancellation requested too late: goods were delivered")
            decision = advance(dropped, now, join_notes(note or "", "cancellation dropped: goods already delivered"))
            decision.events[:0] = [*alerts, *too_late]
            return decision
        return cancel(learnt, learnt.cancel_requested, now)
    if step_done or learnt.status not in IN_FLIGHT:
        decision = advance(learnt, now, note or "")
        if learnt == order and not decision.commands and decision.order == order:
            return None                          # an unchanged stock picture that changes nothing
    elif learnt == order:
        return None
    else:
        decision = Decision(learnt, note=note)
    decision.events[:0] = alerts
    return decision


def tick(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    """Deadlines: unpaid prepaid orders, steps without reply, compensations without answer, returns."""
    waited = returns.tick(order, now, timings)
    if waited is not None:
        return waited
    if order.status.final:
        return None
    if order.status == Status.CANCELLING:
        return retry_compensation(order, now, timings)
    if (order.payment_due_at and now >= order.payment_due_at and not order.paid_in_full
            and not order.anything_shipped() and order.status != Status.CHANGING):
        return cancel(order, f"unpaid past the payment deadline {order.payment_due_at:%Y-%m-%d %H:%M:%S}Z", now)
    if order.status == Status.CHANGING and order.change:
        return review_deadline(order, now, timings)
    if order.status == Status.IN_REVIEW and review.pending(order):
        return review.review_tick(order, now, timings)
    if order.status == Status.DECISION_NEEDED and order.decision is not None:
        due = decisions.decision_tick(order, now, timings)
        if due is not None:
            return due
    if credit_wait_over(order, now, timings):
        return cancel(order, f"the customer's credit hold was not lifted within {timings.credit_wait}", now)
    if order.status == Status.AWAITING_PAYMENT and order.paid_in_full and order.packed:
        return advance(order, now, "paid: hand-over requested again")
    sent = order.awaiting
    if sent and now >= sent.sent_at + timings.step_timeout * sent.attempts:
        if sent.attempts >= timings.max_attempts:
            key = stuck_key(order, sent)
            if key in order.alerts:
                return None
            summary = f"no answer to {sent.type} after {sent.attempts} attempts; a person must look"
            return Decision(updated(order, alerts=(*order.alerts, key)), events=[alert(order, summary)], note=summary)
        again = sent.model_copy(update={"sent_at": now, "attempts": sent.attempts + 1})
        return Decision(updated(order, awaiting=again), [sent.message()],
                        note=f"no answer to {sent.type}; sent again (attempt {again.attempts})")
    return None


def credit_wait_over(order: Order, now: dt.datetime, timings: Timings) -> bool:
    """Waiting for finance (credit hold) for longer than `credit_wait`: the order is cancelled."""
    return (order.status == Status.AWAITING_CREDIT and order.credit_pending_since is not None
            and now >= order.credit_pending_since + timings.credit_wait)


def next_check(order: Order, timings: Timings) -> dt.datetime | None:
    """When `tick` may next have something to do (persisted, so a periodic job finds due orders)."""
    candidates = [t for t in (returns.next_check(order, timings),) if t is not None]
    if order.status.final:
        return min(candidates) if candidates else None
    if order.status == Status.CANCELLING:
        current = current_compensation(order)
        if current and current[1].sent_at:
            candidates.append(current[1].sent_at + timings.compensation_timeout * 2 ** (current[1].attempts - 1))
    else:
        if order.payment_due_at and not order.paid_in_full and not order.anything_shipped():
            candidates.append(order.payment_due_at)
        if order.awaiting and stuck_key(order, order.awaiting) not in order.alerts:
            candidates.append(order.awaiting.sent_at + timings.step_timeout * order.awaiting.attempts)
        if order.change:
            candidates.append(order.change.requested_at + timings.step_timeout * order.change.attempts)
        if order.status == Status.AWAITING_PAYMENT and order.paid_in_full and order.packed:
            candidates.append((order.dispatch_held_at or order.payment_due_at or NEVER) + DISPATCH_RETRY)
        if order.status == Status.AWAITING_CREDIT and order.credit_pending_since:
            candidates.append(order.credit_pending_since + timings.credit_wait)
        if order.status == Status.IN_REVIEW:
            candidates.append(review.review_next_check(order, timings))
        if order.status == Status.DECISION_NEEDED:
            candidates.append(decisions.decision_next_check(order))
        candidates = [c for c in candidates if c is not None]
    return min(candidates) if candidates else None
