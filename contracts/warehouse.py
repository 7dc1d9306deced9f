"""Warehouse: reservations, pick & pack, dispatch."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.common import StockLine
from contracts.envelope import Message

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


class OrderDispatched(Message):
    TYPE: ClassVar[str] = "warehouse.order_dispatched"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    shipment_id: str
    carrier: str
    tracking_number: str
    lines: list[StockLine]


class DispatchRefused(Message):
    TYPE: ClassVar[str] = "warehouse.dispatch_refused"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    reason: str
