"""Integration topics with external parties (carriers, the payment provider).

These are the contracts a real carrier or payment gateway adapter speaks; in development and
tests they are spoken by the simulators in `services/simulators/`."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from contracts.common import Currency, Money
from contracts.envelope import Message

CARRIER_REQUESTS = "carrier.requests.v1"
CARRIER_EVENTS = "carrier.events.v1"
PAYMENT_REQUESTS = "payments.requests.v1"
PAYMENT_EVENTS = "payments.events.v1"
SUPPLIER_REQUESTS = "supplier.requests.v1"
SUPPLIER_EVENTS = "supplier.events.v1"


class CarrierBookingRequested(Message):
    TYPE: ClassVar[str] = "carrier.booking_requested"
    TOPIC: ClassVar[str] = CARRIER_REQUESTS

    shipment_id: str
    order_id: str
    carrier: str
    country: str
    parcels: int
    weight_kg: float


class CarrierPickupReady(Message):
    """The goods are handed over: the carrier starts moving them."""

    TYPE: ClassVar[str] = "carrier.pickup_ready"
    TOPIC: ClassVar[str] = CARRIER_REQUESTS

    shipment_id: str
    order_id: str
    carrier: str
    tracking_number: str


class CarrierBookingCancelRequested(Message):
    TYPE: ClassVar[str] = "carrier.booking_cancel_requested"
    TOPIC: ClassVar[str] = CARRIER_REQUESTS

    shipment_id: str
    order_id: str
    carrier: str
    waybill: str


class CarrierReturnRequested(Message):
    """Bring a shipment in transit back to the sender."""

    TYPE: ClassVar[str] = "carrier.return_requested"
    TOPIC: ClassVar[str] = CARRIER_REQUESTS

    shipment_id: str
    order_id: str
    carrier: str
    tracking_number: str


class CarrierReturnRefused(Message):
    TYPE: ClassVar[str] = "carrier.return_refused"
    TOPIC: ClassVar[str] = CARRIER_EVENTS

    shipment_id: str
    order_id: str
    carrier: str
    reason: str


class CarrierBookingConfirmed(Message):
    TYPE: ClassVar[str] = "carrier.booking_confirmed"
    TOPIC: ClassVar[str] = CARRIER_EVENTS

    shipment_id: str
    order_id: str
    carrier: str
    waybill: str
    tracking_number: str
    eta: dt.date
    eta_at: dt.datetime | None = Field(default=None, description="The promised delivery time, when the carrier "
                                                                 "gives one (else: by the end of `eta`)")


class CarrierBookingRejected(Message):
    TYPE: ClassVar[str] = "carrier.booking_rejected"
    TOPIC: ClassVar[str] = CARRIER_EVENTS

    shipment_id: str
    order_id: str
    carrier: str
    reason: str


class CarrierTrackingUpdate(Message):
    TYPE: ClassVar[str] = "carrier.tracking_update"
    TOPIC: ClassVar[str] = CARRIER_EVENTS

    shipment_id: str
    order_id: str
    tracking_number: str
    status: Literal["picked_up", "in_transit", "delivered", "delayed", "returned"]
    at: dt.datetime
    eta: dt.date | None = Field(default=None, description="With `delayed`: the new expected delivery date")


class PaymentRequested(Message):
    """Ask the provider to collect an invoice (card charge, direct debit, or a payment link)."""

    TYPE: ClassVar[str] = "payments.payment_requested"
    TOPIC: ClassVar[str] = PAYMENT_REQUESTS

    invoice_number: str
    order_id: str
    customer_id: str
    amount: Money
    method: str
    due_date: dt.date
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR")


class PaymentSettled(Message):
    TYPE: ClassVar[str] = "payments.payment_settled"
    TOPIC: ClassVar[str] = PAYMENT_EVENTS

    payment_ref: str = Field(description="Provider's unique reference; finance dedupes on it")
    invoice_number: str
    order_id: str
    amount: Money
    settled_at: dt.datetime


class RefundRequested(Message):
    TYPE: ClassVar[str] = "payments.refund_requested"
    TOPIC: ClassVar[str] = PAYMENT_REQUESTS

    payment_ref: str
    order_id: str
    amount: Money


class RefundSettled(Message):
    TYPE: ClassVar[str] = "payments.refund_settled"
    TOPIC: ClassVar[str] = PAYMENT_EVENTS

    refund_ref: str = Field(description="Provider's unique reference; finance dedupes on it")
    payment_ref: str
    order_id: str
    amount: Money


# --- suppliers --------------------------------------------------------------------------------

class SupplierOrderRequested(Message):
    TYPE: ClassVar[str] = "supplier.order_requested"
    TOPIC: ClassVar[str] = SUPPLIER_REQUESTS

    purchase_order_id: str
    supplier_id: str
    sku: str
    quantity: int
    needed_by: dt.date | None = None


class SupplierOrderCancelRequested(Message):
    TYPE: ClassVar[str] = "supplier.order_cancel_requested"
    TOPIC: ClassVar[str] = SUPPLIER_REQUESTS

    purchase_order_id: str
    supplier_id: str
    quantity: int = Field(description="How much to cancel")


class SupplierOrderConfirmed(Message):
    TYPE: ClassVar[str] = "supplier.order_confirmed"
    TOPIC: ClassVar[str] = SUPPLIER_EVENTS

    purchase_order_id: str
    supplier_id: str
    delivery_date: dt.date


class SupplierOrderRejected(Message):
    TYPE: ClassVar[str] = "supplier.order_rejected"
    TOPIC: ClassVar[str] = SUPPLIER_EVENTS

    purchase_order_id: str
    supplier_id: str
    reason: str


class SupplierGoodsDelivered(Message):
    TYPE: ClassVar[str] = "supplier.goods_delivered"
    TOPIC: ClassVar[str] = SUPPLIER_EVENTS

    purchase_order_id: str
    supplier_id: str
    sku: str
    quantity: int
