"""Logistics: carrier selection, booking, tracking."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from contracts.common import Address, ChangeProposal, Money, OrderUnderReview, StockLine
from contracts.envelope import Message
from contracts.replies import ChangeReviewedReply, CompensationDoneReply, OrderReviewedReply
from contracts.risk import RiskClosedShape, RiskRaisedShape

COMMANDS = "logistics.commands.v1"
EVENTS = "logistics.events.v1"


class BookShipment(Message):
    TYPE: ClassVar[str] = "logistics.book_shipment"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    order_number: str
    address: Address
    parcels: int = Field(ge=1)
    weight_kg: float = Field(gt=0)
    requested_delivery_date: dt.date | None = None


class CancelShipment(Message):
    TYPE: ClassVar[str] = "logistics.cancel_shipment"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    reason: str


class ReviewChange(Message):
    """Can logistics accept this change (nothing dispatched yet for an address change)?"""

    TYPE: ClassVar[str] = "logistics.review_change"
    TOPIC: ClassVar[str] = COMMANDS

    proposal: ChangeProposal


class RecallShipments(Message):
    """Compensation for goods already with a carrier: have every in-transit shipment of the order
    brought back. Refused (RecallFailed) once any of them is delivered."""

    TYPE: ClassVar[str] = "logistics.recall_shipments"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    reason: str


class UpdateDelivery(Message):
    """Apply a reviewed change of address or date to the booking not yet dispatched."""

    TYPE: ClassVar[str] = "logistics.update_delivery"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    change_id: str
    address: Address | None = None
    requested_delivery_date: dt.date | None = None


class ReviewOrder(Message):
    """Review of an order before anything is reserved: is the destination served, by which
    carrier, and can it arrive by the requested date? Every order gets it (the destination
    check); a joint review asks for the carrier and the date as well."""

    TYPE: ClassVar[str] = "logistics.review_order"
    TOPIC: ClassVar[str] = COMMANDS

    order: OrderUnderReview


class ShipmentBooked(Message):
    TYPE: ClassVar[str] = "logistics.shipment_booked"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    carrier: str
    waybill: str
    tracking_number: str
    eta: dt.date
    cost: Money | None = Field(default=None, description="What the carrier charges (base currency)")


class ShipmentBookingFailed(Message):
    TYPE: ClassVar[str] = "logistics.shipment_booking_failed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    reason: str


class ShipmentInTransit(Message):
    TYPE: ClassVar[str] = "logistics.shipment_in_transit"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    tracking_number: str


class ShipmentDelivered(Message):
    TYPE: ClassVar[str] = "logistics.shipment_delivered"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    tracking_number: str
    delivered_at: dt.datetime


class ShipmentReturned(Message):
    """A recalled shipment is back at the warehouse's door: the warehouse restocks these lines."""

    TYPE: ClassVar[str] = "logistics.shipment_returned"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    lines: list[StockLine]


class RecallFailed(Message):
    """The goods could not be brought back (already delivered): the cancellation cannot go on."""

    TYPE: ClassVar[str] = "logistics.recall_failed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    reason: str


class ShipmentCancelled(Message):
    TYPE: ClassVar[str] = "logistics.shipment_cancelled"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    reason: str


class ChangeReviewed(ChangeReviewedReply):
    TYPE: ClassVar[str] = "logistics.change_reviewed"
    TOPIC: ClassVar[str] = EVENTS


class DeliveryUpdated(Message):
    TYPE: ClassVar[str] = "logistics.delivery_updated"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    change_id: str


class CompensationDone(CompensationDoneReply):
    TYPE: ClassVar[str] = "logistics.compensation_done"
    TOPIC: ClassVar[str] = EVENTS


class OrderReviewed(OrderReviewedReply):
    TYPE: ClassVar[str] = "logistics.order_reviewed"
    TOPIC: ClassVar[str] = EVENTS


class ShipmentRebooked(Message):
    """A shipment the carrier did not collect in time went to another carrier (once per shipment)."""

    TYPE: ClassVar[str] = "logistics.shipment_rebooked"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    previous_carrier: str
    carrier: str
    waybill: str
    tracking_number: str
    eta: dt.date
    reason: str


class ShipmentLate(Message):
    """A shipment with its carrier is late: its ETA passed without delivery, or its tracking went
    silent. `collected`: the carrier has the goods (then it cannot be re-booked)."""

    TYPE: ClassVar[str] = "logistics.shipment_late"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    carrier: str
    eta: dt.date | None = None
    collected: bool
    reason: str


class RiskRaised(RiskRaisedShape):
    TYPE: ClassVar[str] = "logistics.risk_raised"
    TOPIC: ClassVar[str] = EVENTS


class RiskClosed(RiskClosedShape):
    TYPE: ClassVar[str] = "logistics.risk_closed"
    TOPIC: ClassVar[str] = EVENTS


class ShipmentDelayed(Message):
    """The carrier reports a delay: the customer is told."""

    TYPE: ClassVar[str] = "logistics.shipment_delayed"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    tracking_number: str
    carrier: str
    eta: dt.date | None = None
