"""Procurement: purchase orders to suppliers, with a switch to backup suppliers."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from contracts.common import Quantity
from contracts.envelope import Message
from contracts.replies import CompensationDoneReply
from contracts.risk import RiskClosedShape, RiskRaisedShape

COMMANDS = "procurement.commands.v1"
EVENTS = "procurement.events.v1"


# --- commands ---------------------------------------------------------------------------------

class PurchaseShortfall(Message):
    """Buy `quantity` of `sku` for an order (or for stock when `order_id` is None), to arrive by
    `needed_by`. Primary supplier first; a rejection, no confirmation in time, or a promised date
    after `needed_by` moves on to the next supplier."""

    TYPE: ClassVar[str] = "procurement.purchase_shortfall"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str | None = None
    sku: str
    quantity: Quantity
    needed_by: dt.date | None = None


class CancelPurchase(Message):
    """Compensation: the order no longer needs (some of) what was bought for it."""

    TYPE: ClassVar[str] = "procurement.cancel_purchase"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    sku: str | None = Field(default=None, description="None: every purchase for the order")
    quantity: int | None = Field(default=None, gt=0, description="None: all of it")
    reason: str


class ResolveDelay(Message):
    """A person's decision on a purchase promised later than needed (PurchaseDelayed):
    `accept` the later date (the purchase order is confirmed), or `switch` to the next supplier."""

    TYPE: ClassVar[str] = "procurement.resolve_delay"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    purchase_order_id: str
    choice: Literal["accept", "switch"]


# --- events -----------------------------------------------------------------------------------

class PurchaseOrderPlaced(Message):
    TYPE: ClassVar[str] = "procurement.purchase_order_placed"
    TOPIC: ClassVar[str] = EVENTS

    purchase_order_id: str
    order_id: str | None = None
    supplier_id: str
    sku: str
    quantity: int
    supplier_rank: int = Field(default=1, description="1 = primary supplier, 2+ = backup")


class PurchaseOrderConfirmed(Message):
    TYPE: ClassVar[str] = "procurement.purchase_order_confirmed"
    TOPIC: ClassVar[str] = EVENTS

    purchase_order_id: str
    order_id: str | None = None
    supplier_id: str
    sku: str
    quantity: int
    delivery_date: dt.date


class PurchaseOrderAbandoned(Message):
    """The supplier rejected, stayed silent past the deadline, or promised too late."""

    TYPE: ClassVar[str] = "procurement.purchase_order_abandoned"
    TOPIC: ClassVar[str] = EVENTS

    purchase_order_id: str
    order_id: str | None = None
    supplier_id: str
    sku: str
    reason: str


class PurchaseFailed(Message):
    """No supplier can deliver in time: the order cannot be fulfilled."""

    TYPE: ClassVar[str] = "procurement.purchase_failed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str | None = None
    sku: str
    quantity: int
    reason: str


class PurchaseOrderCancelled(Message):
    TYPE: ClassVar[str] = "procurement.purchase_order_cancelled"
    TOPIC: ClassVar[str] = EVENTS

    purchase_order_id: str
    order_id: str | None = None
    sku: str
    quantity: int = Field(description="How much was cancelled at the supplier")
    kept_as_stock: int = Field(default=0, description="How much still arrives, as stock for anyone")
    reason: str


class CompensationDone(CompensationDoneReply):
    TYPE: ClassVar[str] = "procurement.compensation_done"
    TOPIC: ClassVar[str] = EVENTS


class PurchaseDelayed(Message):
    """A supplier confirmed, but later than the order needs: a person decides (the purchase order
    stays open at the supplier until then; ResolveDelay, or CancelPurchase)."""

    TYPE: ClassVar[str] = "procurement.purchase_delayed"
    TOPIC: ClassVar[str] = EVENTS

    purchase_order_id: str
    order_id: str | None = None
    supplier_id: str
    sku: str
    quantity: int
    promised_date: dt.date
    needed_by: dt.date | None = None
    alternatives: int = Field(default=0, description="Suppliers of the SKU not yet tried for this purchase")


class RiskRaised(RiskRaisedShape):
    TYPE: ClassVar[str] = "procurement.risk_raised"
    TOPIC: ClassVar[str] = EVENTS


class RiskClosed(RiskClosedShape):
    TYPE: ClassVar[str] = "procurement.risk_closed"
    TOPIC: ClassVar[str] = EVENTS
