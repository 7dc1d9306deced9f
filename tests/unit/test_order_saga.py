"""The order saga (services/sales/saga.py), driven with the real contract messages."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from contracts import finance, logistics, warehouse
from contracts.common import Address, OrderType, PaymentMethod, PricedLine
from contracts.warehouse import ReservedLine
from services.sales.saga import Decision, Order, Status, react, start

ORDER_ID = "ord-1"
ADDRESS = Address(name="ACME", street="Main St 1", city="Berlin", postal_code="10115", country="DE")
DELIVER_BY = dt.date(2031, 1, 15)


def make_order(**overrides) -> Order:
    fields = dict(
        order_id=ORDER_ID, number="SO-1001", customer_id="CUST-ACME", order_type=OrderType.STANDARD,
        payment_method=PaymentMethod.INVOICE,
        lines=(PricedLine(sku="SKU-A", quantity=10, unit_price=Decimal("2.50")),
               PricedLine(sku="SKU-B", quantity=2, unit_price=Decimal("100.00"))),
        address=ADDRESS, requested_delivery_date=DELIVER_BY)
    fields.update(overrides)
    return Order(**fields)


# --- replies -------------------------------------------------------------------------------

def credit_approved():
    return finance.CreditApproved(order_id=ORDER_ID, customer_id="CUST-ACME", amount=Decimal("225.00"),
                                  credit_limit=Decimal("1000.00"), exposure_after=Decimal("225.00"))


def credit_rejected(*reasons):
    return finance.CreditRejected(order_id=ORDER_ID, customer_id="CUST-ACME",
                                  reasons=list(reasons or ["credit limit exceeded"]))


def stock_reserved(complete=True):
    lines = [ReservedLine(sku="SKU-A", requested=10, reserved=10 if complete else 4),
             ReservedLine(sku="SKU-B", requested=2, reserved=2)]
    return warehouse.StockReserved(order_id=ORDER_ID, lines=lines, complete=complete)


def order_packed():
    return warehouse.OrderPacked(order_id=ORDER_ID, parcels=3, weight_kg=42.5)


def shipment_booked():
    return logistics.ShipmentBooked(order_id=ORDER_ID, shipment_id="SHP-7", carrier="DHL", waybill="WB-1",
                                    tracking_number="TRK-9", eta=dt.date(2031, 1, 10))


def booking_failed():
    return logistics.ShipmentBookingFailed(order_id=ORDER_ID, reason="no carrier serves DE")


def order_dispatched():
    return warehouse.OrderDispatched(order_id=ORDER_ID, shipment_id="SHP-7", carrier="DHL",
                                     tracking_number="TRK-9", lines=[])


def dispatch_refused():
    return warehouse.DispatchRefused(order_id=ORDER_ID, reason="parcel damaged")


def invoice_issued():
    return finance.InvoiceIssued(order_id=ORDER_ID, invoice_number="INV-5", shipment_ref="SHP-7",
                                 amount=Decimal("225.00"), due_date=dt.date(2031, 2, 1))


def delivered():
    return logistics.ShipmentDelivered(order_id=ORDER_ID, shipment_id="SHP-7", tracking_number="TRK-9",
                                       delivered_at=dt.datetime(2031, 1, 9, 12, tzinfo=dt.timezone.utc))


def paid(in_full=True):
    return finance.PaymentReceived(order_id=ORDER_ID, invoice_number="INV-5", payment_ref="PAY-1",
                                   amount=Decimal("225.00"), order_paid_in_full=in_full)


def step(order: Order, message) -> Decision:
    decision = react(order, message)
    assert decision is not None, f"{message.TYPE} was ignored in status {order.status}"
    return decision


def drive(*messages) -> Order:
    order = start(make_order()).order
    for message in messages:
        order = step(order, message).order
    return order


def at(status: Status) -> Order:
    """An order driven along the happy path up to `status`."""
    path = [(Status.CREDIT_CHECK, credit_approved), (Status.RESERVING, stock_reserved),
            (Status.PICKING, order_packed), (Status.BOOKING, shipment_booked),
            (Status.DISPATCHING, order_dispatched), (Status.INVOICING, invoice_issued)]
    order = start(make_order()).order
    for current, reply in path:
        if order.status == status:
            return order
        assert order.status == current
        order = step(order, reply()).order
    assert order.status == status
    return order


def types(decision: Decision) -> list[str]:
    return [c.TYPE for c in decision.commands]


# --- happy path ------------------------------------------------------------------------------

def test_start_requests_credit_check_with_priced_lines_and_total():
    decision = start(make_order())
    assert decision.order.status == Status.CREDIT_CHECK
    [command] = decision.commands
    assert isinstance(command, finance.CheckCredit)
    assert command.order_id == ORDER_ID and command.order_number == "SO-1001"
    assert command.customer_id == "CUST-ACME"
    assert command.order_type == OrderType.STANDARD and command.payment_method == PaymentMethod.INVOICE
    assert command.total == Decimal("225.00")
    assert [line.sku for line in command.lines] == ["SKU-A", "SKU-B"]


def test_credit_approved_reserves_stock_for_every_line():
    decision = step(at(Status.CREDIT_CHECK), credit_approved())
    assert decision.order.status == Status.RESERVING
    [command] = decision.commands
    assert isinstance(command, warehouse.ReserveStock)
    assert [(line.sku, line.quantity) for line in command.lines] == [("SKU-A", 10), ("SKU-B", 2)]
    assert decision.order.completed_steps == ("credit_check",)


def test_full_reservation_requests_pick_and_pack():
    decision = step(at(Status.RESERVING), stock_reserved())
    assert decision.order.status == Status.PICKING
    assert decision.commands == [warehouse.PickAndPack(order_id=ORDER_ID)]


def test_packed_books_shipment_with_parcels_and_weight_learnt():
    decision = step(at(Status.PICKING), order_packed())
    assert decision.order.status == Status.BOOKING
    assert (decision.order.parcels, decision.order.weight_kg) == (3, 42.5)
    [command] = decision.commands
    assert isinstance(command, logistics.BookShipment)
    assert command.parcels == 3 and command.weight_kg == 42.5
    assert command.address == ADDRESS
    assert command.order_number == "SO-1001"
    assert command.requested_delivery_date == DELIVER_BY


def test_booked_dispatches_with_shipment_carrier_and_tracking_learnt():
    decision = step(at(Status.BOOKING), shipment_booked())
    assert decision.order.status == Status.DISPATCHING
    assert decision.commands == [warehouse.DispatchOrder(order_id=ORDER_ID, shipment_id="SHP-7",
                                                         carrier="DHL", tracking_number="TRK-9")]


def test_dispatched_issues_invoice_for_the_shipment():
    decision = step(at(Status.DISPATCHING), order_dispatched())
    assert decision.order.status == Status.INVOICING
    [command] = decision.commands
    assert isinstance(command, finance.IssueInvoice)
    assert command.shipment_ref == "SHP-7"
    assert command.total == Decimal("225.00")
    assert command.customer_id == "CUST-ACME" and command.payment_method == PaymentMethod.INVOICE


def test_invoiced_waits_for_delivery_and_payment():
    decision = step(at(Status.INVOICING), invoice_issued())
    assert decision.order.status == Status.SHIPPED
    assert decision.order.invoice_number == "INV-5"
    assert decision.commands == []
    assert decision.order.completed_steps == (
        "credit_check", "reserve_stock", "pick_and_pack", "book_shipment", "dispatch", "invoice")


def test_delivery_then_payment_completes():
    order = step(at(Status.SHIPPED), delivered()).order
    assert order.status == Status.SHIPPED and order.delivered and not order.paid
    decision = step(order, paid())
    assert decision.order.status == Status.COMPLETED
    assert decision.commands == []


def test_payment_then_delivery_completes():
    order = step(at(Status.SHIPPED), paid()).order
    assert order.status == Status.SHIPPED and order.paid and not order.delivered
    assert step(order, delivered()).order.status == Status.COMPLETED


def test_delivery_and_payment_while_still_invoicing_complete_on_invoice():
    order = at(Status.INVOICING)
    order = step(order, delivered()).order
    assert order.status == Status.INVOICING and order.delivered
    order = step(order, paid()).order
    assert order.status == Status.INVOICING and order.paid
    decision = step(order, invoice_issued())
    assert decision.order.status == Status.COMPLETED
    assert decision.commands == []


def test_delivery_while_invoicing_then_payment_after_invoice_completes():
    order = step(at(Status.INVOICING), delivered()).order
    order = step(order, invoice_issued()).order
    assert order.status == Status.SHIPPED
    assert step(order, paid()).order.status == Status.COMPLETED


def test_partial_payment_does_not_mark_paid():
    order = step(at(Status.SHIPPED), delivered()).order
    assert react(order, paid(in_full=False)) is None
    assert not order.paid and order.status == Status.SHIPPED


def test_not_completed_without_delivery_or_payment():
    assert step(at(Status.SHIPPED), paid()).order.status == Status.SHIPPED
    assert step(at(Status.SHIPPED), delivered()).order.status == Status.SHIPPED


# --- failures and compensation -----------------------------------------------------------

def test_credit_rejection_rejects_without_compensation():
    decision = step(at(Status.CREDIT_CHECK), credit_rejected("over limit", "price too low"))
    assert decision.order.status == Status.REJECTED
    assert decision.commands == []
    assert "over limit; price too low" in decision.note


def test_shortage_cancels_and_releases_reservation_then_credit():
    decision = step(at(Status.RESERVING), stock_reserved(complete=False))
    assert decision.order.status == Status.CANCELLED
    assert types(decision) == ["warehouse.release_reservation", "finance.release_credit"]
    assert all(c.order_id == ORDER_ID for c in decision.commands)
    assert "SKU-A short 6" in decision.commands[0].reason


def test_booking_failure_releases_reservation_then_credit_only():
    decision = step(at(Status.BOOKING), booking_failed())
    assert decision.order.status == Status.CANCELLED
    assert types(decision) == ["warehouse.release_reservation", "finance.release_credit"]
    assert all(c.reason == "no carrier serves DE" for c in decision.commands)


def test_dispatch_refused_cancels_shipment_then_reservation_then_credit():
    decision = step(at(Status.DISPATCHING), dispatch_refused())
    assert decision.order.status == Status.CANCELLED
    assert types(decision) == ["logistics.cancel_shipment", "warehouse.release_reservation",
                               "finance.release_credit"]


# --- duplicates, out-of-order, final -------------------------------------------------------

@pytest.mark.parametrize("status, message", [
    (Status.RECEIVED, credit_approved()),
    (Status.CREDIT_CHECK, stock_reserved()),
    (Status.CREDIT_CHECK, shipment_booked()),
    (Status.RESERVING, credit_approved()),           # duplicate of the previous step's reply
    (Status.RESERVING, credit_rejected()),           # late failure of a finished step
    (Status.PICKING, stock_reserved()),
    (Status.PICKING, stock_reserved(complete=False)),
    (Status.BOOKING, order_packed()),
    (Status.DISPATCHING, shipment_booked()),
    (Status.DISPATCHING, booking_failed()),
    (Status.INVOICING, order_dispatched()),
    (Status.INVOICING, dispatch_refused()),
    (Status.SHIPPED, invoice_issued()),
    (Status.SHIPPED, credit_rejected()),
])
def test_reply_not_matching_current_step_is_ignored(status, message):
    order = make_order() if status == Status.RECEIVED else at(status)
    assert react(order, message) is None


def test_duplicate_delivery_and_payment_are_ignored():
    order = step(at(Status.INVOICING), delivered()).order
    assert react(order, delivered()) is None
    order = step(at(Status.SHIPPED), paid()).order
    assert react(order, paid()) is None


@pytest.mark.parametrize("final", [Status.COMPLETED, Status.REJECTED, Status.CANCELLED])
@pytest.mark.parametrize("message", [credit_approved(), credit_rejected(), stock_reserved(), order_packed(),
                                     shipment_booked(), booking_failed(), order_dispatched(), dispatch_refused(),
                                     invoice_issued(), delivered(), paid()], ids=lambda m: m.TYPE)
def test_final_orders_ignore_everything(final, message):
    assert react(replace(make_order(), status=final), message) is None


def test_full_run_reaches_completed():
    order = drive(credit_approved(), stock_reserved(), order_packed(), shipment_booked(), order_dispatched(),
                  invoice_issued(), paid(), delivered())
    assert order.status == Status.COMPLETED


def test_sample_order_total_is_zero_and_still_credit_checked():
    order = make_order(order_type=OrderType.SAMPLE,
                       lines=(PricedLine(sku="SKU-A", quantity=1, unit_price=Decimal("0.00")),))
    [command] = start(order).commands
    assert command.total == Decimal("0.00") and command.order_type == OrderType.SAMPLE


def test_every_saga_command_goes_to_a_topic_sales_may_write():
    from contracts.topics import topic_for
    decisions = [start(make_order())]
    for status, reply in [(Status.CREDIT_CHECK, credit_approved()), (Status.RESERVING, stock_reserved()),
                          (Status.PICKING, order_packed()), (Status.BOOKING, shipment_booked()),
                          (Status.DISPATCHING, order_dispatched()), (Status.DISPATCHING, dispatch_refused()),
                          (Status.RESERVING, stock_reserved(complete=False))]:
        decisions.append(step(at(status), reply))
    commands = [c for d in decisions for c in d.commands]
    assert len({c.TYPE for c in commands}) == 9
    for command in commands:
        assert "sales" in topic_for(command).writers, command.TYPE
