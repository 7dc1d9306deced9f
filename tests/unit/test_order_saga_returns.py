"""Returns after delivery (services/sales/saga/returns.py) and cost and margin
(services/sales/saga/economics.py), on the saga's pure state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contracts import finance, logistics, sales, warehouse
from contracts.common import LineCost, ReturnReason, StockLine
from services.sales.saga import Refused, Status, decide_return, margin, next_check, react, request_return, returnable
from tests.unit.test_order_saga_kit import (A, B, NOW, ORDER_ID, TOTAL, T, begin, credit_approved, delivered,
                                            drive, later, packed, paid, reserved, step, stock, types)

D = Decimal


def costs() -> list[LineCost]:
    return [LineCost(sku=A, quantity=10, unit_cost=D("1.2000")), LineCost(sku=B, quantity=2, unit_cost=D("60.5000"))]


def completed():
    shipped = warehouse.OrderDispatched(order_id=ORDER_ID, shipment_id="SHP-1", carrier="DHL", tracking_number="TRK-1",
                                        lines=stock(a=10, b=2), costs=costs())
    booking = logistics.ShipmentBooked(order_id=ORDER_ID, shipment_id="SHP-1", carrier="DHL", waybill="WB",
                                       tracking_number="TRK-1", eta=dt.date(2031, 1, 10), cost=D("14.00"))
    bill = finance.InvoiceIssued(order_id=ORDER_ID, invoice_number="INV-1", shipment_ref="SHP-1", amount=D("267.75"),
                                 due_date=dt.date(2031, 2, 1), net=TOTAL, tax=D("42.75"))
    order = drive(begin(), credit_approved(), reserved(), packed(), booking, shipped, bill, delivered(),
                  paid(amount=D("267.75")))
    assert order.status == Status.COMPLETED
    return order


def test_margin_of_a_completed_order_per_line_and_per_order():
    m = margin(completed())
    assert (m["net_revenue"], m["cost_of_goods"], m["shipping"]) == (D("225.00"), D("133.00"), D("14.00"))
    assert m["margin"] == D("78.00") and m["margin_pct"] == D("34.67")
    lines = {line["sku"]: line for line in m["lines"]}
    assert (lines[A]["revenue"], lines[A]["cost_of_goods"], lines[A]["margin"]) == (D("25.00"), D("12.00"), D("13.00"))
    assert (lines[B]["revenue"], lines[B]["cost_of_goods"]) == (D("200.00"), D("121.00"))


def test_only_delivered_goods_are_returnable_and_never_twice():
    order = completed()
    assert returnable(order) == {A: 10, B: 2}
    with pytest.raises(Refused, match="more than was delivered"):
        request_return(order, "RMA-1", [StockLine(sku=B, quantity=3)], ReturnReason.DAMAGED, None, "clara", NOW)
    order = request_return(order, "RMA-1", [StockLine(sku=B, quantity=1)], ReturnReason.WRONG_ITEM, None, "clara",
                           NOW).order
    assert returnable(order) == {A: 10, B: 1}
    with pytest.raises(Refused, match="nothing delivered"):
        request_return(begin(), "RMA-2", [StockLine(sku=A, quantity=1)], ReturnReason.OTHER, None, "clara", NOW)


def test_a_rejected_return_frees_its_units_again():
    order = request_return(completed(), "RMA-1", [StockLine(sku=B, quantity=2)], ReturnReason.NOT_NEEDED, None,
                           "clara", NOW).order
    decision = decide_return(order, "RMA-1", False, "maria", "past the return window", NOW)
    assert not decision.commands and decision.events[0].approved is False
    assert returnable(decision.order) == {A: 10, B: 2}


def test_a_return_walks_to_completion_and_the_margin_follows():
    order = completed()
    decision = request_return(order, "RMA-1", [StockLine(sku=A, quantity=4), StockLine(sku=B, quantity=1)],
                              ReturnReason.DAMAGED, "box crushed", "clara", NOW)
    assert isinstance(decision.events[0], sales.ReturnRequested) and decision.order.status == Status.COMPLETED
    decision = decide_return(decision.order, "RMA-1", True, "maria", None, NOW)
    assert types(decision) == [warehouse.ExpectReturn.TYPE]
    order = step(decision.order, warehouse.ReturnExpected(rma="RMA-1", order_id=ORDER_ID)).order
    order = step(order, warehouse.ReturnReceived(rma="RMA-1", order_id=ORDER_ID,
                                                 lines=stock(a=4, b=1))).order
    assert order.returns[0].status == "received"
    decision = step(order, warehouse.ReturnInspected(rma="RMA-1", order_id=ORDER_ID, restocked=stock(a=4),
                                                     scrapped=stock(b=1), restocked_cost=D("4.80")))
    [settle] = decision.commands
    assert isinstance(settle, finance.SettleReturn)
    assert [(l.sku, l.quantity, l.unit_price) for l in settle.lines] == [(A, 4, D("2.50")), (B, 1, D("100.00"))]
    note = finance.CreditNoteIssued(order_id=ORDER_ID, invoice_number="INV-1", credit_note_number="CN-1",
                                    amount=D("130.90"), reason="RMA-1", net=D("110.00"), tax=D("20.90"),
                                    kind="return", rma="RMA-1")
    order = step(decision.order, note).order
    decision = step(order, finance.ReturnSettled(rma="RMA-1", order_id=ORDER_ID, credited=D("130.90"),
                                                 credited_net=D("110.00"), refunded=D("130.90"),
                                                 credit_notes=["CN-1"]))
    assert isinstance(decision.events[0], sales.ReturnCompleted)
    case = decision.order.returns[0]
    assert (case.status, case.credited, case.refunded) == ("completed", D("130.90"), D("130.90"))
    m = margin(decision.order)
    # revenue 225 - 110 credited; goods 133 - 4 x 1.20 restocked (the scrapped motor stays a cost); shipping 14
    assert (m["net_revenue"], m["cost_of_goods"], m["shipping"], m["margin"]) == (
        D("115.00"), D("128.20"), D("14.00"), D("-27.20"))
    lines = {line["sku"]: line for line in m["lines"]}
    assert (lines[A]["units_sold"], lines[A]["revenue"], lines[A]["cost_of_goods"]) == (6, D("15.00"), D("7.20"))
    assert (lines[B]["units_sold"], lines[B]["cost_of_goods"]) == (1, D("121.00"))


def test_a_return_command_without_answer_is_sent_again_then_alerts():
    order = request_return(completed(), "RMA-1", [StockLine(sku=A, quantity=1)], ReturnReason.OTHER, None, "c",
                           NOW).order
    order = decide_return(order, "RMA-1", True, "maria", None, NOW).order
    assert next_check(order, T) == NOW + T.step_timeout
    from services.sales.saga import tick
    again = tick(order, NOW + T.step_timeout, T)
    assert types(again) == [warehouse.ExpectReturn.TYPE] and again.order.returns[0].awaiting.attempts == 2
    order = again.order
    for n in range(3, T.max_attempts + 1):
        order = tick(order, later(3600 * n), T).order
    stuck = tick(order, later(3600 * 99), T)
    assert stuck.events and "RMA-1" in stuck.events[0].summary and not stuck.commands
    assert tick(stuck.order, later(3600 * 100), T) is None


def test_a_second_settlement_answer_changes_nothing():
    order = request_return(completed(), "RMA-1", [StockLine(sku=A, quantity=1)], ReturnReason.OTHER, None, "c",
                           NOW).order
    settled = finance.ReturnSettled(rma="RMA-1", order_id=ORDER_ID, credited=D("2.98"), credited_net=D("2.50"),
                                    refunded=D("0"), credit_notes=["CN-1"])
    done = step(order, settled).order
    assert react(done, settled, later(5), T) is None
    assert react(done, warehouse.ReturnExpected(rma="RMA-9", order_id=ORDER_ID), later(5), T) is None
