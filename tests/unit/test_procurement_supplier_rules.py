"""Procurement: promises in time, failure reasons, cancellation split (services/procurement/rules.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.procurement.rules import (
    CancelSplit, OpenPO, SupplierOption, choose_supplier, failure_reason, in_time, receipt_split, split_cancel,
    too_late_reason,
)

D = dt.date(2030, 5, 10)


def test_choice_excludes_tried_suppliers_in_rank_order():
    options = [SupplierOption("B", 2, 1), SupplierOption("A", 1, 9), SupplierOption("C", 3, 1)]
    tried: set[str] = set()
    order = []
    while (choice := choose_supplier(options, exclude=tried)) is not None:
        order.append(choice.supplier_id)
        tried.add(choice.supplier_id)
    assert order == ["A", "B", "C"]


@pytest.mark.parametrize("promised, needed, ok", [
    (D, None, True), (D, D, True), (D, D + dt.timedelta(days=1), True), (D + dt.timedelta(days=1), D, False)])
def test_in_time(promised, needed, ok):
    assert in_time(promised, needed) is ok


def test_too_late_reason():
    assert too_late_reason(dt.date(2030, 5, 12), D) == "promised 2030-05-12, needed by 2030-05-10"


def test_failure_reason_names_what_each_supplier_said():
    assert failure_reason("SKU-X", D, [("SUP-A", "rejected: no stock"), ("SUP-B", "no confirmation within 2s")]) == \
        "no supplier can deliver SKU-X by 2030-05-10: SUP-A: rejected: no stock; SUP-B: no confirmation within 2s"
    assert failure_reason("SKU-X", None, []) == "no supplier can deliver SKU-X at all: no supplier sells it"


def test_cancel_everything():
    pos = [OpenPO("P1", confirmed=True, for_order=5), OpenPO("P2", confirmed=False, for_order=3)]
    assert split_cancel(pos, None) == [CancelSplit("P2", 3, 0), CancelSplit("P1", 0, 5)]


def test_partial_cut_takes_unconfirmed_first():
    pos = [OpenPO("P1", confirmed=True, for_order=5), OpenPO("P2", confirmed=False, for_order=3)]
    assert split_cancel(pos, 4) == [CancelSplit("P2", 3, 0), CancelSplit("P1", 0, 1)]
    assert split_cancel(pos, 2) == [CancelSplit("P2", 2, 0)]


def test_confirmed_cut_newest_first():
    pos = [OpenPO("OLD", True, 5), OpenPO("NEW", True, 5)]
    assert split_cancel(pos, 7) == [CancelSplit("NEW", 0, 5), CancelSplit("OLD", 0, 2)]


def test_cut_more_than_there_is_takes_all():
    assert split_cancel([OpenPO("P", False, 3)], 10) == [CancelSplit("P", 3, 0)]


def test_nothing_to_cancel():
    assert split_cancel([], None) == []
    assert split_cancel([OpenPO("P", True, 0)], None) == []


def test_split_totals():
    assert CancelSplit("P", 2, 3).total == 5


@pytest.mark.parametrize("delivered, for_order, has_order, split", [
    (10, 10, True, (10, 0)),
    (10, 6, True, (6, 4)),     # 4 were kept as stock
    (10, 0, False, (0, 10)),   # replenishment, abandoned or fully kept as stock
    (4, 6, True, (4, 0)),      # short delivery: all of it is the order's
])
def test_receipt_split(delivered, for_order, has_order, split):
    assert receipt_split(delivered, for_order, has_order) == split
