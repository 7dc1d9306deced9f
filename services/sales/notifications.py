"""Customer notifications: which events the customer hears about, and how (pure mapping + the one
function handlers call). Sales owns the customer relationship, so sales writes every notification
on `customer.notifications.v1`, in the customer's preferred channel (falling back to one it has the
details for) and language; the notification service renders and sends them.

    event                                   kind               what it says
    finance.credit_approved                 order_confirmed    total, currency
    warehouse.order_dispatched              shipped            carrier, tracking number
    logistics.shipment_delayed              delayed            carrier, tracking number, new ETA
    logistics.shipment_delivered            delivered          tracking number, and asks for feedback
    finance.invoice_issued                  invoice            number, amount, currency, due date
    finance.payment_reminder_issued         payment_reminder   level, what is owed, fee and interest
    sales.return_decided / return_completed return_update      RMA, decision or credit and refund
    sales.order_status_changed (cancelled / rejected)  order_cancelled  the reason
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from contracts import finance, logistics, sales, warehouse
from contracts.customer import CustomerNotification, NotificationParams
from contracts.envelope import Message
from services.runtime.outbox import Tx
from services.sales.saga import Order

NAMESPACE = uuid.UUID("5d0f0a52-6a3c-4f9e-9d1c-0f6c1a2b3c4d")


@dataclass(frozen=True)
class Contact:
    customer_id: str
    name: str
    channel: str
    language: str
    email: str | None = None
    phone: str | None = None

    def route(self) -> tuple[str, str]:
        """(channel, recipient): the preferred channel if its details are known, else one that is."""
        options = {"email": self.email, "sms": self.phone, "letter": self.name}
        if options.get(self.channel):
            return self.channel, options[self.channel]
        return next((c, r) for c, r in options.items() if r)


def content(m: Message, order: Order) -> tuple[str, dict[str, str]] | None:
    """(kind, template parameters) for an event the customer hears about, else None."""
    if isinstance(m, finance.CreditApproved):
        return "order_confirmed", {"total": str(order.total), "currency": order.currency}
    if isinstance(m, warehouse.OrderDispatched):
        items = ", ".join(f"{line.quantity} x {line.sku}" for line in m.lines)
        return "shipped", {"carrier": m.carrier, "tracking_number": m.tracking_number, "items": items}
    if isinstance(m, logistics.ShipmentDelayed):
        return "delayed", {"carrier": m.carrier, "tracking_number": m.tracking_number,
                           "eta": m.eta.isoformat() if m.eta else ""}
    if isinstance(m, logistics.ShipmentDelivered):
        return "delivered", {"tracking_number": m.tracking_number,
                             "feedback": f"POST /orders/{order.number}/feedback (rating 1-5 and a comment)"}
    if isinstance(m, finance.InvoiceIssued):
        return "invoice", {"invoice_number": m.invoice_number, "amount": str(m.amount),
                           "currency": m.currency or order.currency, "due_date": m.due_date.isoformat(),
                           "kind": m.kind or "shipment"}
    if isinstance(m, finance.PaymentReminderIssued):
        return "payment_reminder", {"invoice_number": m.invoice_number, "level": str(m.level),
                                    "level_name": m.level_name, "outstanding": str(m.outstanding),
                                    "fee": str(m.fee), "interest": str(m.interest),
                                    "charge_invoice": m.charge_invoice or "", "currency": order.currency}
    if isinstance(m, sales.ReturnDecided):
        return "return_update", {"rma": m.rma, "status": "approved" if m.approved else "rejected",
                                 "note": m.note or ""}
    if isinstance(m, sales.ReturnCompleted):
        return "return_update", {"rma": m.rma, "status": "completed", "credited": str(m.credited),
                                 "refunded": str(m.refunded), "currency": order.currency}
    if isinstance(m, sales.OrderStatusChanged) and m.status in ("cancelled", "rejected"):
        return "order_cancelled", {"status": m.status, "reason": m.reason or ""}
    return None


def fact_of(m: Message, kind: str, params: dict[str, str], order: Order) -> str:
    """What the notification is about, so that a fact announced twice (a re-sent step answered
    again) gives the same notification id and the notification service sends it once."""
    key = (getattr(m, "shipment_id", None) or getattr(m, "invoice_number", None) or getattr(m, "rma", None)
           or order.order_id)
    return f"{order.order_id}:{kind}:{key}:{params.get('level', '')}{params.get('status', '')}{params.get('eta', '')}"


def notification(m: Message, order: Order, contact: Contact, cause: uuid.UUID) -> CustomerNotification | None:
    """`cause` (the event's message id) is kept for the record; the id derives from the fact itself."""
    found = content(m, order)
    if found is None:
        return None
    kind, params = found
    channel, recipient = contact.route()
    return CustomerNotification(
        notification_id=str(uuid.uuid5(NAMESPACE, fact_of(m, kind, params, order))), customer_id=order.customer_id,
        order_id=order.order_id, order_number=order.number, kind=kind, channel=channel, language=contact.language,
        recipient=recipient, params=NotificationParams(**params))


async def contact(conn: asyncpg.Connection, customer_id: str) -> Contact | None:
    row = await conn.fetchrow("SELECT customer_id, name, notification_channel, language, email, phone"
                              " FROM customers WHERE customer_id = $1", customer_id)
    if row is None:
        return None
    return Contact(row["customer_id"], row["name"], row["notification_channel"], row["language"], row["email"],
                   row["phone"])


async def notify(tx: Tx, order: Order, m: Message, cause: uuid.UUID) -> None:
    """Tell the customer, when the event is one it hears about (in the handler's transaction)."""
    if content(m, order) is None:
        return
    who = await contact(tx.conn, order.customer_id)
    if who is None:
        return
    message = notification(m, order, who, cause)
    if message is not None:
        await tx.emit(message, key=order.customer_id, correlation_id=order.order_id)
