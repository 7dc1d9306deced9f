"""The order saga while the customer is on credit hold: finance answers a credit check with
CreditCheckPending, the order waits (awaiting_credit) until finance approves or rejects it, is
cancelled when the wait lasts too long, and can be cancelled meanwhile (the waiting check is
withdrawn with ReleaseCredit)."""

from __future__ import annotations

import datetime as dt

import pytest

from contracts import finance, warehouse
from services.sales.saga import Refused, Status, next_check, react, request_cancel, request_change, tick
from tests.unit.test_order_saga_kit import (CUSTOMER, NOW, ORDER_ID, TOTAL, T, begin, credit_approved,
                                            credit_rejected, done, drive, invoiced, later, line, A, step, ticked, types)

HOLD = "customer CUST-ACME is on credit hold (125.00 overdue (INV-000007)): new orders wait for finance"


def pending() -> finance.CreditCheckPending:
    return finance.CreditCheckPending(order_id=ORDER_ID, customer_id=CUSTOMER, reason=HOLD)


def waiting():
    order = begin()
    assert order.status == Status.CREDIT_CHECK
    decision = step(order, pending())
    assert decision.order.status == Status.AWAITING_CREDIT and not decision.commands
    assert decision.order.credit_pending == HOLD and decision.order.awaiting is None
    assert "waiting for finance" in decision.note
    return decision.order


def test_a_pending_credit_check_waits_without_resending():
    order = waiting()
    assert tick(order, later(T.step_timeout.total_seconds() * 10), T) is None    # no re-sent CheckCredit
    assert next_check(order, T) == NOW + T.credit_wait


def test_approval_after_the_wait_goes_on_to_reserve_stock():
    decision = step(waiting(), credit_approved(), later(3600))
    assert decision.order.status == Status.RESERVING
    assert types(decision) == [warehouse.ReserveStock.TYPE]
    assert decision.order.credit_ok and decision.order.credit_pending is None and decision.order.credit_held


def test_a_rejection_while_waiting_rejects_with_finance_reason_and_nothing_to_undo():
    decision = step(waiting(), credit_rejected("rejected by finance: still unpaid"), later(60))
    assert decision.order.status == Status.REJECTED and not decision.commands
    assert "still unpaid" in decision.order.status_reason


def test_the_wait_has_a_deadline_after_which_the_order_is_cancelled_and_the_check_withdrawn():
    order = waiting()
    assert tick(order, NOW + T.credit_wait - dt.timedelta(seconds=1), T) is None
    decision = ticked(order, NOW + T.credit_wait)
    assert decision.order.status == Status.CANCELLING
    assert types(decision) == [finance.ReleaseCredit.TYPE]
    assert "credit hold was not lifted" in decision.order.status_reason
    after = step(decision.order, done(finance.ReleaseCredit.TYPE), NOW + T.credit_wait)
    assert after.order.status == Status.CANCELLED


def test_a_cancel_while_waiting_withdraws_the_check():
    decision = request_cancel(waiting(), "customer changed their mind", later(5))
    assert decision.order.status == Status.CANCELLING
    assert types(decision) == [finance.ReleaseCredit.TYPE]


def test_a_change_while_waiting_is_refused_with_the_reason():
    with pytest.raises(Refused, match="waits for finance"):
        request_change(waiting(), lines=(line(A, 1),), address=None, requested_delivery_date=None, now=later(5))


def test_a_late_pending_after_approval_does_not_make_the_order_wait():
    approved = step(begin(), credit_approved()).order
    assert approved.status == Status.RESERVING
    again = react(approved, pending(), later(1), T)
    assert again is None or (again.order.status == Status.RESERVING and again.order.credit_pending is None)


def test_an_invoice_for_a_dunning_charge_does_not_answer_the_invoicing_step():
    from tests.unit.test_order_saga_kit import booked, delivered, dispatched, packed, reserved
    order = drive(begin(), credit_approved(), reserved(), packed(), booked(), dispatched())
    assert order.status == Status.INVOICING
    charge = invoiced(number="INV-9", shipment_ref="charge:INV-0:1", amount=TOTAL)
    after = step(order, charge)
    assert after.order.awaiting is not None and after.order.status == Status.INVOICING
    done_ = step(after.order, invoiced())
    assert done_.order.awaiting is None
    assert step(done_.order, delivered()).order.status == Status.SHIPPED
