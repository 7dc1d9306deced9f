"""Procurement: purchase orders to suppliers."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from contracts.common import Quantity
from contracts.envelope import Message

COMMANDS = "procurement.commands.v1"
EVENTS = "procurement.events.v1"


class PurchaseShortfall(Message):
    """Buy `quantity` of `sku` for an order (or for stock when `order_id` is None)."""

    TYPE: ClassVar[str] = "procurement.purchase_shortfall"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str | None = None
    sku: str
    quantity: Quantity
    needed_by: dt.date | None = None


class PurchaseOrderPlaced(Message):
    TYPE: ClassVar[str] = "procurement.purchase_order_placed"
    TOPIC: ClassVar[str] = EVENTS

    purchase_order_id: str
    order_id: str | None = None
    supplier_id: str
    sku: str
    quantity: int
