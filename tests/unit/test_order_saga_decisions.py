"""People decide (services/sales/saga/decisions.py): a late supplier, a late carrier, no carrier;
options, owner roles, reminder, default, moot decisions. Also the alerts that must be recorded
(bug: an abandoned or too-late cancellation was announced but not kept for GET /alerts)."""

from __future__ import annotations

import datetime as dt

import pytest

from contracts import finance, logistics, procurement, sales, warehouse
from contracts.common import FulfilmentPolicy, OrderType
from services.sales.saga import Refused, Status, decide, next_check, react, request_cancel, tick
from tests.unit.test_order_saga_kit import (A, NOW, ORDER_ID, T, begin, booked, booking_failed, credit_approved,
                                            delivered, dispatched, done, drive, invoiced, later, packed, paid,
                                            reserved, step, types)


def delayed(po: str = "PO-1", alternatives: int = 1, sku: str = A, quantity: int = 6) -> procurement.PurchaseDelayed:
    return procurement.PurchaseDelayed(purchase_order_id=po, order_id=ORDER_ID, supplier_id="SUP-1", sku=sku,
                                       quantity=quantity, promised_date=dt.date(2031, 2, 1),
                                       needed_by=dt.date(2031, 1, 15), alternatives=alternatives)


def awaiting_stock(**kw):
    return drive(begin(**kw), credit_approved(), reserved(a=4))


def late_supplier(**kw):
    return step(awaiting_stock(**kw), delayed())


# --- a supplier promises too late ------------------------------------------------------------

def test_a_late_promise_asks_a_person_with_the_sensible_options():
    decision = late_supplier()
    order = decision.order
    assert order.status == Status.DECISION_NEEDED
    assert order.decision.kind == "supplier_late"
    assert order.decision.options == ("accept_later_date", "switch_supplier", "ship_partial", "cancel")
    assert order.decision.default == "accept_later_date"
    assert order.decision.owner_roles == ("sales_manager", "procurement")
    assert order.decision.due_at == NOW + T.decision_timeout
    [event] = decision.events
    assert isinstance(event, sales.DecisionRequested) and event.options == list(order.decision.options)
    assert decision.commands == []


def test_no_switch_without_another_supplier_no_partial_when_shipping_partially_anyway():
    order = step(awaiting_stock(fulfilment_policy=FulfilmentPolicy.SHIP_PARTIAL), delayed(alternatives=0)).order
    assert order.decision.options == ("accept_later_date", "cancel")


def test_accepting_the_later_date_confirms_the_purchase_and_waits_for_the_goods():
    order = late_supplier().order
    decision = decide(order, "accept_later_date", by="maria", role="sales_manager", comment="customer agrees", now=NOW)
    assert decision.commands == [procurement.ResolveDelay(order_id=ORDER_ID, purchase_order_id="PO-1", choice="accept")]
    assert decision.order.status == Status.AWAITING_STOCK and decision.order.decision is None
    assert decision.events[0].choice == "accept_later_date" and decision.events[0].decided_by == "maria"
    # the goods arrive: packed as usual
    arrived = step(decision.order, reserved())
    assert arrived.order.status == Status.PICKING


def test_switching_supplier_asks_procurement_for_the_next_one():
    decision = decide(late_supplier().order, "switch_supplier", by="petra", role="procurement", comment=None, now=NOW)
    assert decision.commands == [procurement.ResolveDelay(order_id=ORDER_ID, purchase_order_id="PO-1", choice="switch")]


def test_ship_partial_ships_what_is_here_and_accepts_the_date_for_the_rest():
    decision = decide(late_supplier().order, "ship_partial", by="maria", role="sales_manager", comment=None, now=NOW)
    assert decision.order.fulfilment_policy == FulfilmentPolicy.SHIP_PARTIAL
    assert types(decision) == [procurement.ResolveDelay.TYPE, warehouse.PickAndPack.TYPE]


def test_cancel_compensates():
    decision = decide(late_supplier().order, "cancel", by="maria", role="sales_manager", comment=None, now=NOW)
    assert decision.order.status == Status.CANCELLING
    assert [c.type for c in decision.order.compensations] == [procurement.CancelPurchase.TYPE,
                                                               warehouse.ReleaseReservation.TYPE,
                                                               finance.ReleaseCredit.TYPE]
    assert "cancelled by decision" in decision.order.status_reason


def test_only_the_owning_roles_and_offered_options():
    order = late_supplier().order
    with pytest.raises(Refused, match="for sales_manager, procurement, not logistics"):
        decide(order, "accept_later_date", by="leo", role="logistics", comment=None, now=NOW)
    with pytest.raises(Refused, match="not an option"):
        decide(order, "switch_carrier", by="maria", role="sales_manager", comment=None, now=NOW)
    with pytest.raises(Refused, match="no decision is needed"):
        decide(awaiting_stock(), "cancel", by="maria", role="sales_manager", comment=None, now=NOW)


def test_nobody_decides_reminder_then_the_default():
    order = late_supplier().order
    half = NOW + T.decision_timeout / 2
    assert next_check(order, T) == half
    reminded = tick(order, half, T)
    assert [e.TYPE for e in reminded.events] == [sales.SagaAlert.TYPE]
    assert any(a.startswith("decision_reminder:") for a in reminded.order.alerts)
    assert next_check(reminded.order, T) == NOW + T.decision_timeout
    default = tick(reminded.order, NOW + T.decision_timeout, T)
    assert default.commands == [procurement.ResolveDelay(order_id=ORDER_ID, purchase_order_id="PO-1", choice="accept")]
    assert default.events[0].decided_by == "default"
    assert default.order.decisions[-1] == "supplier_late: accept_later_date by default"


def test_goods_arriving_before_anyone_decides_make_the_decision_moot():
    decision = step(late_supplier().order, reserved())
    assert decision.order.decision is None
    assert decision.order.status == Status.PICKING
    assert any(isinstance(e, sales.DecisionTaken) and e.decided_by == "moot" for e in decision.events)


def test_a_repeated_delay_does_not_ask_twice_and_cancel_clears_the_decision():
    order = late_supplier().order
    assert react(order, delayed(), NOW, T) is None
    cancelled = request_cancel(order, "customer gave up", NOW)
    assert cancelled.order.decision is None and cancelled.order.status == Status.CANCELLING


# --- carriers -----------------------------------------------------------------------------------

def shipped():
    return drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced(), paid())


def late(collected: bool) -> logistics.ShipmentLate:
    return logistics.ShipmentLate(order_id=ORDER_ID, shipment_id="SHP-1", carrier="DHL", eta=dt.date(2031, 1, 10),
                                  collected=collected, reason="ETA passed without delivery")


def test_a_late_carrier_that_has_the_goods_asks_a_person():
    decision = step(shipped(), late(collected=True))
    assert decision.order.status == Status.DECISION_NEEDED
    assert decision.order.decision.options == ("accept_later_date", "cancel")
    assert decision.order.decision.owner_roles == ("sales_manager", "logistics")


def test_a_re_booking_by_logistics_is_learnt_without_asking():
    rebooked = logistics.ShipmentRebooked(order_id=ORDER_ID, shipment_id="SHP-1", previous_carrier="DHL",
                                          carrier="UPS", waybill="WB-2", tracking_number="TRK-2",
                                          eta=dt.date(2031, 1, 12), reason="not collected by its ETA")
    order = step(shipped(), rebooked).order
    assert (order.carrier, order.tracking_number) == ("UPS", "TRK-2")


def test_delivery_makes_the_late_carrier_decision_moot_and_completes():
    order = step(shipped(), late(collected=True)).order
    decision = step(order, delivered())
    assert decision.order.status == Status.COMPLETED and decision.order.decision is None


def test_accepting_a_late_carrier_waits_for_delivery_cancel_recalls():
    order = step(shipped(), late(collected=True)).order
    waiting = decide(order, "accept_later_date", by="leo", role="logistics", comment=None, now=NOW).order
    assert waiting.status == Status.SHIPPED
    cancelling = decide(order, "cancel", by="maria", role="sales_manager", comment=None, now=NOW).order
    assert cancelling.compensations[0].type == logistics.RecallShipments.TYPE


def test_no_carrier_switch_asks_every_carrier_again():
    order = step(drive(begin(), credit_approved(), reserved(), packed()), booking_failed()).order
    decision = decide(order, "switch_carrier", by="leo", role="logistics", comment=None, now=NOW)
    assert decision.order.status == Status.BOOKING
    assert types(decision) == [logistics.BookShipment.TYPE]
    assert step(decision.order, booked()).order.status == Status.DISPATCHING


def test_no_carrier_default_cancels():
    order = step(drive(begin(), credit_approved(), reserved(), packed()), booking_failed()).order
    decision = tick(order, NOW + T.decision_timeout, T)
    assert decision.order.status == Status.CANCELLING


def test_booking_failure_with_a_cancel_waiting_cancels():
    order = drive(begin(), credit_approved(), reserved(), packed())
    order = request_cancel(order, "customer gave up", NOW).order
    assert step(order, booking_failed()).order.status == Status.CANCELLING


# --- bug: alerts of abandoned or too-late cancellations are recorded -----------------------------

def test_an_abandoned_cancellation_is_recorded_as_an_alert():
    order = shipped()
    cancelling = request_cancel(order, "customer changed their mind", NOW).order
    decision = step(cancelling, logistics.RecallFailed(order_id=ORDER_ID, reason="already delivered: SHP-1"))
    assert any("cancellation abandoned, goods not recalled" in a for a in decision.order.alerts)
    assert [e.TYPE for e in decision.events][:1] == [sales.SagaAlert.TYPE]


def test_a_cancellation_requested_too_late_is_recorded_as_an_alert():
    order = drive(begin(), credit_approved(), reserved(), packed(), booked())
    order = step(order, dispatched()).order                      # invoicing in flight
    order = request_cancel(order, "too late", NOW).order
    order = step(order, delivered()).order
    decision = step(order, invoiced())
    assert decision.order.cancel_requested is None
    assert any("cancellation requested too late" in a for a in decision.order.alerts)
    assert sales.SagaAlert.TYPE in [e.TYPE for e in decision.events]


def test_prepaid_before_shipment_reservation_is_held_for_the_payment_window():
    order = begin(order_type=OrderType.PREPAID_BEFORE_SHIPMENT)
    decision = step(order, credit_approved())
    [reserve] = [c for c in decision.commands if isinstance(c, warehouse.ReserveStock)]
    assert reserve.hold_until == order.payment_due_at == NOW + T.payment_deadline


def test_compensation_done_still_finishes_a_cancel_by_decision():
    order = decide(late_supplier().order, "cancel", by="maria", role="sales_manager", comment=None, now=NOW).order
    for command_type in (procurement.CancelPurchase.TYPE, warehouse.ReleaseReservation.TYPE, finance.ReleaseCredit.TYPE):
        order = step(order, done(command_type), later(1)).order
    assert order.status == Status.CANCELLED
