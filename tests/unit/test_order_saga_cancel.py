"""The order saga v2: failures, cancellation and compensation (reverse order, one at a time)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import finance, logistics, procurement, sales, warehouse
from contracts.common import FulfilmentPolicy, OrderType, PaymentMethod, PricedLine
from services.sales.saga import decide, Refused, Status, next_check, react, request_cancel, request_change, start
from tests.unit.test_order_saga_kit import (A, NOW, ORDER_ID, T, begin, booked, booking_failed, credit_approved,
                                            credit_rejected, delivered, dispatch_refused, dispatched, done, drive,
                                            invoiced, later, make_order, packed, paid, purchase_failed, reserved,
                                            reviewed, step, stock, ticked, types)


def plan(order) -> list[str]:
    return [c.type for c in order.compensations]


def run_compensations(order, expected: list[str]):
    """Answer each compensation with its department's compensation_done and check that the next
    one is sent only then; returns the final order."""
    for index, command_type in enumerate(expected):
        current = next(c for c in order.compensations if not c.done)
        assert current.type == command_type and current.attempts == 1
        nxt = expected[index + 1] if index + 1 < len(expected) else None
        decision = step(order, done(command_type), later(index + 1))
        assert types(decision) == ([nxt] if nxt else [])
        order = decision.order
    return order


def awaiting_stock():
    """standard, ship_complete, 4 of 10 SKU-A reserved, 6 being bought."""
    return drive(begin(), credit_approved(), reserved(a=4))


# --- 5. purchase failed with nothing shipped ---------------------------------------------------

def test_purchase_failed_compensates_purchase_reservation_credit_in_that_order():
    decision = step(awaiting_stock(), purchase_failed())
    assert decision.order.status == Status.CANCELLING
    assert plan(decision.order) == [procurement.CancelPurchase.TYPE, warehouse.ReleaseReservation.TYPE,
                                    finance.ReleaseCredit.TYPE]
    [first] = decision.commands                          # one at a time
    assert isinstance(first, procurement.CancelPurchase)
    assert first.order_id == ORDER_ID and first.sku is None and first.quantity is None   # every purchase
    assert "no supplier in time" in first.reason
    order = run_compensations(decision.order, plan(decision.order))
    assert order.status == Status.CANCELLED
    assert all(c.done for c in order.compensations)


def test_compensation_commands_carry_the_order_and_the_reason():
    order = step(awaiting_stock(), purchase_failed()).order
    messages = [c.message() for c in order.compensations]
    assert [type(m) for m in messages] == [procurement.CancelPurchase, warehouse.ReleaseReservation,
                                           finance.ReleaseCredit]
    assert all(m.order_id == ORDER_ID and "no supplier in time" in m.reason for m in messages)


def test_a_compensation_done_for_another_command_does_not_advance():
    order = step(awaiting_stock(), purchase_failed()).order
    assert react(order, done(warehouse.ReleaseReservation.TYPE), NOW, T) is None     # not the current one
    assert react(order, done(finance.ReleaseCredit.TYPE), NOW, T) is None
    order = step(order, done(procurement.CancelPurchase.TYPE)).order
    assert react(order, done(procurement.CancelPurchase.TYPE), NOW, T) is None       # duplicate of a finished one


def test_forward_replies_while_cancelling_send_nothing():
    order = step(awaiting_stock(), purchase_failed()).order
    for message in (reserved(), credit_approved(), packed(), booked()):
        decision = react(order, message, NOW, T)
        assert decision is None or decision.commands == []
        assert (decision.order if decision else order).status == Status.CANCELLING


def test_purchase_failed_after_a_partial_shipment_alerts_a_person():
    order = drive(begin(fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL), credit_approved(), reserved(a=4),
                  packed(stock(a=4, b=2)), booked(), dispatched("SHP-1", stock(a=4, b=2)),
                  invoiced("INV-1", "SHP-1", Decimal("210.00")))
    decision = step(order, purchase_failed())
    assert decision.order.status == Status.BACKORDERED
    assert [type(e) for e in decision.events] == [sales.SagaAlert]


def test_purchase_failed_after_a_partial_shipment_does_not_cancel():
    order = drive(begin(fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL), credit_approved(), reserved(a=4),
                  packed(stock(a=4, b=2)), booked(), dispatched("SHP-1", stock(a=4, b=2)),
                  invoiced("INV-1", "SHP-1", Decimal("210.00")))
    decision = step(order, purchase_failed())
    assert decision.order.status == Status.BACKORDERED and decision.commands == []
    assert decision.order.compensations == ()
    assert any(a.startswith("purchase_failed:SKU-A:") for a in decision.order.alerts)
    assert [e.TYPE for e in decision.events] == ["sales.saga_alert"]


# --- other failures ----------------------------------------------------------------------------

def test_booking_failure_asks_a_person_and_cancel_compensates_reservation_then_credit():
    order = drive(begin(), credit_approved(), reserved(), packed())
    asked = step(order, booking_failed())
    assert asked.order.status == Status.DECISION_NEEDED and asked.order.awaiting is None
    assert asked.order.decision.options == ("switch_carrier", "cancel")
    decision = decide(asked.order, "cancel", by="maria", role="sales_manager", comment=None, now=NOW)
    assert decision.order.status == Status.CANCELLING
    steps = plan(decision.order)
    assert steps[-2:] == [warehouse.ReleaseReservation.TYPE, finance.ReleaseCredit.TYPE]
    assert set(steps) <= {logistics.CancelShipment.TYPE, warehouse.ReleaseReservation.TYPE, finance.ReleaseCredit.TYPE}
    assert run_compensations(decision.order, steps).status == Status.CANCELLED


def test_reservation_expired_cancels():
    order = awaiting_stock()
    decision = step(order, warehouse.ReservationExpired(order_id=ORDER_ID, lines=stock(a=4, b=2)))
    assert decision.order.status == Status.CANCELLING
    assert plan(decision.order) == [procurement.CancelPurchase.TYPE, warehouse.ReleaseReservation.TYPE,
                                    finance.ReleaseCredit.TYPE]


def test_standard_dispatch_refused_cancels_with_the_booking():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked())
    decision = step(order, dispatch_refused("nothing packed to dispatch"))
    assert decision.order.status == Status.CANCELLING
    assert plan(decision.order) == [logistics.CancelShipment.TYPE, warehouse.ReleaseReservation.TYPE,
                                    finance.ReleaseCredit.TYPE]


# --- 10. cancellation requested ----------------------------------------------------------------

def test_cancel_of_a_settled_order_compensates_at_once():
    decision = request_cancel(awaiting_stock(), "customer changed their mind", later(5))
    assert decision.order.status == Status.CANCELLING
    assert plan(decision.order) == [procurement.CancelPurchase.TYPE, warehouse.ReleaseReservation.TYPE,
                                    finance.ReleaseCredit.TYPE]
    assert types(decision) == [procurement.CancelPurchase.TYPE]
    assert decision.commands[0].reason == "customer changed their mind"
    assert decision.order.status_reason == "customer changed their mind"


def test_cancel_with_nothing_to_undo_is_cancelled_at_once():
    order = start(make_order(order_type=OrderType.SAMPLE,
                             lines=(PricedLine(sku=A, quantity=1, unit_price=Decimal("0.00")),)), NOW, T).order
    decision = request_cancel(order, "not needed", NOW)
    assert decision.order.status == Status.CANCELLED and decision.commands == []


def test_cancel_while_a_step_is_in_flight_is_recorded_and_sends_nothing():
    order = drive(begin(), credit_approved())            # reserving
    decision = request_cancel(order, "customer changed their mind", NOW)
    assert decision.commands == [] and decision.events == []
    assert decision.order.cancel_requested == "customer changed their mind"
    assert decision.order.status == Status.RESERVING
    assert decision.order.awaiting == order.awaiting


def test_pending_cancel_runs_when_the_reservation_reply_arrives_and_buys_nothing():
    order = request_cancel(drive(begin(), credit_approved()), "customer changed their mind", NOW).order
    decision = step(order, reserved(a=4))                # short: but nothing is bought for a cancelled order
    assert decision.order.status == Status.CANCELLING
    assert plan(decision.order) == [warehouse.ReleaseReservation.TYPE, finance.ReleaseCredit.TYPE]
    assert types(decision) == [warehouse.ReleaseReservation.TYPE]
    assert decision.order.cancel_requested is None
    assert run_compensations(decision.order, plan(decision.order)).status == Status.CANCELLED


def test_pending_cancel_during_booking_compensates_the_booking_too():
    order = drive(begin(), credit_approved(), reserved(), packed())
    order = request_cancel(order, "customer changed their mind", NOW).order
    assert order.status == Status.BOOKING
    decision = step(order, booked())
    assert plan(decision.order) == [logistics.CancelShipment.TYPE, warehouse.ReleaseReservation.TYPE,
                                    finance.ReleaseCredit.TYPE]
    assert types(decision) == [logistics.CancelShipment.TYPE]


def test_pending_cancel_during_the_credit_check_releases_the_credit():
    order = request_cancel(begin(), "duplicate order", NOW).order
    decision = step(order, credit_approved())
    assert plan(decision.order) == [finance.ReleaseCredit.TYPE]
    assert types(decision) == [finance.ReleaseCredit.TYPE]


def test_pending_cancel_and_credit_rejection_just_rejects():
    order = request_cancel(begin(), "duplicate order", NOW).order
    decision = step(order, credit_rejected())
    assert decision.order.status == Status.REJECTED and decision.commands == []


def test_replies_that_are_not_the_step_reply_keep_the_cancel_pending():
    order = request_cancel(drive(begin(), credit_approved()), "customer changed their mind", NOW).order
    assert react(order, credit_approved(), NOW, T) is None
    assert order.status == Status.RESERVING and order.cancel_requested


def test_cancel_after_invoice_and_payment_refunds_credits_cancels_shipment_and_releases():
    """prepaid_before_shipment, prepayment invoiced and partly paid, packed and booked; the cancel arrives
    while the hand-over is in flight and runs once the warehouse refused it."""
    order = drive(begin(order_type=OrderType.PREPAID_BEFORE_SHIPMENT, payment_method=PaymentMethod.BANK_TRANSFER),
                  credit_approved(), invoiced("INV-1", "prepayment"), reserved(),
                  paid(full=False, amount=Decimal("100.00")), packed(), booked())
    assert order.status == Status.DISPATCHING
    order = request_cancel(order, "customer changed their mind", NOW).order
    decision = step(order, dispatch_refused())
    assert decision.order.status == Status.CANCELLING
    expected = [finance.RefundPayments.TYPE, finance.CreditInvoices.TYPE, logistics.CancelShipment.TYPE,
                warehouse.ReleaseReservation.TYPE, finance.ReleaseCredit.TYPE]
    assert plan(decision.order) == expected
    assert types(decision) == [finance.RefundPayments.TYPE]
    assert decision.commands[0].amount is None          # everything paid
    assert run_compensations(decision.order, expected).status == Status.CANCELLED


def test_a_cancel_pending_during_dispatch_recalls_the_goods_first():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked())
    order = request_cancel(order, "customer changed their mind", NOW).order
    decision = step(order, dispatched())
    assert decision.order.status == Status.CANCELLING
    assert types(decision) == [logistics.RecallShipments.TYPE]


def test_a_failure_while_the_hand_over_is_in_flight_waits_for_its_reply():
    order = drive(begin(fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL), credit_approved(), reserved(a=4),
                  packed(stock(a=4, b=2)), booked())
    assert order.status == Status.DISPATCHING
    decision = step(order, purchase_failed())
    assert decision.commands == []
    assert decision.order.status == Status.DISPATCHING


def test_a_payment_arriving_while_cancelling_is_refunded():
    order = drive(begin(order_type=OrderType.PREPAID_AT_ORDER, payment_method=PaymentMethod.CARD), credit_approved(),
                  invoiced("INV-1", "prepayment"))
    order = ticked(order, NOW + T.payment_deadline).order          # unpaid: CreditInvoices sent
    order = step(order, paid(), NOW + T.payment_deadline).order    # the money comes in just too late
    sent = []
    while order.status == Status.CANCELLING:
        current = next((c for c in order.compensations if not c.done), None)
        if current is None:
            break
        decision = step(order, done(current.type))
        sent += types(decision)
        order = decision.order
    assert finance.RefundPayments.TYPE in sent or finance.RefundPayments.TYPE in plan(order)


@pytest.mark.parametrize("shipped_order", ["backordered", "shipped"])
def test_cancel_in_transit_recalls_the_goods_before_undoing_anything_else(shipped_order):
    if shipped_order == "backordered":
        order = drive(begin(fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL), credit_approved(), reserved(a=4),
                      packed(stock(a=4, b=2)), booked(), dispatched("SHP-1", stock(a=4, b=2)),
                      invoiced("INV-1", "SHP-1", Decimal("210.00")))
        assert order.status == Status.BACKORDERED
        expected = [logistics.RecallShipments.TYPE, finance.CreditInvoices.TYPE, procurement.CancelPurchase.TYPE,
                    warehouse.ReleaseReservation.TYPE, finance.ReleaseCredit.TYPE]
    else:
        order = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced())
        expected = [logistics.RecallShipments.TYPE, finance.CreditInvoices.TYPE,
                    warehouse.ReleaseReservation.TYPE, finance.ReleaseCredit.TYPE]
    decision = request_cancel(order, "customer changed their mind", NOW)
    assert plan(decision.order) == expected
    assert types(decision) == [logistics.RecallShipments.TYPE]
    assert run_compensations(decision.order, expected).status == Status.CANCELLED


def test_cancel_after_delivery_is_refused():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced(), delivered())
    with pytest.raises(Refused, match="delivered"):
        request_cancel(order, "too late", NOW)


def test_a_refused_recall_abandons_the_cancellation_before_anything_was_undone():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced())
    cancelling = request_cancel(order, "customer changed their mind", NOW).order
    decision = step(cancelling, logistics.RecallFailed(order_id=ORDER_ID, reason="already delivered"))
    assert decision.order.status == Status.SHIPPED and decision.order.compensations == ()
    assert types(decision) == [] and [e.TYPE for e in decision.events] == [sales.SagaAlert.TYPE]
    assert step(decision.order, paid()).order.status == Status.SHIPPED       # still waits for delivery
    assert step(step(decision.order, paid()).order, delivered()).order.status == Status.COMPLETED


def test_cancel_while_invoicing_waits_then_recalls():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched())
    assert order.status == Status.INVOICING
    waiting = request_cancel(order, "customer changed their mind", NOW)
    assert waiting.commands == [] and waiting.order.cancel_requested
    decision = step(waiting.order, invoiced())
    assert types(decision) == [logistics.RecallShipments.TYPE]


def test_cancel_of_a_final_or_cancelling_order_is_refused():
    completed = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced(),
                      delivered(), paid())
    rejected = step(begin(), credit_rejected()).order
    cancelling = step(awaiting_stock(), purchase_failed()).order
    cancelled = run_compensations(cancelling, plan(cancelling))
    for order in (completed, rejected, cancelling, cancelled):
        with pytest.raises(Refused):
            request_cancel(order, "again", NOW)


def test_cancel_during_a_change_review_waits_and_then_runs_after_the_refusal():
    order = awaiting_stock()
    change = request_change(order, lines=(order.lines[0], order.lines[1].model_copy(update={"quantity": 3})),
                            address=None, requested_delivery_date=None, now=NOW)
    change_id = change.order.change.proposal.change_id
    order = request_cancel(change.order, "customer changed their mind", NOW).order
    assert order.status == Status.CHANGING and order.cancel_requested
    order = drive(order, reviewed("warehouse", change_id), reviewed("logistics", change_id))
    decision = step(order, reviewed("finance", change_id, approved=False, reason="credit limit"))
    assert [type(e) for e in decision.events] == [sales.OrderChangeRefused]
    assert decision.order.status == Status.CANCELLING
    assert plan(decision.order) == [procurement.CancelPurchase.TYPE, warehouse.ReleaseReservation.TYPE,
                                    finance.ReleaseCredit.TYPE]
    assert types(decision) == [procurement.CancelPurchase.TYPE]


def test_next_check_while_cancelling_is_the_current_compensation_deadline():
    order = step(awaiting_stock(), purchase_failed(), later(100)).order
    assert next_check(order, T) == later(100) + T.compensation_timeout


def test_a_return_without_a_recall_only_raises_an_alert():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced())
    decision = react(order, logistics.ShipmentReturned(order_id=ORDER_ID, shipment_id="SHP-1",
                                                       lines=stock(a=10, b=2)), NOW, T)
    assert decision.commands == [] and [e.TYPE for e in decision.events] == [sales.SagaAlert.TYPE]
    assert decision.order.shipped == order.shipped
