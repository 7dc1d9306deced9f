"""Warehouse: reservations, pick & pack, dispatch."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.common import ChangeProposal, LineCost, Money, OrderUnderReview, StockLine, UnitCost
from contracts.envelope import Message
from contracts.replies import ChangeReviewedReply, CompensationDoneReply, OrderReviewedReply
from contracts.risk import RiskClosedShape, RiskRaisedShape

COMMANDS = "warehouse.commands.v1"
EVENTS = "warehouse.events.v1"


class ReservedLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    requested: int = Field(ge=0)
    reserved: int = Field(ge=0)

    @property
    def shortfall(self) -> int:
        return self.requested - self.reserved


# --- commands ---------------------------------------------------------------------------------

class ReserveStock(Message):
    """Reserve what is on the shelf; the reply reports any shortfall per line."""

    TYPE: ClassVar[str] = "warehouse.reserve_stock"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    lines: list[StockLine]
    hold_until: dt.datetime | None = Field(
        default=None, description="The order legitimately waits until then (e.g. a prepayment window): the "
                                  "reservation does not expire before (its time-to-live counts from then)")


class ReleaseReservation(Message):
    TYPE: ClassVar[str] = "warehouse.release_reservation"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    reason: str


class PickAndPack(Message):
    TYPE: ClassVar[str] = "warehouse.pick_and_pack"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str


class DispatchOrder(Message):
    """Hand the packed goods to the booked carrier."""

    TYPE: ClassVar[str] = "warehouse.dispatch_order"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    shipment_id: str
    carrier: str
    tracking_number: str
    payment_required: bool = Field(default=False, description="prepaid_before_shipment: refuse until paid in full")


class ReceiveGoods(Message):
    """Goods from a supplier arrived: put away; if bought for an order, reserve them for it."""

    TYPE: ClassVar[str] = "warehouse.receive_goods"
    TOPIC: ClassVar[str] = COMMANDS

    purchase_order_id: str
    sku: str
    quantity: int = Field(gt=0)
    order_id: str | None = None
    unit_cost: UnitCost | None = Field(default=None, description="Purchase price per unit (base currency): the "
                                                                 "moving average cost is updated with it")


class AdjustReservation(Message):
    """Apply a reviewed change: reserve or release only the difference to these quantities."""

    TYPE: ClassVar[str] = "warehouse.adjust_reservation"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    change_id: str
    lines: list[StockLine] = Field(description="The order's new quantities; a line not listed is released")


class ReviewChange(Message):
    """Is the order still changeable in the warehouse (not packed/shipped for changed lines)?"""

    TYPE: ClassVar[str] = "warehouse.review_change"
    TOPIC: ClassVar[str] = COMMANDS

    proposal: ChangeProposal


class ReviewOrder(Message):
    """Joint review: can the stock be promised, and when?"""

    TYPE: ClassVar[str] = "warehouse.review_order"
    TOPIC: ClassVar[str] = COMMANDS

    order: OrderUnderReview


# --- events -----------------------------------------------------------------------------------

class StockReserved(Message):
    TYPE: ClassVar[str] = "warehouse.stock_reserved"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    lines: list[ReservedLine]
    complete: bool = Field(description="True when every line is fully reserved")


class ReservationReleased(Message):
    TYPE: ClassVar[str] = "warehouse.reservation_released"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    lines: list[StockLine]
    reason: str


class OrderPacked(Message):
    TYPE: ClassVar[str] = "warehouse.order_packed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    parcels: int = Field(ge=1)
    weight_kg: float = Field(gt=0)
    lines: list[StockLine] = Field(default_factory=list, description="What is in this package")


class OrderDispatched(Message):
    TYPE: ClassVar[str] = "warehouse.order_dispatched"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    carrier: str
    tracking_number: str
    lines: list[StockLine]
    costs: list[LineCost] | None = Field(default=None, description="Cost of the goods shipped (moving average, "
                                                                   "base currency), per SKU")


class DispatchRefused(Message):
    TYPE: ClassVar[str] = "warehouse.dispatch_refused"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    reason: str


class GoodsReceived(Message):
    TYPE: ClassVar[str] = "warehouse.goods_received"
    TOPIC: ClassVar[str] = EVENTS

    purchase_order_id: str
    sku: str
    quantity: int
    order_id: str | None = None
    reserved_for_order: int = 0


class StockLow(Message):
    """Available stock fell below the reorder point: procurement replenishes on its own."""

    TYPE: ClassVar[str] = "warehouse.stock_low"
    TOPIC: ClassVar[str] = EVENTS

    sku: str
    available: int
    reorder_point: int
    reorder_quantity: int


class ReservationExpired(Message):
    TYPE: ClassVar[str] = "warehouse.reservation_expired"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    lines: list[StockLine]


class ChangeReviewed(ChangeReviewedReply):
    TYPE: ClassVar[str] = "warehouse.change_reviewed"
    TOPIC: ClassVar[str] = EVENTS


class CompensationDone(CompensationDoneReply):
    TYPE: ClassVar[str] = "warehouse.compensation_done"
    TOPIC: ClassVar[str] = EVENTS


class OrderReviewed(OrderReviewedReply):
    TYPE: ClassVar[str] = "warehouse.order_reviewed"
    TOPIC: ClassVar[str] = EVENTS


class RiskRaised(RiskRaisedShape):
    TYPE: ClassVar[str] = "warehouse.risk_raised"
    TOPIC: ClassVar[str] = EVENTS


class RiskClosed(RiskClosedShape):
    TYPE: ClassVar[str] = "warehouse.risk_closed"
    TOPIC: ClassVar[str] = EVENTS


# --- customer returns (RMA) ----------------------------------------------------------------------

class ExpectReturn(Message):
    """An approved return: the warehouse expects these goods back from the customer."""

    TYPE: ClassVar[str] = "warehouse.expect_return"
    TOPIC: ClassVar[str] = COMMANDS

    rma: str
    order_id: str
    lines: list[StockLine]
    reason: str


class ReturnExpected(Message):
    TYPE: ClassVar[str] = "warehouse.return_expected"
    TOPIC: ClassVar[str] = EVENTS

    rma: str
    order_id: str


class ReturnReceived(Message):
    """The returned goods arrived at the warehouse (recorded by a person at the dock)."""

    TYPE: ClassVar[str] = "warehouse.return_received"
    TOPIC: ClassVar[str] = EVENTS

    rma: str
    order_id: str
    lines: list[StockLine]


class ReturnInspected(Message):
    """Inspected: restocked goods are on the shelf again (at the cost they left with), scrapped ones gone."""

    TYPE: ClassVar[str] = "warehouse.return_inspected"
    TOPIC: ClassVar[str] = EVENTS

    rma: str
    order_id: str
    restocked: list[StockLine]
    scrapped: list[StockLine]
    restocked_cost: Money = Field(description="Value of the restocked goods at cost (base currency)")


class SkuValue(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    on_hand: int = Field(ge=0)
    unit_cost: UnitCost
    value: Money


class StockValued(Message):
    """A periodic snapshot of what the stock is worth at cost (for inventory turnover)."""

    TYPE: ClassVar[str] = "warehouse.stock_valued"
    TOPIC: ClassVar[str] = EVENTS

    snapshot_id: str
    taken_at: dt.datetime
    total_value: Money
    skus: list[SkuValue]
