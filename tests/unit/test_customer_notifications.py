"""Customer notifications: which events the customer hears about and how (services/sales/notifications.py),
and how the notification service simulator renders them (services/simulators/notifier.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from contracts import finance, logistics, sales, warehouse
from contracts.common import StockLine
from services.sales.notifications import Contact, content, notification
from tests.unit.test_order_saga_kit import ORDER_ID, begin

CAUSE = uuid.UUID(int=42)


def test_the_customer_hears_about_shipping_with_tracking_in_its_channel_and_language():
    order = begin()
    event = warehouse.OrderDispatched(order_id=ORDER_ID, shipment_id="SHP-1", carrier="SWIFT",
                                      tracking_number="SW123", lines=[StockLine(sku="SKU-A", quantity=2)])
    n = notification(event, order, Contact("CUST-ACME", "Acme", "sms", "de", phone="+4930123"), CAUSE)
    assert (n.kind, n.channel, n.language, n.recipient) == ("shipped", "sms", "de", "+4930123")
    assert (n.params.carrier, n.params.tracking_number) == ("SWIFT", "SW123")
    again = notification(event, order, Contact("CUST-ACME", "Acme", "sms", "de", phone="+4930123"), uuid.uuid4())
    assert again.notification_id == n.notification_id                    # the same fact, the same notification
    other = event.model_copy(update={"shipment_id": "SHP-2"})
    assert notification(other, order, Contact("C", "A", "sms", "de", phone="+49"), CAUSE).notification_id != \
        n.notification_id


def test_a_missing_contact_detail_falls_back_to_a_channel_that_works():
    n = notification(finance.CreditApproved(order_id=ORDER_ID, customer_id="C", amount=Decimal("1"),
                                            credit_limit=Decimal("9"), exposure_after=Decimal("1")),
                     begin(), Contact("C", "Acme", "sms", "en", email="a@b.example"), CAUSE)
    assert (n.kind, n.channel, n.recipient) == ("order_confirmed", "email", "a@b.example")
    n = notification(logistics.ShipmentDelivered(order_id=ORDER_ID, shipment_id="S", tracking_number="T",
                                                 delivered_at=dt.datetime.now(dt.timezone.utc)),
                     begin(), Contact("C", "Acme GmbH", "email", "en"), CAUSE)
    assert (n.kind, n.channel, n.recipient) == ("delivered", "letter", "Acme GmbH")
    assert "feedback" in n.params.feedback


def test_reminders_invoices_delays_returns_and_cancellations_are_told_internal_steps_are_not():
    order = begin()
    told = {
        "payment_reminder": finance.PaymentReminderIssued(
            order_id=ORDER_ID, customer_id="C", invoice_number="INV-1", level=2, level_name="second reminder",
            outstanding=Decimal("119.00"), due_date=dt.date(2031, 1, 1), overdue_days=21, fee=Decimal("5.00")),
        "invoice": finance.InvoiceIssued(order_id=ORDER_ID, invoice_number="INV-1", shipment_ref="S",
                                         amount=Decimal("119.00"), due_date=dt.date(2031, 1, 31)),
        "delayed": logistics.ShipmentDelayed(order_id=ORDER_ID, shipment_id="S", tracking_number="T", carrier="X",
                                             eta=dt.date(2031, 1, 9)),
        "return_update": sales.ReturnDecided(order_id=ORDER_ID, order_number="SO-1", rma="RMA-1", approved=True),
        "order_cancelled": sales.OrderStatusChanged(order_id=ORDER_ID, order_number="SO-1", status="cancelled",
                                                    reason="no stock"),
    }
    for kind, event in told.items():
        assert content(event, order)[0] == kind
    assert content(warehouse.PickAndPack(order_id=ORDER_ID), order) is None
    assert content(sales.OrderStatusChanged(order_id=ORDER_ID, order_number="SO-1", status="picking"), order) is None


def test_the_notifier_renders_per_channel_and_language(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_KAFKA_PASSWORD", "never-connects")
    from services.simulators.notifier import render
    order = begin()
    event = finance.InvoiceIssued(order_id=ORDER_ID, invoice_number="INV-7", shipment_ref="S", amount=Decimal("119.00"),
                                  due_date=dt.date(2031, 1, 31), currency="EUR")
    email = notification(event, order, Contact("C", "Acme", "email", "de", email="a@b.example"), CAUSE)
    assert render(email).startswith("Subject: Rechnung INV-7") and "119.00 EUR" in render(email)
    sms = notification(event, order, Contact("C", "Acme", "sms", "sv", phone="+46"), CAUSE)
    assert render(sms).startswith("Faktura INV-7:") and len(render(sms)) <= 160
    letter = notification(event, order, Contact("C", "Acme", "letter", "xx"), CAUSE)
    assert render(letter).startswith("To Acme: Invoice INV-7")              # unknown language: English
