"""The saga's state: what sales knows about one order (persisted as JSON), the statuses, the
deadlines, and the `Decision` every transition returns. Pure data and small helpers, no rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts import finance, sales
from contracts.common import (Address, ChangeProposal, FulfilmentPolicy, LineCost, OrderType, PaymentMethod,
                              PricedLine, ReturnReason, StockLine)
from contracts.envelope import Message, message_types


class Status(StrEnum):
    RECEIVED = "received"
    IN_REVIEW = "in_review"          # reviewed before anything is reserved (joint review, destination check)
    DECISION_NEEDED = "decision_needed"   # a person chooses among options (or the default applies)
    AWAITING_APPROVAL = "awaiting_approval"
    CREDIT_CHECK = "credit_check"
    AWAITING_CREDIT = "awaiting_credit"  # the customer is on credit hold: waits for finance
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
    review_timeout: dt.timedelta = dt.timedelta(days=2)           # a sales manager decides a joint review by then
    review_default: str = "reject"                                 # ... else: reject | approve
    decision_timeout: dt.timedelta = dt.timedelta(days=1)         # a decision needed, then its default applies
    credit_wait: dt.timedelta = dt.timedelta(days=14)              # credit hold not lifted -> cancelled


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


class Opinion(BaseModel):
    """One department's verdict in a review."""

    model_config = ConfigDict(frozen=True)

    approved: bool
    reasons: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    at: dt.datetime


class Review(BaseModel):
    """The review of an order before anything is reserved: `joint` (finance, warehouse and
    logistics, then a sales manager) for a major or special order, else logistics' destination
    check alone."""

    model_config = ConfigDict(frozen=True)

    review_id: str
    joint: bool
    reasons: tuple[str, ...] = ()                 # why it is a joint review
    reviewers: tuple[str, ...] = ("logistics",)
    requested_at: dt.datetime | None = None       # set when the review commands go out
    attempts: int = 1
    opinions: dict[str, Opinion] = Field(default_factory=dict)
    manager_asked_at: dt.datetime | None = None   # every department approved: a sales manager's turn
    reminded: bool = False
    verdict: str | None = None                    # approved | rejected
    decided_by: str | None = None
    comment: str | None = None

    @property
    def missing(self) -> list[str]:
        return [d for d in self.reviewers if d not in self.opinions]


class PendingDecision(BaseModel):
    """A choice a person makes for the order; `default` applies at `due_at`."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    kind: str                                     # supplier_late | carrier_late | no_carrier
    summary: str
    options: tuple[str, ...]
    default: str
    owner_roles: tuple[str, ...]
    requested_at: dt.datetime
    due_at: dt.datetime
    resume: Status
    reminded: bool = False
    context: dict[str, Any] = Field(default_factory=dict)   # purchase_order_id, sku, shipment_id, ...


class ReturnCase(BaseModel):
    """One return after delivery (RMA) of part of the order: requested -> approved (or rejected) ->
    received -> inspected -> completed (credited and refunded). See returns.py."""

    model_config = ConfigDict(frozen=True)

    rma: str
    lines: tuple[StockLine, ...]
    reason: ReturnReason
    comment: str | None = None
    status: str = "requested"
    requested_at: dt.datetime
    requested_by: str | None = None
    decided_by: str | None = None
    note: str | None = None
    restocked: tuple[StockLine, ...] = ()
    scrapped: tuple[StockLine, ...] = ()
    credited: Decimal = Decimal("0.00")
    credited_net: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")
    awaiting: Sent | None = None

    @property
    def open(self) -> bool:
        return self.status not in ("rejected", "completed")


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
    payment_terms_days: int | None = None          # requested terms; None: the customer's agreed terms
    currency: str = "EUR"                            # the customer's; every amount of the order is in it
    revision: int = 1
    status: Status = Status.RECEIVED
    status_reason: str | None = None

    # facts learnt along the way
    approved_by: str | None = None
    credit_ok: bool = False
    credit_held: bool = False
    credit_pending: str | None = None                # finance holds the credit check (customer on hold): why
    credit_pending_since: dt.datetime | None = None
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
    shipment_lines: dict[str, list[StockLine]] = Field(default_factory=dict)  # what each dispatched shipment held

    # economics (economics.py): what the goods cost, shipping, net revenue as finance booked it
    fx_rate: Decimal = Decimal("1")                   # order currency -> base currency, fixed at placement
    goods_costs: dict[str, list[LineCost]] = Field(default_factory=dict)   # per shipment, at dispatch
    shipping_costs: dict[str, Decimal] = Field(default_factory=dict)       # per booked shipment (base currency)
    invoiced_net: dict[str, Decimal] = Field(default_factory=dict)         # per invoice (not dunning charges)
    credited_net: dict[str, Decimal] = Field(default_factory=dict)         # per credit note
    returns: tuple[ReturnCase, ...] = ()

    awaiting: Sent | None = None
    change: PendingChange | None = None
    cancel_requested: str | None = None
    compensations: tuple[Compensation, ...] = ()
    alerts: tuple[str, ...] = ()
    dispatch_held_at: dt.datetime | None = None      # the warehouse refused an unpaid hand-over
    review: Review | None = None                     # before anything is reserved
    decision: PendingDecision | None = None          # a person's choice the order waits for
    decisions: tuple[str, ...] = ()                  # what was decided, for the record ("kind: choice by who")

    @property
    def total(self) -> Decimal:
        return total_of(self.lines)

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


def updated(order: Order, **changes: Any) -> Order:
    return order.model_copy(update=changes)


def with_compensation(order: Order, index: int, comp: Compensation) -> Order:
    comps = list(order.compensations)
    comps[index] = comp
    return updated(order, compensations=tuple(comps))


def invoice_command(order: Order, shipment_ref: str, lines: list[StockLine], kind: str = "shipment") -> finance.IssueInvoice:
    priced = [PricedLine(sku=l.sku, quantity=l.quantity, unit_price=order.price(l.sku))
              if isinstance(l, StockLine) else l for l in lines]
    return finance.IssueInvoice(
        order_id=order.order_id, order_number=order.number, customer_id=order.customer_id,
        payment_method=order.payment_method, shipment_ref=shipment_ref, lines=priced, total=total_of(priced),
        kind=kind, payment_terms_days=order.payment_terms_days, currency=order.currency,
        country=order.address.country)


def total_of(lines: Any) -> Decimal:
    return sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))


def alert(order: Order, summary: str, severity: str = "warning") -> sales.SagaAlert:
    return sales.SagaAlert(order_id=order.order_id, order_number=order.number, severity=severity, summary=summary)


def recorded_alert(order: Order, key: str, summary: str, severity: str = "warning") -> tuple[Order, list[Message]]:
    """An alert that GET /alerts and the order's `alerts` show: remembered under `key` (once)."""
    if key in order.alerts:
        return order, []
    return updated(order, alerts=(*order.alerts, key)), [alert(order, summary, severity)]


def describe_change(p: ChangeProposal) -> str:
    parts = [f"{sku} {'+' if d > 0 else ''}{d}" for sku, d in p.quantity_deltas().items()]
    if p.address:
        parts.append(f"address -> {p.address.city}, {p.address.country}")
    if p.requested_delivery_date:
        parts.append(f"delivery date -> {p.requested_delivery_date}")
    return ", ".join(parts)


def join_notes(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
