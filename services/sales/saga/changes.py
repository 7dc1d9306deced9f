"""Changes: warehouse, logistics and finance review a change; it is applied everywhere or nowhere,
and only the difference moves (a cut releases that stock and that part of a purchase)."""

from __future__ import annotations

import datetime as dt
import uuid

from contracts import finance, logistics, procurement, sales, warehouse
from contracts.common import Address, ChangeProposal, PricedLine, StockLine
from contracts.envelope import Message
from services.sales.saga.compensation import cancel
from services.sales.saga.state import (CHANGEABLE, PREPAID, REVIEWERS, Decision, Order, PendingChange, Refused,
                                       Status, Timings, describe_change, join_notes, total_of, updated)
from services.sales.saga.steps import advance


def request_change(order: Order, *, lines: tuple[PricedLine, ...] | None, address: Address | None,
                   requested_delivery_date: dt.date | None, now: dt.datetime) -> Decision:
    if order.status.final:
        raise Refused(f"order is {order.status.value}; it can no longer change")
    if order.status == Status.AWAITING_CREDIT:
        raise Refused(f"the order waits for finance ({order.credit_pending}); it can be cancelled, not changed")
    if order.status not in CHANGEABLE:
        raise Refused(f"order is {order.status.value} (a step is in flight); retry when it settles")
    new_lines = lines if lines is not None else order.lines
    if order.order_type in PREPAID and order.prepayment_invoiced and total_of(new_lines) != order.total:
        raise Refused("the prepayment is already invoiced; a prepaid order's amount cannot change")
    proposal = ChangeProposal(
        change_id=str(uuid.uuid4()), order_id=order.order_id, revision=order.revision + 1,
        lines=list(new_lines), previous_lines=list(order.lines), address=address,
        requested_delivery_date=requested_delivery_date, new_total=total_of(new_lines),
        previous_total=order.total)
    if not proposal.quantity_deltas() and address is None and requested_delivery_date is None:
        raise Refused("the change changes nothing")
    changing = updated(order, status=Status.CHANGING,
                     change=PendingChange(proposal=proposal, resume=order.status, requested_at=now))
    return Decision(changing, review_commands(order, proposal), note=f"change {proposal.change_id[:8]} under review: {describe_change(proposal)}")


def review_commands(order: Order, proposal: ChangeProposal) -> list[Message]:
    return [warehouse.ReviewChange(proposal=proposal), logistics.ReviewChange(proposal=proposal),
            finance.ReviewChange(proposal=proposal, customer_id=order.customer_id, order_type=order.order_type)]


def on_review(order: Order, m: Message, now: dt.datetime, timings: Timings) -> Decision | None:
    change = order.change
    if change is None or m.change_id != change.proposal.change_id:
        return None
    department = m.TYPE.split(".")[0]
    reasons = [*change.reasons, *([f"{department}: {m.reason}"] if not m.approved and m.reason else [])]
    change = change.model_copy(update={"reviews": {**change.reviews, department: m.approved}, "reasons": reasons})
    if len(change.reviews) < len(REVIEWERS):
        return Decision(updated(order, change=change), note=f"{department} {'approves' if m.approved else 'refuses'}")
    proposal = change.proposal
    resumed = updated(order, status=change.resume, change=None)
    if not all(change.reviews.values()):
        return refuse_change(resumed, proposal, reasons or ["refused"], now)
    return then_pending_cancel(apply_change(resumed, proposal, now), now)


def refuse_change(resumed: Order, proposal: ChangeProposal, reasons: list[str], now: dt.datetime) -> Decision:
    event = sales.OrderChangeRefused(order_id=resumed.order_id, change_id=proposal.change_id, reasons=reasons)
    note = f"change {proposal.change_id[:8]} refused: {'; '.join(reasons)}"
    if resumed.cancel_requested:
        return then_pending_cancel(Decision(resumed, events=[event], note=note), now)
    decision = advance(resumed, now, note)   # facts learnt during the review may move the order on
    decision.events.insert(0, event)
    return decision


def review_deadline(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    change = order.change
    assert change is not None
    if now < change.requested_at + timings.step_timeout * change.attempts:
        return None
    missing = [d for d in REVIEWERS if d not in change.reviews]
    if change.attempts >= timings.max_attempts:
        resumed = updated(order, status=change.resume, change=None)
        return refuse_change(resumed, change.proposal, [f"{d}: no answer to the review" for d in missing], now)
    reviews = [r for r in review_commands(order, change.proposal) if r.TYPE.split(".")[0] in missing]
    again = change.model_copy(update={"requested_at": now, "attempts": change.attempts + 1})
    return Decision(updated(order, change=again), reviews,
                    note=f"no review from {', '.join(missing)}; asked again (attempt {again.attempts})")


def apply_change(order: Order, proposal: ChangeProposal, now: dt.datetime) -> Decision:
    """Every department approved: apply the difference everywhere."""
    commands: list[Message] = []
    deltas = proposal.quantity_deltas()
    new_qty = {line.sku: line.quantity for line in proposal.lines}
    secured, purchasing = dict(order.secured), dict(order.purchasing)
    if deltas and order.reservation_requested:
        commands.append(warehouse.AdjustReservation(
            order_id=order.order_id, change_id=proposal.change_id,
            lines=[StockLine(sku=l.sku, quantity=l.quantity) for l in proposal.lines]))
        for sku in deltas:
            secured[sku] = min(secured.get(sku, 0), new_qty.get(sku, 0))
            still_needed = new_qty.get(sku, 0) - secured[sku]
            surplus = purchasing.get(sku, 0) - still_needed
            if surplus > 0:       # bought for this order and no longer needed: only the difference
                commands.append(procurement.CancelPurchase(order_id=order.order_id, sku=sku, quantity=surplus,
                                                           reason=f"change {proposal.change_id[:8]}"))
                purchasing[sku] = still_needed
    if proposal.new_total != proposal.previous_total and order.credit_held:
        commands.append(finance.AdjustCredit(order_id=order.order_id, change_id=proposal.change_id,
                                             new_total=proposal.new_total))
    if proposal.address is not None or proposal.requested_delivery_date is not None:
        commands.append(logistics.UpdateDelivery(
            order_id=order.order_id, change_id=proposal.change_id, address=proposal.address,
            requested_delivery_date=proposal.requested_delivery_date))
    changed = updated(order, lines=tuple(proposal.lines), revision=proposal.revision,
                    address=proposal.address or order.address, secured=secured,
                    purchasing={k: v for k, v in purchasing.items() if v > 0},
                    requested_delivery_date=proposal.requested_delivery_date or order.requested_delivery_date)
    event = sales.OrderChanged(order_id=order.order_id, change_id=proposal.change_id, revision=proposal.revision,
                               lines=list(proposal.lines), total=proposal.new_total)
    note = f"change {proposal.change_id[:8]} applied (revision {proposal.revision}): {describe_change(proposal)}"
    if deltas and order.reservation_requested:
        # The warehouse answers AdjustReservation with a fresh stock picture; the saga buys only
        # what it could not find then.
        return Decision(changed, commands, events=[event], note=note)
    follow = advance(changed, now, note)
    follow.commands[:0] = commands
    follow.events.insert(0, event)
    return follow


def then_pending_cancel(decision: Decision, now: dt.datetime) -> Decision:
    order = decision.order
    if order.cancel_requested:
        follow = cancel(order, order.cancel_requested, now)
        follow.commands[:0] = decision.commands
        follow.events[:0] = decision.events
        follow.note = join_notes(decision.note or "", follow.note or "")
        return follow
    return decision
