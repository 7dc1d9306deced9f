"""Issue 10: finance's credit hold is released on every path to cancelled or completed.

Finance records a hold for every order it approves (zero for samples and prepaid orders, the order
total for standard ones). Before the fix sales released it only for standard orders, so a prepaid
order cancelled while its credit check was in flight, and every completed sample, left a `held`
hold behind."""

from __future__ import annotations

from decimal import Decimal

from contracts import finance, warehouse
from contracts.common import OrderType, PaymentMethod, PricedLine
from services.sales.saga import Status, approve, request_cancel, start
from tests.unit.test_order_saga_kit import (A, NOW, ORDER_ID, T, begin, booked, credit_approved, credit_rejected,
                                            delivered, dispatched, done, make_order, packed, reserved, step,
                                            stock, ticked, types)


def plan(order) -> list[str]:
    return [c.type for c in order.compensations]


def test_prepaid_cancelled_while_its_credit_check_is_in_flight_releases_the_hold():
    order = begin(order_type=OrderType.PREPAID_AT_ORDER, payment_method=PaymentMethod.CARD)
    assert order.status == Status.CREDIT_CHECK
    waiting = request_cancel(order, "customer changed their mind", NOW)
    assert waiting.commands == [] and waiting.order.cancel_requested       # the check finishes first
    decision = step(waiting.order, credit_approved())
    assert decision.order.status == Status.CANCELLING
    assert plan(decision.order) == [finance.ReleaseCredit.TYPE]
    assert decision.commands == [finance.ReleaseCredit(order_id=ORDER_ID, reason="customer changed their mind")]
    final = step(decision.order, done(finance.ReleaseCredit.TYPE))
    assert final.order.status == Status.CANCELLED


def test_prepaid_past_its_deadline_while_the_credit_check_is_in_flight_releases_what_the_check_holds():
    """The deadline cancels at once; the check already sent will leave a hold, so the release follows it
    (same key, same partition: finance handles the check first)."""
    order = begin(order_type=OrderType.PREPAID_BEFORE_SHIPMENT, payment_method=PaymentMethod.BANK_TRANSFER)
    decision = ticked(order, NOW + T.payment_deadline)
    assert decision.order.status == Status.CANCELLING
    assert types(decision) == [finance.ReleaseCredit.TYPE]
    late_approval = step(decision.order, credit_approved())
    assert late_approval.commands == [] and late_approval.order.status == Status.CANCELLING
    assert step(late_approval.order, done(finance.ReleaseCredit.TYPE)).order.status == Status.CANCELLED


def test_a_completed_sample_releases_its_hold():
    free = (PricedLine(sku=A, quantity=1, unit_price=Decimal("0.00")),)
    order = approve(start(make_order(order_type=OrderType.SAMPLE, lines=free), NOW, T).order, "maria", NOW).order
    for message in (credit_approved(), reserved(a=1, want_a=1, want_b=0), packed(stock(a=1)), booked(),
                    dispatched("SHP-1", stock(a=1))):
        order = step(order, message).order
    decision = step(order, delivered())
    assert decision.order.status == Status.COMPLETED
    assert decision.commands == [finance.ReleaseCredit(order_id=ORDER_ID, reason="order completed")]


def test_a_rejected_credit_check_holds_nothing_to_release():
    decision = step(begin(), credit_rejected())
    assert decision.order.status == Status.REJECTED and decision.commands == []


def test_a_cancel_before_any_credit_check_releases_nothing():
    order = start(make_order(order_type=OrderType.SAMPLE), NOW, T).order      # awaiting approval
    decision = request_cancel(order, "not needed", NOW)
    assert decision.order.status == Status.CANCELLED and decision.commands == []


def test_every_approved_order_type_releases_on_cancel():
    for order_type in OrderType:
        order = start(make_order(order_type=order_type), NOW, T).order
        if order_type == OrderType.SAMPLE:
            order = approve(order, "maria", NOW).order
        order = step(order, credit_approved()).order
        if order.awaiting is not None and order.awaiting.type == warehouse.ReserveStock.TYPE:
            order = step(order, reserved()).order
        decision = request_cancel(order, "cancelled", NOW)
        if decision.order.status == Status.CANCELLING:
            assert plan(decision.order)[-1] == finance.ReleaseCredit.TYPE, order_type
        else:                                     # a step in flight: cancelled once it answers
            assert decision.order.cancel_requested, order_type
