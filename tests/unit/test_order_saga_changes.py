"""The order saga v2: customer changes (review by warehouse, logistics and finance, then apply)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contracts import finance, logistics, procurement, sales, warehouse
from contracts.common import OrderType, PaymentMethod, PricedLine
from services.sales.saga import Refused, Status, approve, next_check, react, request_cancel, request_change, start
from tests.unit.test_order_saga_kit import (A, ADDRESS, B, CUSTOMER, DELIVER_BY, NEW_ADDRESS, NOW, ORDER_ID, T, TOTAL,
                                            begin, booked, credit_approved, credit_rejected, delivered, dispatched,
                                            drive, invoiced, line, make_order, of, only, packed, paid,
                                            purchase_failed, quantities, released, reserved, reviewed, step, stock,
                                            types)

NEW_DATE = dt.date(2031, 1, 20)


def awaiting_stock():
    """standard, ship_complete, SKU-A 4 of 10 reserved and 6 being bought, SKU-B 2 of 2 reserved."""
    order = drive(begin(), credit_approved(), reserved(a=4))
    assert order.status == Status.AWAITING_STOCK and order.purchasing == {A: 6}
    return order


def propose(order, lines=None, address=None, date=None):
    return request_change(order, lines=lines, address=address, requested_delivery_date=date, now=NOW)


def approve_all(pending):
    """Every department approves the pending change (`pending`: the order or the decision that proposed it);
    returns the decision on the last review."""
    order = getattr(pending, "order", pending)
    change_id = order.change.proposal.change_id
    order = drive(order, reviewed("warehouse", change_id), reviewed("logistics", change_id))
    return step(order, reviewed("finance", change_id))


# --- review ------------------------------------------------------------------------------------

def test_a_change_is_sent_to_warehouse_logistics_and_finance_for_review():
    order = awaiting_stock()
    decision = propose(order, lines=(line(A, 10), line(B, 3)))
    assert decision.order.status == Status.CHANGING
    assert [type(c) for c in decision.commands] == [warehouse.ReviewChange, logistics.ReviewChange,
                                                   finance.ReviewChange]
    proposal = decision.commands[0].proposal
    assert all(c.proposal == proposal for c in decision.commands)
    assert proposal.order_id == ORDER_ID and proposal.revision == 2
    assert quantities(proposal.lines) == {A: 10, B: 3} and quantities(proposal.previous_lines) == {A: 10, B: 2}
    assert (proposal.previous_total, proposal.new_total) == (TOTAL, Decimal("325.00"))
    assert proposal.address is None and proposal.requested_delivery_date is None
    assert decision.commands[2].customer_id == CUSTOMER and decision.commands[2].order_type == OrderType.STANDARD
    assert decision.order.change.resume == Status.AWAITING_STOCK
    assert decision.order.lines == order.lines and decision.order.revision == 1     # nothing applied yet


def test_two_approvals_are_not_enough():
    decision = propose(awaiting_stock(), lines=(line(A, 10), line(B, 3)))
    change_id = decision.order.change.proposal.change_id
    order = drive(decision.order, reviewed("warehouse", change_id))
    decision = step(order, reviewed("finance", change_id))
    assert decision.commands == [] and decision.events == []
    assert decision.order.status == Status.CHANGING


def test_a_review_of_another_change_is_ignored():
    decision = propose(awaiting_stock(), lines=(line(A, 10), line(B, 3)))
    assert react(decision.order, reviewed("warehouse", "some-other-change"), NOW, T) is None


def test_a_review_when_no_change_is_pending_is_ignored():
    assert react(awaiting_stock(), reviewed("warehouse", "some-change"), NOW, T) is None


# --- applied -----------------------------------------------------------------------------------

def test_an_approved_increase_adjusts_reservation_and_credit_and_announces_the_change():
    proposed = propose(awaiting_stock(), lines=(line(A, 10), line(B, 3)))
    change_id = proposed.order.change.proposal.change_id
    decision = approve_all(proposed)
    assert decision.commands == [
        warehouse.AdjustReservation(order_id=ORDER_ID, change_id=change_id, lines=stock(a=10, b=3)),
        finance.AdjustCredit(order_id=ORDER_ID, change_id=change_id, new_total=Decimal("325.00"))]
    assert decision.events == [sales.OrderChanged(order_id=ORDER_ID, change_id=change_id, revision=2,
                                                  lines=[line(A, 10), line(B, 3)], total=Decimal("325.00"))]
    assert decision.order.status == Status.AWAITING_STOCK
    assert decision.order.revision == 2 and decision.order.change is None
    assert decision.order.lines == (line(A, 10), line(B, 3)) and decision.order.total == Decimal("325.00")


def test_after_an_increase_the_next_picture_buys_only_the_extra():
    order = approve_all(propose(awaiting_stock(), lines=(line(A, 13), line(B, 3)))).order
    # The warehouse topped SKU-B up from the shelf; SKU-A is still 4 of (now) 13.
    decision = step(order, reserved(a=4, b=3, want_a=13, want_b=3))
    assert decision.commands == [procurement.PurchaseShortfall(order_id=ORDER_ID, sku=A, quantity=3,
                                                               needed_by=DELIVER_BY)]
    assert decision.order.purchasing == {A: 9}
    assert decision.order.status == Status.AWAITING_STOCK


def test_after_an_increase_an_unchanged_picture_still_buys_the_extra():
    order = approve_all(propose(awaiting_stock(), lines=(line(A, 13), line(B, 3)))).order
    decision = react(order, reserved(a=4, b=2, want_a=13, want_b=3), NOW, T)
    assert decision is not None
    assert sorted((c.sku, c.quantity) for c in of(decision, procurement.PurchaseShortfall)) == [(A, 3), (B, 1)]
    assert decision.order.purchasing == {A: 9, B: 1}


def test_a_cut_of_a_sku_being_bought_cancels_only_the_surplus():
    decision = approve_all(propose(awaiting_stock(), lines=(line(A, 8), line(B, 2))))
    change_id = decision.events[0].change_id
    assert types(decision) == [warehouse.AdjustReservation.TYPE, procurement.CancelPurchase.TYPE,
                               finance.AdjustCredit.TYPE]
    cancel = only_of(decision, procurement.CancelPurchase)
    assert (cancel.order_id, cancel.sku, cancel.quantity) == (ORDER_ID, A, 2)    # 8 wanted, 4 reserved, 4 still bought
    assert only_of(decision, finance.AdjustCredit).new_total == Decimal("220.00")
    assert quantities(only_of(decision, warehouse.AdjustReservation).lines) == {A: 8, B: 2}
    assert decision.order.purchasing == {A: 4}
    assert change_id in cancel.reason or change_id[:8] in cancel.reason


def test_a_cut_below_what_is_reserved_cancels_the_whole_purchase():
    decision = approve_all(propose(awaiting_stock(), lines=(line(A, 3), line(B, 2))))
    cancel = only_of(decision, procurement.CancelPurchase)
    assert (cancel.sku, cancel.quantity) == (A, 6)
    assert decision.order.purchasing == {}


def test_an_address_and_date_change_updates_the_delivery_only():
    order = awaiting_stock()
    decision = approve_all(propose(order, address=NEW_ADDRESS, date=NEW_DATE))
    change_id = decision.events[0].change_id
    assert decision.commands == [logistics.UpdateDelivery(order_id=ORDER_ID, change_id=change_id,
                                                          address=NEW_ADDRESS, requested_delivery_date=NEW_DATE)]
    assert decision.order.address == NEW_ADDRESS and decision.order.requested_delivery_date == NEW_DATE
    assert decision.order.revision == 2 and decision.order.status == Status.AWAITING_STOCK
    assert [type(e) for e in decision.events] == [sales.OrderChanged]


def test_a_changed_address_is_used_for_the_booking():
    order = approve_all(propose(awaiting_stock(), address=NEW_ADDRESS, date=NEW_DATE)).order
    order = drive(order, reserved())
    command = only(step(order, packed()), logistics.BookShipment)
    assert command.address == NEW_ADDRESS and command.requested_delivery_date == NEW_DATE


def test_a_same_total_swap_does_not_adjust_credit():
    order = awaiting_stock()
    lines = (line(A, 10), line(B, 1), PricedLine(sku="SKU-C", quantity=1, unit_price=Decimal("100.00")))
    decision = approve_all(propose(order, lines=lines))
    assert not of(decision, finance.AdjustCredit)
    assert quantities(only_of(decision, warehouse.AdjustReservation).lines) == {A: 10, B: 1, "SKU-C": 1}


def test_a_change_of_a_sample_awaiting_approval_applies_to_the_credit_check():
    order = start(make_order(order_type=OrderType.SAMPLE,
                             lines=(PricedLine(sku=A, quantity=1, unit_price=Decimal("0.00")),)), NOW, T).order
    lines = (PricedLine(sku=A, quantity=2, unit_price=Decimal("0.00")),)
    decision = approve_all(propose(order, lines=lines))
    assert decision.commands == []                        # nothing reserved, no credit held
    assert decision.order.status == Status.AWAITING_APPROVAL
    command = only(approve(decision.order, "manager@acme", NOW), finance.CheckCredit)
    assert quantities(command.lines) == {A: 2}


def test_facts_learnt_while_changing_are_kept():
    decision = propose(awaiting_stock(), lines=(line(A, 10), line(B, 3)))
    learnt = step(decision.order, reserved(a=6))
    assert learnt.commands == [] and learnt.order.status == Status.CHANGING
    assert learnt.order.secured == {A: 6, B: 2}


# --- refused -----------------------------------------------------------------------------------

def test_one_refusal_refuses_the_change_with_the_department_reason():
    order = awaiting_stock()
    decision = propose(order, lines=(line(A, 10), line(B, 30)))
    change_id = decision.order.change.proposal.change_id
    refused = drive(decision.order, reviewed("warehouse", change_id),
                    reviewed("finance", change_id, approved=False, reason="credit limit exceeded"))
    decision = step(refused, reviewed("logistics", change_id))
    assert decision.commands == []
    assert decision.events == [sales.OrderChangeRefused(order_id=ORDER_ID, change_id=change_id,
                                                        reasons=["finance: credit limit exceeded"])]
    assert decision.order.lines == order.lines and decision.order.revision == 1
    assert decision.order.status == Status.AWAITING_STOCK and decision.order.change is None


def test_every_refusal_reason_is_reported():
    decision = propose(awaiting_stock(), address=NEW_ADDRESS)
    change_id = decision.order.change.proposal.change_id
    order = drive(decision.order, reviewed("warehouse", change_id, approved=False, reason="already packed"),
                  reviewed("logistics", change_id, approved=False, reason="no carrier to FR"))
    decision = step(order, reviewed("finance", change_id))
    [event] = decision.events
    assert event.reasons == ["warehouse: already packed", "logistics: no carrier to FR"]
    assert decision.order.address == ADDRESS


def test_stock_that_arrived_during_a_refused_change_is_packed():
    decision = propose(awaiting_stock(), address=NEW_ADDRESS)
    change_id = decision.order.change.proposal.change_id
    order = drive(decision.order, reserved(a=10))         # the bought goods arrive during the review
    order = drive(order, reviewed("warehouse", change_id), reviewed("logistics", change_id))
    decision = step(order, reviewed("finance", change_id, approved=False, reason="no"))
    assert warehouse.PickAndPack.TYPE in types(decision)


def test_the_warehouse_release_after_an_approved_cut_buys_nothing():
    order = approve_all(propose(awaiting_stock(), lines=(line(A, 10), line(B, 1)))).order
    assert order.secured == {A: 4, B: 1}
    # The warehouse's answer to AdjustReservation for a cut: ReservationReleased, then its picture.
    decision = react(order, released(stock(b=1), reason="change x"), NOW, T)
    assert decision is None or not of(decision, procurement.PurchaseShortfall)
    after = decision.order if decision else order
    decision = react(after, reserved(a=4, b=1, want_b=1), NOW, T)
    assert decision is None or not of(decision, procurement.PurchaseShortfall)


def test_an_increase_after_the_bought_goods_arrived_buys_the_extra():
    order = drive(begin(), credit_approved(), reserved(a=4, b=0))          # buys 6x A and 2x B
    assert order.purchasing == {A: 6, B: 2}
    order = step(order, reserved(a=10, b=0)).order                        # the 6x A arrived, B still awaited
    assert order.status == Status.AWAITING_STOCK
    decision = approve_all(propose(order, lines=(line(A, 12), line(B, 2))))
    assert not of(decision, procurement.CancelPurchase)
    decision = step(decision.order, reserved(a=10, b=0, want_a=12))
    assert [(c.sku, c.quantity) for c in of(decision, procurement.PurchaseShortfall)] == [(A, 2)]


# --- refused outright ----------------------------------------------------------------------------

@pytest.mark.parametrize("at", ["credit_check", "reserving", "picking", "booking", "dispatching", "invoicing"])
def test_a_change_while_a_step_is_in_flight_is_refused(at):
    path = [credit_approved(), reserved(), packed(), booked(), dispatched()]
    order = begin()
    for message in path:
        if order.status.value == at:
            break
        order = step(order, message).order
    assert order.status.value == at
    with pytest.raises(Refused, match="in flight"):
        propose(order, lines=(line(A, 10), line(B, 3)))


def test_a_second_change_while_one_is_reviewed_is_refused():
    order = propose(awaiting_stock(), address=NEW_ADDRESS).order
    with pytest.raises(Refused):
        propose(order, date=NEW_DATE)


def test_a_change_of_a_final_order_is_refused():
    completed = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched(), invoiced(),
                      delivered(), paid())
    rejected = step(begin(), credit_rejected()).order
    cancelled = request_cancel(start(make_order(order_type=OrderType.SAMPLE), NOW, T).order, "no", NOW).order
    for order in (completed, rejected, cancelled):
        assert order.status.final
        with pytest.raises(Refused):
            propose(order, address=NEW_ADDRESS)


def test_a_change_while_cancelling_is_refused():
    order = step(awaiting_stock(), purchase_failed()).order
    with pytest.raises(Refused):
        propose(order, address=NEW_ADDRESS)


def test_a_change_that_changes_nothing_is_refused():
    order = awaiting_stock()
    with pytest.raises(Refused):
        propose(order, lines=order.lines)


def prepaid_awaiting_payment():
    return drive(begin(order_type=OrderType.PREPAID_AT_ORDER, payment_method=PaymentMethod.CARD), credit_approved())


def test_a_prepaid_order_amount_cannot_change_after_the_prepayment_invoice():
    order = prepaid_awaiting_payment()
    assert order.prepayment_invoiced
    with pytest.raises(Refused, match="prepayment"):
        propose(order, lines=(line(A, 10), line(B, 3)))


def test_a_prepaid_order_may_still_change_its_address():
    decision = approve_all(propose(prepaid_awaiting_payment(), address=NEW_ADDRESS))
    assert types(decision) == [logistics.UpdateDelivery.TYPE]
    assert decision.order.status == Status.AWAITING_PAYMENT


def test_a_cancel_during_an_approved_change_applies_the_change_then_compensates():
    decision = propose(awaiting_stock(), lines=(line(A, 8), line(B, 2)))
    order = request_cancel(decision.order, "customer changed their mind", NOW).order
    decision = approve_all(order)
    assert [type(e) for e in decision.events] == [sales.OrderChanged]
    assert decision.order.status == Status.CANCELLING
    assert types(decision)[:3] == [warehouse.AdjustReservation.TYPE, procurement.CancelPurchase.TYPE,
                                   finance.AdjustCredit.TYPE]
    assert types(decision)[3:] == [decision.order.compensations[0].type]


def only_of(decision, cls):
    [command] = of(decision, cls)
    return command


def test_a_review_that_never_comes_has_a_deadline():
    decision = propose(awaiting_stock(), address=NEW_ADDRESS)
    change_id = decision.order.change.proposal.change_id
    order = drive(decision.order, reviewed("warehouse", change_id), reviewed("finance", change_id))
    assert next_check(order, T) is not None
