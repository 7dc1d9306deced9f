"""The order saga: sales' persisted state machine for one order across every department.

Pure logic, no I/O. `start`, `react` (a department replied), `tick` (time passed), `request_change`
and `request_cancel` return a `Decision`: the order's new state, the commands to send, sales'
own events (status, change, alerts) and a note for the timeline. `handlers.py` persists the
decision and emits everything through the outbox in one transaction.

The forward steps, each beside its reply and its compensation:

    step                command                        reply                   compensation
    approval (sample)   POST /orders/{id}/approve      -                       -
    credit_check        finance.check_credit           credit_approved         finance.release_credit
                                                       credit_rejected -> rejected
    prepayment          finance.issue_invoice (kind    invoice_issued,         finance.credit_invoices,
    (prepaid types)       prepayment)                  payment_received        finance.refund_payments
    reserve_stock       warehouse.reserve_stock        stock_reserved          warehouse.release_reservation
    buy_shortfall       procurement.purchase_shortfall goods arrive ->         procurement.cancel_purchase
                                                       stock_reserved; purchase_failed -> cancel
    -- one wave per shipment (ship_partial may need several) --
    pick_and_pack       warehouse.pick_and_pack        order_packed            (released with the reservation)
    book_shipment       logistics.book_shipment        shipment_booked         logistics.cancel_shipment
    dispatch            warehouse.dispatch_order       order_dispatched        logistics.recall_shipments
                                                                               (first: refused once delivered)
                                                       dispatch_refused (prepaid, unpaid) -> awaiting_payment
    invoice (standard)  finance.issue_invoice          invoice_issued          finance.credit_invoices
    -- then --
    settle              (waits)                        delivered + paid in full -> completed

Control points by order type: `sample` waits for an approval and is never billed; `prepaid_at_order`
reserves nothing until paid; `prepaid_before_shipment` reserves and packs at once but the warehouse
refuses to dispatch until paid. Both prepaid types are cancelled when unpaid past their deadline.

Compensation runs in reverse order of the effects, one at a time: each waits for its department's
`compensation_done`, is re-sent with backoff when none comes, and is parked with an alert after
`max_attempts`. Semantic locks: while a step is in flight a change is refused (409) and a cancel
waits for the step's reply.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts import finance, logistics, procurement, sales, warehouse
from contracts.common import (Address, ChangeProposal, FulfilmentPolicy, OrderType, PaymentMethod, PricedLine,
                              StockLine)
from contracts.envelope import Message, message_types


class Status(StrEnum):
    RECEIVED = "received"
    AWAITING_APPROVAL = "awaiting_approval"
    CREDIT_CHECK = "credit_check"
    AWAITING_PAYMENT = "awaiting_payment"
    RESERVING = "reserving"
    AWAITING_STOCK = "awaiting_stock"
    PICKING = "picking"
    BOOKING = "booking"
    DISPATCHING = "dispatching"
    INVOICING = "invoicing"
    BACKORDERED = "backordered"      # part shipped, the rest waits for stock
    SHIPPED = "shipped"              # everything dispatched; waiting for delivery and payment
    CHANGING = "changing"            # a change is being reviewed by the departments
    CANCELLING = "cancelling"        # compensations running
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (Status.COMPLETED, Status.REJECTED, Status.CANCELLED)


IN_FLIGHT = {Status.CREDIT_CHECK, Status.RESERVING, Status.PICKING, Status.BOOKING, Status.DISPATCHING,
             Status.INVOICING, Status.CHANGING, Status.CANCELLING}
CHANGEABLE = {Status.AWAITING_APPROVAL, Status.AWAITING_PAYMENT, Status.AWAITING_STOCK, Status.BACKORDERED,
              Status.SHIPPED}
WAVE = (Status.PICKING, Status.BOOKING, Status.DISPATCHING, Status.INVOICING)
PREPAID = {OrderType.PREPAID_AT_ORDER, OrderType.PREPAID_BEFORE_SHIPMENT}
UNBILLED = {OrderType.SAMPLE}
REVIEWERS = ("warehouse", "logistics", "finance")


@dataclass(frozen=True)
class Timings:
    """Deadlines (configurable down to seconds for tests)."""

    step_timeout: dt.timedelta = dt.timedelta(minutes=5)          # no reply -> re-send the command
    payment_deadline: dt.timedelta = dt.timedelta(days=7)         # prepaid orders unpaid -> cancelled
    compensation_timeout: dt.timedelta = dt.timedelta(seconds=30)  # first retry; doubles each attempt
    max_attempts: int = 5                                          # then: park with an alert


class Sent(BaseModel):
    """A command the saga waits on, kept so that it can be sent again."""

    model_config = ConfigDict(frozen=True)

    type: str
    payload: dict[str, Any]
    sent_at: dt.datetime
    attempts: int = 1

    def message(self) -> Message:
        return message_types()[self.type].model_validate(self.payload)


class Compensation(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    payload: dict[str, Any]
    sent_at: dt.datetime | None = None
    attempts: int = 0
    done: bool = False
    parked: bool = False
    summary: str | None = None

    def message(self) -> Message:
        return message_types()[self.type].model_validate(self.payload)


class PendingChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposal: ChangeProposal
    resume: Status
    requested_at: dt.datetime
    attempts: int = 1
    reviews: dict[str, bool] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)


class Order(BaseModel):
    """Everything the saga knows about one order; persisted as JSON by sales."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    number: str
    customer_id: str
    order_type: OrderType = OrderType.STANDARD
    payment_method: PaymentMethod = PaymentMethod.INVOICE
    fulfilment_policy: FulfilmentPolicy = FulfilmentPolicy.SHIP_COMPLETE
    lines: tuple[PricedLine, ...]
    address: Address
    requested_delivery_date: dt.date | None = None
    revision: int = 1
    status: Status = Status.RECEIVED
    status_reason: str | None = None

    # facts learnt along the way
    approved_by: str | None = None
    credit_ok: bool = False
    credit_held: bool = False
    payment_due_at: dt.datetime | None = None
    prepayment_invoiced: bool = False
    invoices: tuple[str, ...] = ()
    paid_in_full: bool = False
    payments: int = 0
    reservation_requested: bool = False
    secured: dict[str, int] = Field(default_factory=dict)     # reserved + shipped, per SKU
    shipped: dict[str, int] = Field(default_factory=dict)
    purchasing: dict[str, int] = Field(default_factory=dict)  # asked procurement for, per SKU
    wave: int = 0
    packed: tuple[StockLine, ...] = ()
    parcels: int | None = None
    weight_kg: float | None = None
    shipment_id: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    booked: bool = False
    dispatched: tuple[str, ...] = ()                          # shipment ids handed to carriers
    delivered: tuple[str, ...] = ()                           # ... and reported delivered (any order)
    returned: tuple[str, ...] = ()                            # ... and brought back by a recall
    uninvoiced: dict[str, list[StockLine]] = Field(default_factory=dict)  # dispatched, not yet billed

    awaiting: Sent | None = None
    change: PendingChange | None = None
    cancel_requested: str | None = None
    compensations: tuple[Compensation, ...] = ()
    alerts: tuple[str, ...] = ()
    dispatch_held_at: dt.datetime | None = None      # the warehouse refused an unpaid hand-over

    @property
    def total(self) -> Decimal:
        return _total(self.lines)

    def quantity(self, sku: str) -> int:
        return next((line.quantity for line in self.lines if line.sku == sku), 0)

    def price(self, sku: str) -> Decimal:
        return next((line.unit_price for line in self.lines if line.sku == sku), Decimal("0.00"))

    def shortfall(self) -> dict[str, int]:
        return {line.sku: line.quantity - self.secured.get(line.sku, 0) for line in self.lines
                if self.secured.get(line.sku, 0) < line.quantity}

    def ready_to_pack(self) -> dict[str, int]:
        """Secured and not yet shipped (nor in the current package)."""
        packed = {line.sku: line.quantity for line in self.packed}
        ready = {line.sku: self.secured.get(line.sku, 0) - self.shipped.get(line.sku, 0) - packed.get(line.sku, 0)
                 for line in self.lines}
        return {sku: qty for sku, qty in ready.items() if qty > 0}

    def fully_shipped(self) -> bool:
        return all(self.shipped.get(line.sku, 0) >= line.quantity for line in self.lines)

    def anything_shipped(self) -> bool:
        return any(self.shipped.values())

    @property
    def billed(self) -> bool:
        return self.order_type not in UNBILLED


@dataclass
class Decision:
    order: Order
    commands: list[Message] = field(default_factory=list)
    events: list[Message] = field(default_factory=list, kw_only=True)   # sales' own events
    note: str | None = field(default=None, kw_only=True)


class Refused(Exception):
    """A request the order's current state does not allow (HTTP 409), with the reason."""


# --- entry points -----------------------------------------------------------------------------

def start(order: Order, now: dt.datetime, timings: Timings) -> Decision:
    if order.order_type in PREPAID:
        order = order.model_copy(update={"payment_due_at": now + timings.payment_deadline})
    if order.order_type == OrderType.SAMPLE:
        return Decision(_with(order, status=Status.AWAITING_APPROVAL),
                        note="sample order: waiting for a sales manager's approval")
    return _advance(order, now, "order accepted")


def approve(order: Order, approver: str, now: dt.datetime) -> Decision:
    if order.status != Status.AWAITING_APPROVAL:
        raise Refused(f"order is {order.status.value}, not awaiting approval")
    return _advance(_with(order, approved_by=approver), now, f"approved by {approver}")


def react(order: Order, message: Message, now: dt.datetime, timings: Timings) -> Decision | None:
    """The saga's answer to a department's event, or None when it changes nothing."""
    if order.status == Status.CANCELLED and isinstance(message, finance.PaymentReceived):
        return _refund_late_payment(order, now)
    if order.status.final:
        return None
    if order.status == Status.CANCELLING:
        return _on_compensation_reply(order, message, now)
    if order.status == Status.CHANGING and _is_review(message):
        return _on_review(order, message, now, timings)

    learnt, note, failure = _learn(order, message, now)
    alerts = [_alert(order, key.split(":", 2)[-1]) for key in learnt.alerts if key not in order.alerts]
    step_done = learnt.awaiting is not None and _answers(learnt.awaiting, message)
    if failure:
        if learnt.awaiting is not None and not step_done:
            # Semantic lock: the step in flight finishes first; its reply then starts compensation.
            return Decision(_with(learnt, cancel_requested=failure), events=alerts,
                            note=f"{failure}; cancelling once {learnt.awaiting.type} is answered")
        return cancel(learnt, failure, now, rejected=isinstance(message, finance.CreditRejected))
    if step_done:
        learnt = _with(learnt, awaiting=None)
    # A stock picture is worth re-deciding on even when unchanged (e.g. an increase found no stock).
    if learnt == order and not isinstance(message, warehouse.StockReserved):
        return None
    if learnt.status == Status.CHANGING:
        return Decision(learnt, events=alerts, note=note)   # facts recorded; the change decides what is next
    if learnt.cancel_requested and learnt.awaiting is None:
        if learnt.delivered:
            dropped = _with(learnt, cancel_requested=None)
            decision = _advance(dropped, now, _join(note or "", "cancellation dropped: goods already delivered"))
            decision.events[:0] = [*alerts, _alert(order, "cancellation requested too late: goods were delivered")]
            return decision
        return cancel(learnt, learnt.cancel_requested, now)
    if step_done or learnt.status not in IN_FLIGHT:
        decision = _advance(learnt, now, note or "")
        if learnt == order and not decision.commands and decision.order == order:
            return None                          # an unchanged stock picture that changes nothing
    elif learnt == order:
        return None
    else:
        decision = Decision(learnt, note=note)
    decision.events[:0] = alerts
    return decision


def tick(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    """Deadlines: unpaid prepaid orders, steps without reply, compensations without answer."""
    if order.status.final:
        return None
    if order.status == Status.CANCELLING:
        return _retry_compensation(order, now, timings)
    if (order.payment_due_at and now >= order.payment_due_at and not order.paid_in_full
            and not order.anything_shipped() and order.status != Status.CHANGING):
        return cancel(order, f"unpaid past the payment deadline {order.payment_due_at:%Y-%m-%d %H:%M:%S}Z", now)
    if order.status == Status.CHANGING and order.change:
        return _review_deadline(order, now, timings)
    if order.status == Status.AWAITING_PAYMENT and order.paid_in_full and order.packed:
        return _advance(order, now, "paid: hand-over requested again")
    sent = order.awaiting
    if sent and now >= sent.sent_at + timings.step_timeout * sent.attempts:
        if sent.attempts >= timings.max_attempts:
            key = _stuck_key(order, sent)
            if key in order.alerts:
                return None
            summary = f"no answer to {sent.type} after {sent.attempts} attempts; a person must look"
            return Decision(_with(order, alerts=(*order.alerts, key)), events=[_alert(order, summary)], note=summary)
        again = sent.model_copy(update={"sent_at": now, "attempts": sent.attempts + 1})
        return Decision(_with(order, awaiting=again), [sent.message()],
                        note=f"no answer to {sent.type}; sent again (attempt {again.attempts})")
    return None


def request_cancel(order: Order, reason: str, now: dt.datetime) -> Decision:
    if order.status.final or order.status == Status.CANCELLING:
        raise Refused(f"order is already {order.status.value}")
    if order.delivered:
        raise Refused("goods are already delivered; a return, not a cancellation, undoes that")
    if order.awaiting is not None or order.status == Status.CHANGING:
        # Semantic lock: the step in flight finishes first, then the cancellation compensates it too.
        return Decision(_with(order, cancel_requested=reason),
                        note=f"cancellation requested ({reason}); waits for {order.status.value} to settle")
    return cancel(order, reason, now)


def request_change(order: Order, *, lines: tuple[PricedLine, ...] | None, address: Address | None,
                   requested_delivery_date: dt.date | None, now: dt.datetime) -> Decision:
    if order.status.final:
        raise Refused(f"order is {order.status.value}; it can no longer change")
    if order.status not in CHANGEABLE:
        raise Refused(f"order is {order.status.value} (a step is in flight); retry when it settles")
    new_lines = lines if lines is not None else order.lines
    if order.order_type in PREPAID and order.prepayment_invoiced and _total(new_lines) != order.total:
        raise Refused("the prepayment is already invoiced; a prepaid order's amount cannot change")
    proposal = ChangeProposal(
        change_id=str(uuid.uuid4()), order_id=order.order_id, revision=order.revision + 1,
        lines=list(new_lines), previous_lines=list(order.lines), address=address,
        requested_delivery_date=requested_delivery_date, new_total=_total(new_lines),
        previous_total=order.total)
    if not proposal.quantity_deltas() and address is None and requested_delivery_date is None:
        raise Refused("the change changes nothing")
    changing = _with(order, status=Status.CHANGING,
                     change=PendingChange(proposal=proposal, resume=order.status, requested_at=now))
    return Decision(changing, _review_commands(order, proposal), note=f"change {proposal.change_id[:8]} under review: {_describe(proposal)}")


def _review_commands(order: Order, proposal: ChangeProposal) -> list[Message]:
    return [warehouse.ReviewChange(proposal=proposal), logistics.ReviewChange(proposal=proposal),
            finance.ReviewChange(proposal=proposal, customer_id=order.customer_id, order_type=order.order_type)]


# --- forward progress -------------------------------------------------------------------------

def _advance(order: Order, now: dt.datetime, note: str) -> Decision:
    """From a settled state, the next thing to do, decided from the facts alone."""
    def send(status: Status, command: Message, *extra: Message, why: str = "") -> Decision:
        sent = Sent(type=command.TYPE, payload=command.model_dump(mode="json"), sent_at=now)
        return Decision(_with(order, status=status, awaiting=sent), [command, *extra],
                        note=_join(note, why or f"{status.value}"))

    if order.order_type == OrderType.SAMPLE and not order.approved_by:
        return Decision(_with(order, status=Status.AWAITING_APPROVAL), note=_join(note, "awaiting approval"))
    if not order.credit_ok:
        return send(Status.CREDIT_CHECK, finance.CheckCredit(
            order_id=order.order_id, order_number=order.number, customer_id=order.customer_id,
            order_type=order.order_type, payment_method=order.payment_method, lines=list(order.lines),
            total=order.total), why="credit check requested")

    commands: list[Message] = []
    if order.order_type in PREPAID and not order.prepayment_invoiced:
        commands.append(_invoice(order, "prepayment", list(order.lines), kind="prepayment"))
        order = _with(order, prepayment_invoiced=True)
    if order.order_type == OrderType.PREPAID_AT_ORDER and not order.paid_in_full:
        return Decision(_with(order, status=Status.AWAITING_PAYMENT), commands,
                        note=_join(note, f"prepayment invoiced; nothing is reserved until paid "
                                    f"(due {order.payment_due_at:%Y-%m-%d %H:%M:%S}Z)"))
    if not order.reservation_requested:
        order = _with(order, reservation_requested=True)
        decision = send(Status.RESERVING, warehouse.ReserveStock(
            order_id=order.order_id, lines=[StockLine(sku=l.sku, quantity=l.quantity) for l in order.lines]),
            why="stock reservation requested")
        decision.commands[:0] = commands
        return decision

    # A package is on its way out: book it, then hand it over.
    if order.packed:
        if not order.booked:
            decision = send(Status.BOOKING, logistics.BookShipment(
                order_id=order.order_id, order_number=order.number, address=order.address,
                parcels=order.parcels or 1, weight_kg=order.weight_kg or 1.0,
                requested_delivery_date=order.requested_delivery_date), why="carrier booking requested")
        elif _dispatch_on_hold(order, now):
            return Decision(_with(order, status=Status.AWAITING_PAYMENT), commands,
                            note=_join(note, "goods packed and booked; the warehouse hands them over once paid"))
        else:
            decision = send(Status.DISPATCHING, warehouse.DispatchOrder(
                order_id=order.order_id, shipment_id=order.shipment_id or "", carrier=order.carrier or "",
                tracking_number=order.tracking_number or "",
                payment_required=order.order_type == OrderType.PREPAID_BEFORE_SHIPMENT),
                why="hand-over to the carrier requested")
        decision.commands[:0] = commands
        return decision
    # Standard orders are invoiced per shipment, once it has left.
    if order.uninvoiced:
        shipment_id, lines = next(iter(order.uninvoiced.items()))
        decision = send(Status.INVOICING, _invoice(order, shipment_id, lines), why=f"invoicing {shipment_id}")
        decision.commands[:0] = commands
        return decision

    # Buy what is missing and not yet being bought (an increase buys only the extra).
    shortfall = order.shortfall()
    purchasing = dict(order.purchasing)
    for sku, missing in shortfall.items():
        extra = missing - purchasing.get(sku, 0)
        if extra > 0:
            commands.append(procurement.PurchaseShortfall(order_id=order.order_id, sku=sku, quantity=extra,
                                                          needed_by=order.requested_delivery_date))
            purchasing[sku] = purchasing.get(sku, 0) + extra
    order = _with(order, purchasing=purchasing)

    ready = order.ready_to_pack()
    may_ship = ready and (not shortfall or order.fulfilment_policy == FulfilmentPolicy.SHIP_PARTIAL)
    if may_ship:
        decision = send(Status.PICKING, warehouse.PickAndPack(order_id=order.order_id),
                        why=f"shipment {order.wave + 1}: pick and pack " + ", ".join(
                            f"{q}x {s}" for s, q in ready.items()))
        decision.order = _with(decision.order, wave=order.wave + 1)
        decision.commands[:0] = commands
        return decision
    if shortfall:
        status = Status.BACKORDERED if order.anything_shipped() else Status.AWAITING_STOCK
        short = ", ".join(f"{q}x {s}" for s, q in shortfall.items())
        return Decision(_with(order, status=status), commands, note=_join(note, f"waiting for stock: {short}"))
    return _maybe_complete(_with(order, status=Status.SHIPPED), commands, note)


def _maybe_complete(order: Order, commands: list[Message], note: str) -> Decision:
    delivered = bool(order.dispatched) and set(order.dispatched) <= set(order.delivered)
    paid = order.paid_in_full or not order.billed
    if order.status == Status.SHIPPED and order.fully_shipped() and delivered and paid:
        return Decision(_with(order, status=Status.COMPLETED), commands, note=_join(note, "order completed"))
    waiting = [w for w, ok in (("delivery", delivered), ("payment", paid)) if not ok]
    return Decision(order, commands, note=_join(note, f"waiting for {' and '.join(waiting)}" if waiting else ""))


def _learn(order: Order, m: Message, now: dt.datetime) -> tuple[Order, str | None, str | None]:
    """Record what a department's event teaches; returns (order, note, failure reason)."""
    u: dict[str, Any] = {}
    note = failure = None
    if isinstance(m, finance.CreditApproved):
        u = {"credit_ok": True, "credit_held": order.order_type == OrderType.STANDARD}
        note = "credit approved"
    elif isinstance(m, finance.CreditRejected):
        failure = "credit check failed: " + "; ".join(m.reasons)
    elif isinstance(m, finance.InvoiceIssued):
        if m.invoice_number not in order.invoices:
            u = {"invoices": (*order.invoices, m.invoice_number), "paid_in_full": False,
                 "uninvoiced": {k: v for k, v in order.uninvoiced.items() if k != m.shipment_ref}}
        note = f"invoice {m.invoice_number} issued ({m.amount})"
    elif isinstance(m, finance.PaymentReceived):
        u = {"payments": order.payments + 1, "paid_in_full": m.order_paid_in_full}
        note = f"payment {m.payment_ref} received ({m.amount})" + ("; paid in full" if m.order_paid_in_full else "")
    elif isinstance(m, warehouse.StockReserved):
        secured = {line.sku: line.reserved for line in m.lines}
        # What arrived (or was found) is no longer being bought: never buy more than is missing.
        missing = {line.sku: line.quantity - secured.get(line.sku, 0) for line in order.lines}
        purchasing = {sku: min(qty, max(0, missing.get(sku, 0))) for sku, qty in order.purchasing.items()}
        u = {"secured": secured, "purchasing": {k: v for k, v in purchasing.items() if v > 0}}
        short = [f"{l.sku} short {l.requested - l.reserved}" for l in m.lines if l.reserved < l.requested]
        note = "stock reserved" + (f" ({', '.join(short)})" if short else " in full")
    elif isinstance(m, warehouse.ReservationExpired):
        failure = "the reservation expired"
    elif isinstance(m, warehouse.OrderPacked):
        u = {"packed": tuple(m.lines), "parcels": m.parcels, "weight_kg": m.weight_kg}
    elif isinstance(m, logistics.ShipmentBooked):
        u = {"shipment_id": m.shipment_id, "carrier": m.carrier, "tracking_number": m.tracking_number,
             "booked": True}
        note = f"booked {m.carrier}, tracking {m.tracking_number}, ETA {m.eta}"
    elif isinstance(m, logistics.ShipmentBookingFailed):
        failure = f"no carrier: {m.reason}"
    elif isinstance(m, warehouse.OrderDispatched) and m.shipment_id in order.dispatched:
        pass                                         # a repeated announcement of an earlier shipment
    elif isinstance(m, warehouse.OrderDispatched):
        shipped = dict(order.shipped)
        for line in m.lines:
            shipped[line.sku] = shipped.get(line.sku, 0) + line.quantity
        u = {"shipped": shipped, "packed": (), "booked": False, "dispatched": (*order.dispatched, m.shipment_id)}
        if order.order_type == OrderType.STANDARD:
            u["uninvoiced"] = {**order.uninvoiced, m.shipment_id: list(m.lines)}
        note = f"shipment {m.shipment_id} dispatched: " + ", ".join(f"{l.quantity}x {l.sku}" for l in m.lines)
    elif isinstance(m, warehouse.DispatchRefused):
        if order.order_type == OrderType.PREPAID_BEFORE_SHIPMENT:
            # The warehouse holds prepaid goods until it has seen the payment (tick retries once paid).
            u = {"status": Status.AWAITING_PAYMENT, "awaiting": None, "dispatch_held_at": now}
            note = f"dispatch held: {m.reason}"
        else:
            failure = f"dispatch refused: {m.reason}"
    elif isinstance(m, logistics.ShipmentDelivered):
        # Topics are not ordered with each other: a delivery may overtake its dispatch event.
        if m.shipment_id not in order.delivered:
            u = {"delivered": (*order.delivered, m.shipment_id)}
        note = f"shipment {m.shipment_id} delivered"
    elif isinstance(m, logistics.ShipmentReturned) and order.status != Status.CANCELLING:
        key = f"unexpected_return:{m.shipment_id}:shipment {m.shipment_id} came back without a recall"
        if key not in order.alerts:
            u = {"alerts": (*order.alerts, key)}
    elif isinstance(m, logistics.ShipmentReturned) and m.shipment_id not in order.returned:
        shipped = dict(order.shipped)
        for line in m.lines:
            shipped[line.sku] = max(0, shipped.get(line.sku, 0) - line.quantity)
        u = {"shipped": shipped, "returned": (*order.returned, m.shipment_id)}
        note = f"shipment {m.shipment_id} came back to the warehouse"
    elif isinstance(m, logistics.ShipmentCancelled) and m.shipment_id == order.shipment_id and order.booked:
        # Logistics dropped the booking (e.g. the new address is outside the carrier's area): book again.
        u = {"booked": False, "shipment_id": None, "carrier": None, "tracking_number": None}
        note = f"booking {m.shipment_id} cancelled by logistics: {m.reason}"
    elif isinstance(m, procurement.PurchaseFailed):
        if order.anything_shipped():
            summary = f"cannot buy the rest of {m.sku}: {m.reason}; part shipped, a person must decide"
            return _with(order, alerts=(*order.alerts, f"purchase_failed:{m.sku}:{summary}")), summary, None
        failure = f"cannot be fulfilled: {m.reason}"
    elif isinstance(m, procurement.PurchaseOrderCancelled) and m.kept_as_stock:
        note = f"{m.kept_as_stock}x {m.sku} of {m.purchase_order_id} kept as stock"
    return (_with(order, **u) if u else order), note, failure


REPLIES: dict[str, tuple[type[Message], ...]] = {
    finance.CheckCredit.TYPE: (finance.CreditApproved, finance.CreditRejected),
    warehouse.ReserveStock.TYPE: (warehouse.StockReserved,),
    warehouse.PickAndPack.TYPE: (warehouse.OrderPacked,),
    logistics.BookShipment.TYPE: (logistics.ShipmentBooked, logistics.ShipmentBookingFailed),
    warehouse.DispatchOrder.TYPE: (warehouse.OrderDispatched, warehouse.DispatchRefused),
    finance.IssueInvoice.TYPE: (finance.InvoiceIssued,),
}
COMPENSATION_DONE = (finance.CompensationDone, warehouse.CompensationDone, logistics.CompensationDone,
                     procurement.CompensationDone)
REVIEWS = (finance.ChangeReviewed, warehouse.ChangeReviewed, logistics.ChangeReviewed)


def _answers(sent: Sent, m: Message) -> bool:
    if not isinstance(m, REPLIES.get(sent.type, ())):
        return False
    if sent.type == warehouse.DispatchOrder.TYPE and isinstance(m, warehouse.OrderDispatched):
        return m.shipment_id == sent.payload.get("shipment_id")
    return True


DISPATCH_RETRY = dt.timedelta(seconds=1)
NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc) - DISPATCH_RETRY


def _dispatch_on_hold(order: Order, now: dt.datetime) -> bool:
    """Refused for want of payment: wait until paid, then give the warehouse a moment to learn it."""
    if order.order_type != OrderType.PREPAID_BEFORE_SHIPMENT or order.dispatch_held_at is None:
        return False
    return not order.paid_in_full or now < order.dispatch_held_at + DISPATCH_RETRY


def _stuck_key(order: Order, sent: Sent) -> str:
    return f"stuck:{sent.type}:wave{order.wave}"


def _is_review(m: Message) -> bool:
    return isinstance(m, REVIEWS)


# --- cancellation and compensation ------------------------------------------------------------

def cancel(order: Order, reason: str, now: dt.datetime, *, rejected: bool = False) -> Decision:
    """Undo every effect, newest first. Rejected/cancelled at once when there is nothing to undo."""
    plan = _compensation_plan(order, reason)
    cleared = {"awaiting": None, "change": None, "status_reason": reason, "cancel_requested": None}
    if not plan:
        final = Status.REJECTED if rejected else Status.CANCELLED
        return Decision(_with(order, status=final, **cleared), note=reason)
    order = _with(order, status=Status.CANCELLING, compensations=tuple(plan), **cleared)
    return _send_next_compensation(order, now, f"cancelling: {reason}; compensating " +
                                   ", ".join(c.type for c in plan))


def _compensation_plan(order: Order, reason: str) -> list[Compensation]:
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
    if order.credit_held:
        steps.append(finance.ReleaseCredit(order_id=oid, reason=reason))
    return [Compensation(type=m.TYPE, payload=m.model_dump(mode="json")) for m in steps]


def _current(order: Order) -> tuple[int, Compensation] | None:
    return next(((i, c) for i, c in enumerate(order.compensations) if not c.done and not c.parked), None)


def _send_next_compensation(order: Order, now: dt.datetime, note: str) -> Decision:
    current = _current(order)
    if current is None:
        parked = [c.type for c in order.compensations if c.parked]
        if parked:
            return Decision(order, note=_join(note, f"compensation parked for a person: {', '.join(parked)}"))
        return Decision(_with(order, status=Status.CANCELLED), note=_join(note, "every effect compensated"))
    index, comp = current
    sent = comp.model_copy(update={"sent_at": now, "attempts": comp.attempts + 1})
    return Decision(_replace_comp(order, index, sent), [comp.message()], note=note)


def _on_compensation_reply(order: Order, m: Message, now: dt.datetime) -> Decision | None:
    learnt, _, _ = _learn(order, m, now)    # keep facts (e.g. a late payment) up to date
    if isinstance(m, logistics.RecallFailed):
        return _abandon_cancellation(learnt, m.reason, now)
    if learnt.payments > order.payments:
        # Money that arrives while cancelling goes back too.
        refund = finance.RefundPayments(order_id=order.order_id, reason=order.status_reason or "order cancelled")
        learnt = _with(learnt, compensations=(*learnt.compensations, Compensation(
            type=refund.TYPE, payload=refund.model_dump(mode="json"))))
    # Match the oldest unfinished compensation of that type, parked ones included (a late answer counts).
    match = next(((i, c) for i, c in enumerate(learnt.compensations) if not c.done and c.sent_at is not None
                  and isinstance(m, COMPENSATION_DONE) and c.type == m.command_type), None)
    if match is None:
        return Decision(learnt) if learnt != order else None
    index, comp = match
    done = _replace_comp(learnt, index, comp.model_copy(update={"done": True, "parked": False,
                                                                 "summary": m.summary}))
    if _current(learnt) is not None and _current(learnt)[0] != index:
        return Decision(done, note=f"{comp.type} done late: {m.summary}")
    return _send_next_compensation(done, now, f"{comp.type} done: {m.summary}")


def _abandon_cancellation(order: Order, why: str, now: dt.datetime) -> Decision:
    """The goods reached the customer before they could be recalled: nothing else was undone yet
    (the recall goes first), so the order simply carries on towards completion."""
    resumed = _with(order, compensations=(), status_reason=None, status=Status.SHIPPED)
    decision = _advance(resumed, now, f"cancellation abandoned: {why}")
    decision.events.insert(0, _alert(order, f"cancellation abandoned, goods not recalled: {why}"))
    return decision


def _refund_late_payment(order: Order, now: dt.datetime) -> Decision:
    """A payment for an order already cancelled: give it back."""
    refund = finance.RefundPayments(order_id=order.order_id, reason="payment arrived after cancellation")
    reopened = _with(order, status=Status.CANCELLING, payments=order.payments + 1,
                     compensations=(*order.compensations, Compensation(type=refund.TYPE,
                                                                       payload=refund.model_dump(mode="json"))))
    return _send_next_compensation(reopened, now, "payment arrived after cancellation: refunding it")


def _retry_compensation(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    current = _current(order)
    if current is None:
        return None
    index, comp = current
    if comp.sent_at is None or now < comp.sent_at + timings.compensation_timeout * 2 ** (comp.attempts - 1):
        return None
    if comp.attempts >= timings.max_attempts:
        parked = _replace_comp(order, index, comp.model_copy(update={"parked": True}))
        summary = f"{comp.type} unanswered after {comp.attempts} attempts: parked for a person"
        decision = _send_next_compensation(parked, now, summary)
        decision.events.append(_alert(order, summary, severity="critical"))
        return decision
    again = comp.model_copy(update={"sent_at": now, "attempts": comp.attempts + 1})
    return Decision(_replace_comp(order, index, again), [comp.message()],
                    note=f"{comp.type} unanswered; sent again (attempt {again.attempts})")


def retry_parked(order: Order, now: dt.datetime) -> Decision:
    """An operator asks to try parked compensations again."""
    if not any(c.parked for c in order.compensations):
        raise Refused("no parked compensation")
    comps = tuple(c.model_copy(update={"parked": False, "attempts": 0}) if c.parked else c
                  for c in order.compensations)
    return _send_next_compensation(_with(order, status=Status.CANCELLING, compensations=comps), now,
                                   "parked compensations retried by an operator")


# --- changes ----------------------------------------------------------------------------------

def _on_review(order: Order, m: Message, now: dt.datetime, timings: Timings) -> Decision | None:
    change = order.change
    if change is None or m.change_id != change.proposal.change_id:
        return None
    department = m.TYPE.split(".")[0]
    reasons = [*change.reasons, *([f"{department}: {m.reason}"] if not m.approved and m.reason else [])]
    change = change.model_copy(update={"reviews": {**change.reviews, department: m.approved}, "reasons": reasons})
    if len(change.reviews) < len(REVIEWERS):
        return Decision(_with(order, change=change), note=f"{department} {'approves' if m.approved else 'refuses'}")
    proposal = change.proposal
    resumed = _with(order, status=change.resume, change=None)
    if not all(change.reviews.values()):
        return _refuse_change(resumed, proposal, reasons or ["refused"], now)
    return _then_pending_cancel(_apply_change(resumed, proposal, now), now)


def _refuse_change(resumed: Order, proposal: ChangeProposal, reasons: list[str], now: dt.datetime) -> Decision:
    event = sales.OrderChangeRefused(order_id=resumed.order_id, change_id=proposal.change_id, reasons=reasons)
    note = f"change {proposal.change_id[:8]} refused: {'; '.join(reasons)}"
    if resumed.cancel_requested:
        return _then_pending_cancel(Decision(resumed, events=[event], note=note), now)
    decision = _advance(resumed, now, note)   # facts learnt during the review may move the order on
    decision.events.insert(0, event)
    return decision


def _review_deadline(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    change = order.change
    assert change is not None
    if now < change.requested_at + timings.step_timeout * change.attempts:
        return None
    missing = [d for d in REVIEWERS if d not in change.reviews]
    if change.attempts >= timings.max_attempts:
        resumed = _with(order, status=change.resume, change=None)
        return _refuse_change(resumed, change.proposal, [f"{d}: no answer to the review" for d in missing], now)
    reviews = [r for r in _review_commands(order, change.proposal) if r.TYPE.split(".")[0] in missing]
    again = change.model_copy(update={"requested_at": now, "attempts": change.attempts + 1})
    return Decision(_with(order, change=again), reviews,
                    note=f"no review from {', '.join(missing)}; asked again (attempt {again.attempts})")


def _apply_change(order: Order, proposal: ChangeProposal, now: dt.datetime) -> Decision:
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
    changed = _with(order, lines=tuple(proposal.lines), revision=proposal.revision,
                    address=proposal.address or order.address, secured=secured,
                    purchasing={k: v for k, v in purchasing.items() if v > 0},
                    requested_delivery_date=proposal.requested_delivery_date or order.requested_delivery_date)
    event = sales.OrderChanged(order_id=order.order_id, change_id=proposal.change_id, revision=proposal.revision,
                               lines=list(proposal.lines), total=proposal.new_total)
    note = f"change {proposal.change_id[:8]} applied (revision {proposal.revision}): {_describe(proposal)}"
    if deltas and order.reservation_requested:
        # The warehouse answers AdjustReservation with a fresh stock picture; the saga buys only
        # what it could not find then.
        return Decision(changed, commands, events=[event], note=note)
    follow = _advance(changed, now, note)
    follow.commands[:0] = commands
    follow.events.insert(0, event)
    return follow


def _then_pending_cancel(decision: Decision, now: dt.datetime) -> Decision:
    order = decision.order
    if order.cancel_requested:
        follow = cancel(order, order.cancel_requested, now)
        follow.commands[:0] = decision.commands
        follow.events[:0] = decision.events
        follow.note = _join(decision.note or "", follow.note or "")
        return follow
    return decision


# --- deadlines --------------------------------------------------------------------------------

def next_check(order: Order, timings: Timings) -> dt.datetime | None:
    """When `tick` may next have something to do (persisted, so a periodic job finds due orders)."""
    if order.status.final:
        return None
    candidates = []
    if order.status == Status.CANCELLING:
        current = _current(order)
        if current and current[1].sent_at:
            candidates.append(current[1].sent_at + timings.compensation_timeout * 2 ** (current[1].attempts - 1))
    else:
        if order.payment_due_at and not order.paid_in_full and not order.anything_shipped():
            candidates.append(order.payment_due_at)
        if order.awaiting and _stuck_key(order, order.awaiting) not in order.alerts:
            candidates.append(order.awaiting.sent_at + timings.step_timeout * order.awaiting.attempts)
        if order.change:
            candidates.append(order.change.requested_at + timings.step_timeout * order.change.attempts)
        if order.status == Status.AWAITING_PAYMENT and order.paid_in_full and order.packed:
            candidates.append((order.dispatch_held_at or order.payment_due_at or NEVER) + DISPATCH_RETRY)
    return min(candidates) if candidates else None


# --- small helpers ----------------------------------------------------------------------------

def _with(order: Order, **changes: Any) -> Order:
    return order.model_copy(update=changes)


def _replace_comp(order: Order, index: int, comp: Compensation) -> Order:
    comps = list(order.compensations)
    comps[index] = comp
    return _with(order, compensations=tuple(comps))


def _invoice(order: Order, shipment_ref: str, lines: list[StockLine], kind: str = "shipment") -> finance.IssueInvoice:
    priced = [PricedLine(sku=l.sku, quantity=l.quantity, unit_price=order.price(l.sku))
              if isinstance(l, StockLine) else l for l in lines]
    return finance.IssueInvoice(
        order_id=order.order_id, order_number=order.number, customer_id=order.customer_id,
        payment_method=order.payment_method, shipment_ref=shipment_ref, lines=priced, total=_total(priced),
        kind=kind)


def _total(lines: Any) -> Decimal:
    return sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))


def _alert(order: Order, summary: str, severity: str = "warning") -> sales.SagaAlert:
    return sales.SagaAlert(order_id=order.order_id, order_number=order.number, severity=severity, summary=summary)


def _describe(p: ChangeProposal) -> str:
    parts = [f"{sku} {'+' if d > 0 else ''}{d}" for sku, d in p.quantity_deltas().items()]
    if p.address:
        parts.append(f"address -> {p.address.city}, {p.address.country}")
    if p.requested_delivery_date:
        parts.append(f"delivery date -> {p.requested_delivery_date}")
    return ", ".join(parts)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
