"""The order saga: one list of steps, each with its command, its replies and its compensation.

Pure logic, no I/O: `start(order)` and `react(order, message)` return a `Decision` (new status,
commands to send, a note for the timeline); `handlers.py` persists it and emits the commands
through the outbox in the same transaction. Unit-tested in tests/unit/test_order_saga.py.

    step            command                     success            failure               compensation
    credit_check    finance.check_credit        credit_approved    credit_rejected       finance.release_credit
    reserve_stock   warehouse.reserve_stock     stock_reserved     (reserved < ordered)  warehouse.release_reservation
    pick_and_pack   warehouse.pick_and_pack     order_packed
    book_shipment   logistics.book_shipment     shipment_booked    booking_failed        logistics.cancel_shipment
    dispatch        warehouse.dispatch_order    order_dispatched   dispatch_refused
    invoice         finance.issue_invoice       invoice_issued
    settle          (waits)                     payment received in full + shipment delivered -> completed

A failure compensates every completed step in reverse order (and the failing step itself when it
left a partial effect, e.g. a partial reservation). A failure at the credit check rejects the
order; a failure later cancels it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from contracts import finance, logistics, warehouse
from contracts.common import Address, OrderType, PaymentMethod, PricedLine, StockLine
from contracts.envelope import Message


class Status(StrEnum):
    RECEIVED = "received"
    CREDIT_CHECK = "credit_check"
    RESERVING = "reserving"
    PICKING = "picking"
    BOOKING = "booking"
    DISPATCHING = "dispatching"
    INVOICING = "invoicing"
    SHIPPED = "shipped"            # invoiced; waiting for delivery and payment
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (Status.COMPLETED, Status.REJECTED, Status.CANCELLED)


@dataclass(frozen=True)
class Order:
    """What the saga knows about an order (persisted by sales in `orders`)."""

    order_id: str
    number: str
    customer_id: str
    order_type: OrderType
    payment_method: PaymentMethod
    lines: tuple[PricedLine, ...]
    address: Address
    requested_delivery_date: dt.date | None = None
    status: Status = Status.RECEIVED
    # facts learnt along the way
    parcels: int | None = None
    weight_kg: float | None = None
    shipment_id: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    invoice_number: str | None = None
    delivered: bool = False
    paid: bool = False
    completed_steps: tuple[str, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Decision:
    order: Order
    commands: list[Message] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class Step:
    name: str
    status: Status
    command: Callable[[Order], Message] | None
    success: type[Message] | None = None
    failure: type[Message] | None = None
    compensation: Callable[[Order, str], Message] | None = None
    # Some replies are a success or a failure depending on their content.
    is_failure: Callable[[Message], str | None] = lambda _message: None
    # What the success reply teaches the order (shipment id, parcels, ...).
    learn: Callable[[Order, Message], Order] = lambda order, _message: order


def _stock_lines(order: Order) -> list[StockLine]:
    return [StockLine(sku=line.sku, quantity=line.quantity) for line in order.lines]


def _shortfall(message: warehouse.StockReserved) -> str | None:
    if message.complete:
        return None
    short = ", ".join(f"{line.sku} short {line.requested - line.reserved}" for line in message.lines
                      if line.reserved < line.requested)
    return f"insufficient stock: {short}"


STEPS: list[Step] = [
    Step(
        "credit_check", Status.CREDIT_CHECK,
        command=lambda o: finance.CheckCredit(
            order_id=o.order_id, order_number=o.number, customer_id=o.customer_id, order_type=o.order_type,
            payment_method=o.payment_method, lines=list(o.lines), total=o.total),
        success=finance.CreditApproved, failure=finance.CreditRejected,
        compensation=lambda o, why: finance.ReleaseCredit(order_id=o.order_id, reason=why),
    ),
    Step(
        "reserve_stock", Status.RESERVING,
        command=lambda o: warehouse.ReserveStock(order_id=o.order_id, lines=_stock_lines(o)),
        success=warehouse.StockReserved, is_failure=_shortfall,
        compensation=lambda o, why: warehouse.ReleaseReservation(order_id=o.order_id, reason=why),
    ),
    Step(
        "pick_and_pack", Status.PICKING,
        command=lambda o: warehouse.PickAndPack(order_id=o.order_id),
        success=warehouse.OrderPacked,
        learn=lambda o, m: replace(o, parcels=m.parcels, weight_kg=m.weight_kg),
    ),
    Step(
        "book_shipment", Status.BOOKING,
        command=lambda o: logistics.BookShipment(
            order_id=o.order_id, order_number=o.number, address=o.address, parcels=o.parcels or 1,
            weight_kg=o.weight_kg or 1.0, requested_delivery_date=o.requested_delivery_date),
        success=logistics.ShipmentBooked, failure=logistics.ShipmentBookingFailed,
        compensation=lambda o, why: logistics.CancelShipment(order_id=o.order_id, reason=why),
        learn=lambda o, m: replace(o, shipment_id=m.shipment_id, carrier=m.carrier,
                                   tracking_number=m.tracking_number),
    ),
    Step(
        "dispatch", Status.DISPATCHING,
        command=lambda o: warehouse.DispatchOrder(
            order_id=o.order_id, shipment_id=o.shipment_id or "", carrier=o.carrier or "",
            tracking_number=o.tracking_number or ""),
        success=warehouse.OrderDispatched, failure=warehouse.DispatchRefused,
    ),
    Step(
        "invoice", Status.INVOICING,
        command=lambda o: finance.IssueInvoice(
            order_id=o.order_id, order_number=o.number, customer_id=o.customer_id,
            payment_method=o.payment_method, shipment_ref=o.shipment_id or o.order_id,
            lines=list(o.lines), total=o.total),
        success=finance.InvoiceIssued,
        learn=lambda o, m: replace(o, invoice_number=m.invoice_number),
    ),
]
STEP_BY_STATUS = {step.status: step for step in STEPS}


def start(order: Order) -> Decision:
    return _enter(order, 0, note="order accepted; credit check requested")


def react(order: Order, message: Message) -> Decision | None:
    """The saga's answer to a department's reply, or None when the message changes nothing."""
    if order.status.final:
        return None
    # Settlement facts may arrive in any order, even before the invoice step finished.
    if isinstance(message, logistics.ShipmentDelivered) and not order.delivered:
        return _maybe_complete(replace(order, delivered=True), "delivered to the customer")
    if isinstance(message, finance.PaymentReceived) and message.order_paid_in_full and not order.paid:
        return _maybe_complete(replace(order, paid=True), f"paid in full ({message.payment_ref})")

    step = STEP_BY_STATUS.get(order.status)
    if step is None:
        return None
    if step.failure and isinstance(message, step.failure):
        return _fail(order, step, _reason(message), partial=False)
    if step.success and isinstance(message, step.success):
        why = step.is_failure(message)
        if why:
            return _fail(order, step, why, partial=True)
        learnt = step.learn(order, message)
        learnt = replace(learnt, completed_steps=(*learnt.completed_steps, step.name))
        index = STEPS.index(step)
        if index + 1 < len(STEPS):
            return _enter(learnt, index + 1, note=f"{step.name} done")
        return _maybe_complete(replace(learnt, status=Status.SHIPPED), "invoiced; awaiting delivery and payment")
    return None


def _enter(order: Order, index: int, note: str) -> Decision:
    step = STEPS[index]
    moved = replace(order, status=step.status)
    return Decision(moved, [step.command(moved)] if step.command else [], note)


def _maybe_complete(order: Order, note: str) -> Decision:
    if order.status == Status.SHIPPED and order.delivered and order.paid:
        return Decision(replace(order, status=Status.COMPLETED), [], f"{note}; order completed")
    return Decision(order, [], note)


def _fail(order: Order, step: Step, reason: str, *, partial: bool) -> Decision:
    """Compensate completed steps in reverse order (and a partially done failing step)."""
    to_undo = [s for s in STEPS if s.name in order.completed_steps]
    if partial:
        to_undo.append(step)
    compensations = [s.compensation(order, reason) for s in reversed(to_undo) if s.compensation]
    final = Status.REJECTED if step.name == "credit_check" else Status.CANCELLED
    return Decision(replace(order, status=final), compensations, f"{step.name} failed: {reason}")


def _reason(message: Message) -> str:
    reasons = getattr(message, "reasons", None)
    if reasons:
        return "; ".join(reasons)
    return getattr(message, "reason", None) or message.TYPE
