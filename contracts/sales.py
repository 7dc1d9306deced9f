"""Sales: order intake from other systems, and the order's public lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from contracts.common import (Address, Currency, FulfilmentPolicy, Money, OrderType, PaymentMethod, PricedLine,
                              Quantity, ReturnReason, StockLine)
from contracts.envelope import Message
from pydantic import BaseModel, ConfigDict

COMMANDS = "sales.commands.v1"
EVENTS = "sales.events.v1"


class OrderLineRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str = Field(min_length=1, max_length=64)
    quantity: Quantity
    unit_price: Money | None = Field(default=None, description="Agreed price; defaults to the list price")


# --- commands (written by integrations, read by sales) ---------------------------------------

class PlaceOrder(Message):
    """An order from another system. `external_ref` makes the command idempotent per channel."""

    TYPE: ClassVar[str] = "sales.place_order"
    TOPIC: ClassVar[str] = COMMANDS

    channel: str = Field(min_length=1, max_length=50)
    external_ref: str = Field(min_length=1, max_length=100)
    customer_id: str
    order_type: OrderType = OrderType.STANDARD
    lines: list[OrderLineRequest] = Field(min_length=1, max_length=200)
    requested_delivery_date: dt.date | None = None
    delivery_address: Address | None = None
    payment_method: PaymentMethod = PaymentMethod.INVOICE
    fulfilment_policy: FulfilmentPolicy = FulfilmentPolicy.SHIP_COMPLETE
    payment_terms_days: int | None = Field(default=None, ge=0, le=365,
                                           description="Requested payment terms (days); None: the agreed terms")
    special: bool = Field(default=False, description="Flagged as special: needs a joint review")
    special_reason: str | None = Field(default=None, max_length=500,
                                       description="Why it is special (also flags it)")
    currency: Currency | None = Field(default=None, description="Must be the customer's; absent: the customer's")


# --- events (written only by sales) -----------------------------------------------------------

class OrderPlaced(Message):
    TYPE: ClassVar[str] = "sales.order_placed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    customer_id: str
    order_type: OrderType
    lines: list[PricedLine]
    total: Money
    channel: str
    currency: Currency | None = Field(default=None, description="Of the prices and total; absent: EUR")


class OrderStatusChanged(Message):
    TYPE: ClassVar[str] = "sales.order_status_changed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    status: str
    previous_status: str | None = None
    reason: str | None = None


class OrderRejectedByIntake(Message):
    """A PlaceOrder command sales could not accept (unknown customer or SKU, ...)."""

    TYPE: ClassVar[str] = "sales.order_intake_rejected"
    TOPIC: ClassVar[str] = EVENTS

    channel: str
    external_ref: str
    reasons: list[str]


class OrderChanged(Message):
    """A change was reviewed by every affected department and applied everywhere."""

    TYPE: ClassVar[str] = "sales.order_changed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    change_id: str
    revision: int
    lines: list[PricedLine]
    total: Money


class OrderChangeRefused(Message):
    TYPE: ClassVar[str] = "sales.order_change_refused"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    change_id: str
    reasons: list[str]


class SagaAlert(Message):
    """Something needs a person: a compensation that keeps failing was parked, a deadline passed."""

    TYPE: ClassVar[str] = "sales.saga_alert"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    severity: str = "warning"
    summary: str


class OrderReviewConcluded(Message):
    """The review of an order before anything is reserved is over: approved (the order goes on)
    or rejected (with every reason). `opinions` holds each department's verdict."""

    TYPE: ClassVar[str] = "sales.order_review_concluded"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    review_id: str
    approved: bool
    joint: bool = True
    decided_by: str | None = Field(default=None, description="The sales manager, or 'default' past the deadline")
    comment: str | None = None
    reasons: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)


class DecisionRequested(Message):
    """The order waits for a person: a supplier or a carrier cannot keep the date, or no carrier
    takes the shipment. `default` applies at `due_at` when nobody decides."""

    TYPE: ClassVar[str] = "sales.decision_requested"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    decision_id: str
    kind: str
    summary: str
    options: list[str]
    default: str
    owner_roles: list[str]
    due_at: dt.datetime


class DecisionTaken(Message):
    TYPE: ClassVar[str] = "sales.decision_taken"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    decision_id: str
    kind: str
    choice: str
    decided_by: str = Field(description="User id, 'default' (nobody decided in time) or 'moot' (the cause went away)")
    comment: str | None = None


# --- returns after delivery (RMA) ----------------------------------------------------------------

class ReturnRequested(Message):
    TYPE: ClassVar[str] = "sales.return_requested"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    rma: str
    lines: list[StockLine]
    reason: ReturnReason
    comment: str | None = None


class ReturnDecided(Message):
    TYPE: ClassVar[str] = "sales.return_decided"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    rma: str
    approved: bool
    note: str | None = None


class ReturnCompleted(Message):
    """Goods back and inspected, credit note issued and what was paid for them refunded."""

    TYPE: ClassVar[str] = "sales.return_completed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    rma: str
    restocked: list[StockLine]
    scrapped: list[StockLine]
    credited: Money
    refunded: Money


class FeedbackReceived(Message):
    """A customer's rating of an order (1-5), given or changed."""

    TYPE: ClassVar[str] = "sales.feedback_received"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    order_number: str
    customer_id: str
    rating: int = Field(ge=1, le=5)
    comment: str | None = None
    revision: int = Field(ge=1, description="1 when given, then 2, 3, ... when changed")
