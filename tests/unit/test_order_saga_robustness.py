"""The order saga v2: deadlines, re-sends, parked compensations, duplicates and final orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contracts import finance, logistics, procurement, sales, warehouse
from contracts.common import FulfilmentPolicy, OrderType, PaymentMethod
from services.sales.saga import Refused, Status, next_check, react, retry_parked, start, tick
from tests.unit.test_order_saga_kit import (A, NOW, NUMBER, ORDER_ID, T, begin, booked, booking_failed,
                                            credit_approved, credit_rejected, delivered, dispatch_refused,
                                            dispatched, done, drive, invoiced, later, make_order, only, packed,
                                            paid, purchase_failed, reserved, step, stock, ticked, types)

# --- forward steps without reply ---------------------------------------------------------------


def test_tick_before_the_step_timeout_does_nothing():
    order = begin()
    assert tick(order, later(59), T) is None


def test_tick_resends_an_unanswered_step_with_growing_attempts():
    order = begin()
    decision = ticked(order, later(60))
    assert only(decision, finance.CheckCredit) == start(make_order(), NOW, T).commands[0]
    assert decision.order.awaiting.attempts == 2 and decision.order.awaiting.sent_at == later(60)
    assert decision.order.status == Status.CREDIT_CHECK
    # the wait grows with the attempts: timeout * attempts
    assert tick(decision.order, later(60 + 119), T) is None
    decision = ticked(decision.order, later(60 + 120))
    assert types(decision) == [finance.CheckCredit.TYPE] and decision.order.awaiting.attempts == 3


def test_after_max_attempts_one_alert_and_no_more_resends():
    order = ticked(ticked(begin(), later(60)).order, later(180)).order
    assert order.awaiting.attempts == T.max_attempts
    assert tick(order, later(180 + 179), T) is None
    decision = ticked(order, later(180 + 180))
    assert decision.commands == []
    [alert] = decision.events
    assert isinstance(alert, sales.SagaAlert)
    assert (alert.order_id, alert.order_number, alert.severity) == (ORDER_ID, NUMBER, "warning")
    assert finance.CheckCredit.TYPE in alert.summary
    assert tick(decision.order, later(hours=5), T) is None                  # one alert, no more re-sends
    assert next_check(decision.order, T) is None
    # a late reply still moves the order on
    assert types(step(decision.order, credit_approved(), later(hours=6))) == [warehouse.ReserveStock.TYPE]


def test_every_in_flight_step_is_resent():
    orders = {"reserving": drive(begin(), credit_approved()),
              "picking": drive(begin(), credit_approved(), reserved()),
              "booking": drive(begin(), credit_approved(), reserved(), packed()),
              "dispatching": drive(begin(), credit_approved(), reserved(), packed(), booked()),
              "invoicing": drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched())}
    for status, order in orders.items():
        assert order.status.value == status
        decision = ticked(order, later(60))
        assert types(decision) == [order.awaiting.type], status
        assert decision.commands[0].model_dump(mode="json") == order.awaiting.payload


def test_a_stuck_step_does_not_silence_the_same_step_in_a_later_wave():
    order = drive(begin(fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL), credit_approved(), reserved(a=4))
    assert order.awaiting.type == warehouse.PickAndPack.TYPE
    for at in (60, 180, 360):
        order = ticked(order, later(at)).order                    # wave 1 pick & pack stuck: alert
    assert f"stuck:{warehouse.PickAndPack.TYPE}:wave1" in order.alerts
    order = drive(order, packed(stock(a=4, b=2)), booked(), dispatched("SHP-1", stock(a=4, b=2)),
                  invoiced("INV-1", "SHP-1", Decimal("210.00")), now=later(400))
    order = step(order, reserved(a=10), later(500)).order          # wave 2 pick & pack
    assert order.awaiting.type == warehouse.PickAndPack.TYPE and order.awaiting.attempts == 1
    assert next_check(order, T) == later(500) + T.step_timeout


# --- compensations without answer --------------------------------------------------------------

def cancelling():
    """Purchase failed at NOW: CancelPurchase sent, then ReleaseReservation and ReleaseCredit."""
    order = drive(begin(), credit_approved(), reserved(a=4))
    return step(order, purchase_failed(), NOW).order


def current(order):
    return next(c for c in order.compensations if not c.done and not c.parked)


def test_an_unanswered_compensation_is_resent_with_exponential_backoff():
    order = cancelling()
    assert current(order).attempts == 1 and current(order).sent_at == NOW
    assert tick(order, later(9), T) is None
    decision = ticked(order, later(10))                              # timeout * 2**0
    assert types(decision) == [procurement.CancelPurchase.TYPE]
    assert current(decision.order).attempts == 2
    assert next_check(decision.order, T) == later(10 + 20)
    assert tick(decision.order, later(10 + 19), T) is None
    decision = ticked(decision.order, later(10 + 20))                # timeout * 2**1
    assert types(decision) == [procurement.CancelPurchase.TYPE]
    assert current(decision.order).attempts == 3
    assert next_check(decision.order, T) == later(30 + 40)          # timeout * 2**2


def test_a_compensation_unanswered_after_max_attempts_is_parked_with_a_critical_alert_and_the_next_runs():
    order = ticked(ticked(cancelling(), later(10)).order, later(30)).order
    assert tick(order, later(69), T) is None
    decision = ticked(order, later(70))
    assert types(decision) == [warehouse.ReleaseReservation.TYPE]
    [alert] = decision.events
    assert isinstance(alert, sales.SagaAlert) and alert.severity == "critical"
    assert procurement.CancelPurchase.TYPE in alert.summary
    parked = decision.order.compensations[0]
    assert parked.type == procurement.CancelPurchase.TYPE and parked.parked and not parked.done
    assert decision.order.status == Status.CANCELLING


def parked_then_rest_done():
    order = ticked(ticked(ticked(cancelling(), later(10)).order, later(30)).order, later(70)).order
    order = step(order, done(warehouse.ReleaseReservation.TYPE), later(80)).order
    decision = step(order, done(finance.ReleaseCredit.TYPE), later(90))
    return decision


def test_with_a_parked_compensation_the_order_stays_cancelling():
    decision = parked_then_rest_done()
    assert decision.commands == []
    assert decision.order.status == Status.CANCELLING
    assert tick(decision.order, later(days=1), T) is None
    assert next_check(decision.order, T) is None


def test_retry_parked_sends_the_parked_compensation_again():
    order = parked_then_rest_done().order
    decision = retry_parked(order, later(200))
    assert types(decision) == [procurement.CancelPurchase.TYPE]
    comp = decision.order.compensations[0]
    assert not comp.parked and comp.attempts == 1 and comp.sent_at == later(200)
    assert decision.order.status == Status.CANCELLING
    final = step(decision.order, done(procurement.CancelPurchase.TYPE), later(210))
    assert final.order.status == Status.CANCELLED


def test_retry_parked_without_anything_parked_is_refused():
    with pytest.raises(Refused):
        retry_parked(cancelling(), NOW)
    with pytest.raises(Refused):
        retry_parked(begin(), NOW)


# --- next_check ---------------------------------------------------------------------------------

def test_next_check_is_the_step_deadline():
    assert next_check(begin(), T) == NOW + T.step_timeout
    order = step(begin(), credit_approved(), later(30)).order
    assert next_check(order, T) == later(30) + T.step_timeout


def test_next_check_is_the_earliest_of_payment_and_step_deadlines():
    order = begin(order_type=OrderType.PREPAID_BEFORE_SHIPMENT, payment_method=PaymentMethod.BANK_TRANSFER)
    order = step(order, credit_approved(), later(30)).order           # reserving, payment due in 24h
    assert next_check(order, T) == later(30) + T.step_timeout
    order = drive(order, reserved(), packed(), now=later(hours=30))   # step sent after the payment deadline
    assert next_check(order, T) == NOW + T.payment_deadline


def test_next_check_of_an_order_awaiting_payment_is_its_deadline():
    order = drive(begin(order_type=OrderType.PREPAID_AT_ORDER, payment_method=PaymentMethod.CARD), credit_approved())
    assert next_check(order, T) == NOW + T.payment_deadline
    order = step(order, paid()).order
    assert next_check(order, T) == NOW + T.step_timeout              # reservation sent; paid: no deadline


def test_next_check_of_a_settled_order_without_deadline_is_none():
    order = drive(begin(), credit_approved(), reserved(a=4))          # awaiting stock
    assert next_check(order, T) is None
    assert tick(order, later(days=30), T) is None


# --- duplicates and out-of-order replies ---------------------------------------------------------

def test_a_second_credit_approved_changes_nothing():
    order = drive(begin(), credit_approved())
    assert react(order, credit_approved(), later(5), T) is None
    order = drive(order, reserved(a=4))
    assert react(order, credit_approved(), later(5), T) is None


def test_replies_to_a_resent_step_are_answered_once():
    """Each step re-sent by tick is answered twice by its idempotent department; the echo changes nothing."""
    order = begin()
    for reply in (credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced()):
        order = step(order, reply).order
        assert react(order, reply, later(1), T) is None, reply.TYPE


def test_an_order_packed_while_booking_changes_nothing():
    order = drive(begin(), credit_approved(), reserved(), packed())
    assert order.status == Status.BOOKING
    decision = react(order, packed(), later(1), T)
    assert decision is None
    assert only(step(order, booked()), warehouse.DispatchOrder).shipment_id == "SHP-1"


def test_a_repeated_delivery_or_payment_changes_nothing():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced(), delivered())
    assert react(order, delivered(), later(1), T) is None


def test_a_late_stock_picture_while_booking_sends_nothing():
    order = drive(begin(), credit_approved(), reserved(), packed())
    decision = react(order, reserved(), later(1), T)
    assert decision is None or decision.commands == []


def test_a_repeated_dispatch_of_an_earlier_shipment_changes_nothing():
    order = drive(begin(fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL), credit_approved(), reserved(a=4),
                  packed(stock(a=4, b=2)), booked("SHP-1"), dispatched("SHP-1", stock(a=4, b=2)),
                  invoiced("INV-1", "SHP-1", Decimal("210.00")), reserved(a=10), packed(stock(a=6)),
                  booked("SHP-2", tracking="TRK-2"))
    assert order.status == Status.DISPATCHING
    assert react(order, dispatched("SHP-1", stock(a=4, b=2)), later(1), T) is None


def test_unrelated_department_events_are_ignored():
    order = drive(begin(), credit_approved(), reserved(a=4))
    for message in (procurement.PurchaseOrderPlaced(purchase_order_id="PO-1", order_id=ORDER_ID, supplier_id="S-1",
                                                     sku=A, quantity=6),
                    procurement.PurchaseOrderConfirmed(purchase_order_id="PO-1", order_id=ORDER_ID, supplier_id="S-1",
                                                       sku=A, quantity=6, delivery_date=dt.date(2031, 1, 10)),
                    logistics.ShipmentInTransit(order_id=ORDER_ID, shipment_id="SHP-1", tracking_number="TRK-1"),
                    finance.CreditReleased(order_id=ORDER_ID, amount=Decimal("1.00"))):
        assert react(order, message, later(1), T) is None, message.TYPE


# --- final orders -------------------------------------------------------------------------------

def finals():
    completed = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced(),
                      delivered(), paid())
    rejected = step(begin(), credit_rejected()).order
    order = step(drive(begin(), credit_approved()), reserved(a=4)).order
    order = step(order, purchase_failed()).order
    for command_type in (procurement.CancelPurchase.TYPE, warehouse.ReleaseReservation.TYPE,
                         finance.ReleaseCredit.TYPE):
        order = step(order, done(command_type)).order
    return {"completed": completed, "rejected": rejected, "cancelled": order}


FINALS = finals()
EVERYTHING = [credit_approved(), credit_rejected(), reserved(), reserved(a=4), packed(), booked(), booking_failed(),
              dispatched(), dispatch_refused(), invoiced(), paid(), delivered(), purchase_failed(),
              done(warehouse.ReleaseReservation.TYPE)]


# Money arriving for a cancelled order is the one exception: it is refunded (test below).
IGNORED = [(final, message) for final in FINALS for message in EVERYTHING
           if not (final == "cancelled" and isinstance(message, finance.PaymentReceived))]


@pytest.mark.parametrize("final, message", IGNORED, ids=[f"{f}-{m.TYPE}" for f, m in IGNORED])
def test_final_orders_ignore_every_message(final, message):
    """Nothing is sent and the status stays; at most an economic fact (an invoice's net) is recorded."""
    order = FINALS[final]
    assert order.status.value == final
    decision = react(order, message, later(days=1), T)
    assert decision is None or (not decision.commands and not decision.events
                                and decision.order.status == order.status
                                and decision.order.model_dump(exclude={"invoiced_net", "credited_net"})
                                == order.model_dump(exclude={"invoiced_net", "credited_net"}))


def test_a_payment_after_cancellation_is_refunded():
    order = FINALS["cancelled"]
    decision = react(order, paid(), later(days=1), T)
    assert decision.order.status.value == "cancelling"
    assert [c.TYPE for c in decision.commands] == [finance.RefundPayments.TYPE]
    finished = react(decision.order, done(finance.RefundPayments.TYPE), later(days=1), T)
    assert finished.order.status.value == "cancelled"


@pytest.mark.parametrize("final", list(FINALS))
def test_final_orders_ignore_time(final):
    order = FINALS[final]
    assert tick(order, later(days=365), T) is None
    assert next_check(order, T) is None


# --- found by the chaos run (issue 10): a stale booking for the next wave -------------------------

def test_a_next_wave_booking_answered_with_an_already_dispatched_shipment_is_not_taken():
    """Logistics, restarted and behind on warehouse events, still saw wave 1's shipment as booked
    and answered wave 2's BookShipment with it. Taking it sent DispatchOrder(SHP-1), which the
    warehouse answered with wave 1's dispatch again, forever. Now the stale booking is not an
    answer: the step stays open and is asked again after its timeout."""
    from tests.unit.test_order_saga import partial_wave_one
    order = drive(partial_wave_one(), reserved(a=10))
    order = step(order, packed(stock(a=6), parcels=1, weight_kg=3.0)).order
    assert order.status == Status.BOOKING
    stale = react(order, booked("SHP-1"), NOW, T)
    assert stale is None or (stale.commands == [] and not stale.order.booked
                             and stale.order.awaiting == order.awaiting)
    asked_again = ticked(order, NOW + T.step_timeout)
    assert [c.TYPE for c in asked_again.commands] == [logistics.BookShipment.TYPE]
    fresh = step(asked_again.order, booked("SHP-2", tracking="TRK-2"))
    assert [c.shipment_id for c in fresh.commands] == ["SHP-2"]
