"""Customer notifications: what the company tells its customers (order confirmed, shipped with
tracking, delayed, delivered with a request for feedback, invoice, payment reminder, return updates),
written by sales on `customer.notifications.v1` for the notification service (e-mail, SMS, letter;
simulated by `services/simulators/notifier.py`), in the customer's preferred channel and language."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Message

NOTIFICATIONS = "customer.notifications.v1"
RECEIPTS = "customer.notification_receipts.v1"

Kind = Literal["order_confirmed", "shipped", "delayed", "delivered", "invoice", "payment_reminder",
               "return_update", "order_cancelled"]
Channel = Literal["email", "sms", "letter"]


class NotificationParams(BaseModel):
    """What a notification's template may show; each kind uses some of them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    total: str | None = None
    currency: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    items: str | None = None
    eta: str | None = None
    feedback: str | None = Field(default=None, description="delivered: how to give feedback")
    invoice_number: str | None = None
    amount: str | None = None
    due_date: str | None = None
    kind: str | None = Field(default=None, description="invoice: shipment | prepayment | charge")
    level: str | None = None
    level_name: str | None = None
    outstanding: str | None = None
    fee: str | None = None
    interest: str | None = None
    charge_invoice: str | None = None
    rma: str | None = None
    status: str | None = None
    note: str | None = None
    credited: str | None = None
    refunded: str | None = None
    reason: str | None = None


class CustomerNotification(Message):
    """One message to one customer. `params` fill the notification service's template for `kind`
    in `language`; the text itself is the notification service's (templates per language)."""

    TYPE: ClassVar[str] = "customer.notification"
    TOPIC: ClassVar[str] = NOTIFICATIONS

    notification_id: str = Field(description="Unique; derived from the event that caused it, so a redelivery "
                                             "is recognisable")
    customer_id: str
    order_id: str | None = None
    order_number: str | None = None
    kind: Kind
    channel: Channel
    language: str = Field(min_length=2, max_length=5, description="e.g. en, de, fr, sv")
    recipient: str = Field(description="E-mail address, phone number or postal name, per channel")
    params: NotificationParams = Field(default_factory=NotificationParams)


class NotificationSent(Message):
    """The notification service's receipt: sent (or failed) on which channel. Sales puts it on the
    order's timeline, so that a person sees what the customer was told."""

    TYPE: ClassVar[str] = "customer.notification_sent"
    TOPIC: ClassVar[str] = RECEIPTS

    notification_id: str
    customer_id: str
    order_id: str | None = None
    kind: str
    channel: str
    status: Literal["sent", "failed"] = "sent"
    detail: str | None = Field(default=None, description="Why it failed, or the provider's message id")
