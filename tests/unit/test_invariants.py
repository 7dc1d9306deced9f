"""The cross-department invariants (services/cli/invariants.py `check`) on hand-made snapshots:
each inconsistency of issue 10 is reported, a consistent order is not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.cli.invariants import Snapshot, check

OID = "7f0c4b52-0000-4000-8000-000000000001"
D = Decimal


def completed_standard(**changes) -> Snapshot:
    """A standard order that shipped SHP-1, was invoiced INV-1 for 640.00 and paid in full."""
    snap = Snapshot(
        orders=[{"order_id": OID, "order_number": "SO-000001", "status": "completed", "status_reason": "done",
                 "order_type": "standard",
                 "saga": {"dispatched": ["SHP-1"], "delivered": ["SHP-1"], "invoices": ["INV-1"], "payments": 1}}],
        holds=[{"order_id": OID, "status": "invoiced", "amount": D("0.00")}],
        invoices=[{"invoice_number": "INV-1", "order_id": OID, "shipment_ref": "SHP-1", "amount": D("640.00")}],
        payments=[{"payment_ref": "PAY-1", "order_id": OID, "amount": D("640.00")}],
        money=[{"order_id": OID, "invoiced": D("640.00"), "credited": D("0"), "paid": D("640.00"),
                "refunded": D("0"), "outstanding": D("0")}],
        reservations=[{"order_id": OID, "sku": "SKU-A", "status": "closed", "quantity_requested": 4,
                       "quantity_reserved": 0, "quantity_shipped": 4}],
        dispatches=[{"shipment_id": "SHP-1", "order_id": OID}],
        shipments=[{"shipment_id": "SHP-1", "order_id": OID, "status": "delivered"}],
        stock=[{"sku": "SKU-A", "on_hand": 96, "reserved": 0, "ledger": 96, "open_reservations": 0}],
    )
    for name, value in changes.items():
        setattr(snap, name, value)
    return snap


def cancelled_prepaid(**changes) -> Snapshot:
    snap = Snapshot(
        orders=[{"order_id": OID, "order_number": "SO-000002", "status": "cancelled", "order_type": "prepaid_at_order",
                 "status_reason": "cancelled by the customer", "saga": {"payments": 0}}],
        holds=[{"order_id": OID, "status": "released", "amount": D("0.00")}],
        money=[{"order_id": OID, "invoiced": D("0"), "credited": D("0"), "paid": D("0"), "refunded": D("0"),
                "outstanding": D("0")}])
    for name, value in changes.items():
        setattr(snap, name, value)
    return snap


def problems(snap: Snapshot) -> str:
    report = check(snap)
    return "\n".join(report.failures + report.doubled)


def test_consistent_orders_pass():
    assert check(completed_standard()).ok
    assert check(cancelled_prepaid()).ok
    assert check(completed_standard()).statuses == {"completed": 1}


def test_a_completed_order_with_money_outstanding_fails():
    """Issue 10 #4: sales said completed, finance's ledger still shows 640.00 outstanding."""
    snap = completed_standard(payments=[], money=[{"order_id": OID, "invoiced": D("640.00"), "credited": D("0"),
                                                   "paid": D("0"), "refunded": D("0"), "outstanding": D("640.00")}])
    snap.orders[0]["saga"]["payments"] = 1          # a forged payment event the ledger never saw
    found = problems(snap)
    assert "not paid in finance's ledger" in found and "outstanding 640.00" in found
    assert "payments disagree: sales counted 1, finance recorded 0" in found


def test_a_cancelled_order_still_holding_credit_fails():
    """Issue 10 #1: a prepaid order cancelled during its credit check kept its hold."""
    assert "still holds credit" in problems(cancelled_prepaid(holds=[{"order_id": OID, "status": "held",
                                                                      "amount": D("0.00")}]))


def test_a_completed_sample_still_holding_credit_fails():
    snap = completed_standard(holds=[{"order_id": OID, "status": "held", "amount": D("0.00")}], invoices=[],
                              payments=[], money=[])
    snap.orders[0].update(order_type="sample", saga={"dispatched": ["SHP-1"], "invoices": [], "payments": 0})
    assert problems(snap).strip().endswith("still holds credit (0.00)")


def test_a_cancelled_order_keeping_stock_or_a_booking_fails():
    found = problems(cancelled_prepaid(
        reservations=[{"order_id": OID, "sku": "SKU-A", "status": "open", "quantity_requested": 4,
                       "quantity_reserved": 4, "quantity_shipped": 0}],
        shipments=[{"shipment_id": "SHP-9", "order_id": OID, "status": "booked"}]))
    assert "still reserves stock: 4x SKU-A" in found and "still has a carrier booking: SHP-9" in found


@pytest.mark.parametrize("change, expected", [
    ({"dispatches": []}, "shipments disagree"),
    ({"shipments": [{"shipment_id": "SHP-1", "order_id": OID, "status": "booked"}]}, "completed but not delivered"),
    ({"invoices": [{"invoice_number": "INV-2", "order_id": OID, "shipment_ref": "SHP-1", "amount": D("640.00")}]},
     "invoices disagree: sales ['INV-1'], finance ['INV-2']"),
])
def test_the_sagas_view_must_equal_each_departments(change, expected):
    assert expected in problems(completed_standard(**change))


def test_doubled_effects_are_reported():
    report = check(completed_standard(
        dispatches=[{"shipment_id": "SHP-1", "order_id": OID}, {"shipment_id": "SHP-1", "order_id": OID}]))
    assert report.doubled == ["shipment SHP-1 dispatched 2 times"] and not report.ok


def test_unbalanced_money_and_oversold_stock_fail():
    found = problems(completed_standard(
        money=[{"order_id": OID, "invoiced": D("640.00"), "credited": D("0"), "paid": D("700.00"),
                "refunded": D("0"), "outstanding": D("0")}],
        stock=[{"sku": "SKU-A", "on_hand": 3, "reserved": 5, "ledger": 4, "open_reservations": 5}]))
    assert "money does not balance" in found
    assert "on_hand 3 != movement ledger 4" in found and "oversold" in found


def test_whole_database_mode_finds_effects_of_orders_sales_does_not_know():
    snap = completed_standard(orders=[], whole_database=True)
    assert "sales does not know it" in problems(snap)
    assert check(completed_standard(orders=[], whole_database=False)).ok


def test_an_order_in_an_unexplained_state_fails():
    snap = cancelled_prepaid()
    snap.orders[0].update(status="reserving", status_reason=None)
    found = problems(snap)
    assert "not final and not in a state the saga explains" in found and "no reason given" in found
