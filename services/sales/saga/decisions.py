"""People decide what the machine should not: the order goes to `decision_needed` with the options
that make sense, for the roles that own the choice, with a deadline and a documented default.

    kind           asked when                                   options                                   default
    supplier_late  a supplier promises later than needed        accept_later_date, switch_supplier (when  accept_later_date
                   (procurement.purchase_delayed)               another supplier is left), ship_partial
                                                                (when part is in stock), cancel
    carrier_late   a carrier is late and logistics cannot       accept_later_date, cancel (recall)        accept_later_date
                   re-book it (logistics.shipment_late: the
                   carrier has the goods, or was re-booked once)
    no_carrier     no carrier takes the shipment                switch_carrier (ask every carrier again), cancel
                   (logistics.shipment_booking_failed)          cancel

A reminder (an alert) goes out at half the deadline (`decision_timeout`); at the deadline the
default applies. A decision whose cause went away (the goods arrived, the shipment was delivered)
is dropped as moot. A carrier that has not collected the goods is re-booked by logistics on its
own (no decision: nothing is lost by it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from contracts import logistics, procurement, sales
from contracts.common import FulfilmentPolicy
from contracts.envelope import Message
from services.runtime.roles import LOGISTICS, PROCUREMENT, SALES_MANAGER
from services.sales.saga.compensation import cancel
from services.sales.saga.state import (Decision, Order, PendingDecision, Refused, Status, Timings, join_notes,
                                       recorded_alert, updated)
from services.sales.saga.steps import advance

SUPPLIER_LATE, CARRIER_LATE, NO_CARRIER = "supplier_late", "carrier_late", "no_carrier"
ACCEPT, SHIP_PARTIAL, SWITCH_SUPPLIER, SWITCH_CARRIER, CANCEL = (
    "accept_later_date", "ship_partial", "switch_supplier", "switch_carrier", "cancel")
DEFAULTS = {SUPPLIER_LATE: ACCEPT, CARRIER_LATE: ACCEPT, NO_CARRIER: CANCEL}
OWNERS = {SUPPLIER_LATE: (SALES_MANAGER, PROCUREMENT), CARRIER_LATE: (SALES_MANAGER, LOGISTICS),
          NO_CARRIER: (SALES_MANAGER, LOGISTICS)}
DECIDERS = (SALES_MANAGER, PROCUREMENT, LOGISTICS)      # every role that owns some decision


def ask(order: Order, kind: str, summary: str, options: list[str], context: dict[str, Any], now: dt.datetime,
        timings: Timings) -> Decision:
    due = now + timings.decision_timeout
    pending = PendingDecision(decision_id=str(uuid.uuid4()), kind=kind, summary=summary, options=tuple(options),
                              default=DEFAULTS[kind], owner_roles=OWNERS[kind], requested_at=now, due_at=due,
                              resume=order.status if order.status != Status.DECISION_NEEDED else Status.AWAITING_STOCK,
                              context=context)
    event = sales.DecisionRequested(order_id=order.order_id, order_number=order.number,
                                    decision_id=pending.decision_id, kind=kind, summary=summary, options=options,
                                    default=pending.default, owner_roles=list(pending.owner_roles), due_at=due)
    return Decision(updated(order, status=Status.DECISION_NEEDED, decision=pending), events=[event],
                    note=f"decision needed ({', '.join(pending.owner_roles)}): {summary}; options "
                         f"{', '.join(options)}; default {pending.default} at {due:%Y-%m-%d %H:%M:%S}Z")


# --- what asks for a decision -------------------------------------------------------------------

def on_purchase_delayed(order: Order, m: procurement.PurchaseDelayed, now: dt.datetime,
                        timings: Timings) -> Decision | None:
    if order.decision is not None and order.decision.context.get("purchase_order_id") == m.purchase_order_id:
        return None
    if order.decision is not None or order.cancel_requested:
        return None        # one decision at a time; procurement keeps the purchase open meanwhile
    options = [ACCEPT]
    if m.alternatives > 0:
        options.append(SWITCH_SUPPLIER)
    if order.fulfilment_policy == FulfilmentPolicy.SHIP_COMPLETE and order.ready_to_pack():
        options.append(SHIP_PARTIAL)
    options.append(CANCEL)
    needed = f", needed by {m.needed_by.isoformat()}" if m.needed_by else ""
    summary = f"{m.supplier_id} promises {m.quantity}x {m.sku} for {m.promised_date.isoformat()}{needed}"
    return ask(order, SUPPLIER_LATE, summary, options,
               {"purchase_order_id": m.purchase_order_id, "sku": m.sku, "promised_date": m.promised_date.isoformat()},
               now, timings)


def on_shipment_late(order: Order, m: logistics.ShipmentLate, now: dt.datetime, timings: Timings) -> Decision | None:
    # Logistics re-books a shipment its carrier has not collected on its own (once); it reports one
    # it cannot fix that way: collected, already re-booked, or no other carrier.
    if m.shipment_id in order.delivered or order.decision is not None or order.status == Status.CANCELLING:
        return None
    return ask(order, CARRIER_LATE, f"{m.carrier} is late with {m.shipment_id}: {m.reason}", [ACCEPT, CANCEL],
               {"shipment_id": m.shipment_id, "carrier": m.carrier, "collected": m.collected}, now, timings)


def on_booking_failed(order: Order, m: logistics.ShipmentBookingFailed, now: dt.datetime,
                      timings: Timings) -> Decision:
    asked = ask(updated(order, awaiting=None), NO_CARRIER, f"no carrier takes the shipment: {m.reason}",
                [SWITCH_CARRIER, CANCEL], {}, now, timings)
    asked.order = updated(asked.order, decision=asked.order.decision.model_copy(update={"resume": Status.BOOKING}))
    return asked


# --- deciding -------------------------------------------------------------------------------------

def decide(order: Order, choice: str, *, by: str, role: str, comment: str | None, now: dt.datetime) -> Decision:
    """A person's choice (POST /orders/{id}/decision)."""
    pending = order.decision
    if order.status != Status.DECISION_NEEDED or pending is None:
        raise Refused(f"order is {order.status.value}; no decision is needed")
    if role not in pending.owner_roles:
        raise Refused(f"this decision ({pending.kind}) is for {', '.join(pending.owner_roles)}, not {role}")
    if choice not in pending.options:
        raise Refused(f"{choice!r} is not an option; choose one of {', '.join(pending.options)}")
    return apply_choice(order, choice, by=by, comment=comment, now=now)


def apply_choice(order: Order, choice: str, *, by: str, comment: str | None, now: dt.datetime) -> Decision:
    pending = order.decision
    assert pending is not None
    taken = sales.DecisionTaken(order_id=order.order_id, order_number=order.number, decision_id=pending.decision_id,
                                kind=pending.kind, choice=choice, decided_by=by, comment=comment)
    record = f"{pending.kind}: {choice} by {by}"
    resumed = updated(order, decision=None, status=pending.resume, decisions=(*order.decisions, record))
    why = f"{record}" + (f" ({comment})" if comment else "")
    if choice == CANCEL:
        decision = cancel(resumed, f"cancelled by decision: {pending.summary} ({why})", now)
        decision.events.insert(0, taken)
        return decision
    commands: list[Message] = []
    po = pending.context.get("purchase_order_id")
    if pending.kind == SUPPLIER_LATE and po:
        commands.append(procurement.ResolveDelay(order_id=order.order_id, purchase_order_id=po,
                                                 choice="switch" if choice == SWITCH_SUPPLIER else "accept"))
    if choice == SHIP_PARTIAL:
        resumed = updated(resumed, fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL)
    decision = advance(resumed, now, why)
    decision.commands[:0] = commands
    decision.events.insert(0, taken)
    return decision


def decision_tick(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    pending = order.decision
    assert pending is not None
    if now >= pending.due_at:
        return apply_choice(order, pending.default, by="default",
                            comment=f"nobody decided by {pending.due_at:%Y-%m-%d %H:%M:%S}Z", now=now)
    half = pending.requested_at + (pending.due_at - pending.requested_at) / 2
    if not pending.reminded and now >= half:
        reminded, events = recorded_alert(
            order, f"decision_reminder:{pending.decision_id}:decision needed: {pending.summary}",
            f"{order.number} waits for a decision ({', '.join(pending.owner_roles)}): {pending.summary}; "
            f"default {pending.default} at {pending.due_at:%Y-%m-%d %H:%M:%S}Z")
        return Decision(updated(reminded, decision=pending.model_copy(update={"reminded": True})), events=events,
                        note=f"reminder: decision needed by {pending.due_at:%Y-%m-%d %H:%M:%S}Z")
    return None


def decision_next_check(order: Order) -> dt.datetime | None:
    pending = order.decision
    if pending is None:
        return None
    if pending.reminded:
        return pending.due_at
    return pending.requested_at + (pending.due_at - pending.requested_at) / 2


def moot(order: Order) -> str | None:
    """Why a pending decision no longer matters (its cause went away), or None."""
    pending = order.decision
    if pending is None:
        return None
    if pending.kind == CARRIER_LATE and pending.context.get("shipment_id") in order.delivered:
        return f"{pending.context['shipment_id']} was delivered"
    if pending.kind == SUPPLIER_LATE:
        sku = pending.context.get("sku")
        if sku and order.secured.get(sku, 0) >= order.quantity(sku):
            return f"the goods for {sku} are here"
    if pending.kind == NO_CARRIER and order.booked:
        return "a carrier took the shipment"
    return None


def drop_if_moot(order: Order, now: dt.datetime) -> tuple[Order, list[Message], str | None]:
    why = moot(order)
    if why is None:
        return order, [], None
    pending = order.decision
    assert pending is not None
    taken = sales.DecisionTaken(order_id=order.order_id, order_number=order.number, decision_id=pending.decision_id,
                                kind=pending.kind, choice="none", decided_by="moot", comment=why)
    dropped = updated(order, decision=None, status=pending.resume,
                      decisions=(*order.decisions, f"{pending.kind}: moot ({why})"))
    return dropped, [taken], join_notes(f"decision {pending.kind} no longer needed", why)
