"""Warehouse reservation-line rules: packing what is reserved, changes, stock warnings (services/warehouse/rules.py)."""

from __future__ import annotations

import pytest

from contracts.common import StockLine
from services.warehouse.rules import (
    Adjustment, ChangeRefused, Held, change_refusal, is_low, merge_lines, plan_adjustment, should_warn, status_of,
    to_pack, top_up,
)


def test_held_quantities():
    h = Held(requested=10, reserved=6, packed=2, shipped=3)
    assert (h.secured, h.missing, h.to_pack, h.committed) == (9, 1, 4, 5)


def test_missing_never_negative():
    assert Held(requested=2, reserved=0, shipped=2).missing == 0


def test_merge_lines_sums_repeated_skus_in_sku_order():
    lines = [StockLine(sku="B", quantity=1), StockLine(sku="A", quantity=2), StockLine(sku="B", quantity=3)]
    assert list(merge_lines(lines).items()) == [("A", 2), ("B", 4)]


def test_to_pack_takes_reserved_not_yet_packed():
    lines = {"A": Held(10, reserved=6, packed=2), "B": Held(3, reserved=3, packed=3), "C": Held(5)}
    assert to_pack(lines) == {"A": 4}


def test_to_pack_nothing_when_all_packed_or_nothing_reserved():
    assert to_pack({"A": Held(4, reserved=4, packed=4), "B": Held(2)}) == {}


@pytest.mark.parametrize("held, free, take", [
    (Held(10, reserved=4), 100, 6),       # tops up to the request
    (Held(10, reserved=4), 2, 2),         # as much as is free
    (Held(10, reserved=4), 0, 0),
    (Held(10, reserved=4), -3, 0),        # never negative
    (Held(10, reserved=2, shipped=8), 5, 0),   # shipped counts as secured
])
def test_top_up(held, free, take):
    assert top_up(held, free) == take


def test_change_below_packed_or_shipped_is_refused():
    current = {"SKU-X": Held(6, reserved=4, packed=3, shipped=1), "SKU-Y": Held(2, reserved=2)}
    assert change_refusal(current, {"SKU-X": 2, "SKU-Y": 0}) == \
        "SKU-X: 4 already packed or shipped, cannot go to 2"


def test_change_to_exactly_packed_plus_shipped_is_allowed():
    assert change_refusal({"A": Held(6, reserved=4, packed=3, shipped=1)}, {"A": 4}) is None


def test_missing_sku_in_change_means_zero():
    assert change_refusal({"A": Held(5, reserved=5, packed=1)}, {}) == "A: 1 already packed or shipped, cannot go to 0"
    assert change_refusal({"A": Held(5, reserved=5)}, {}) is None


def test_new_skus_in_a_change_are_fine():
    assert change_refusal({}, {"NEW": 5}) is None


def test_plan_cut_releases_unpacked_only():
    held = Held(10, reserved=8, packed=3, shipped=2)   # secured 10
    assert plan_adjustment("A", held, 6, free=100) == Adjustment("A", 6, release=4)


def test_plan_cut_below_what_was_never_secured_releases_nothing():
    held = Held(10, reserved=3)    # 7 short
    assert plan_adjustment("A", held, 5, free=0) == Adjustment("A", 5, release=0)


def test_plan_increase_reserves_extra_from_free_stock():
    assert plan_adjustment("A", Held(5, reserved=5), 9, free=100) == Adjustment("A", 9, reserve=4)
    assert plan_adjustment("A", Held(5, reserved=5), 9, free=1) == Adjustment("A", 9, reserve=1)


def test_plan_refuses_below_committed():
    with pytest.raises(ChangeRefused, match="A: 5 already packed or shipped, cannot go to 4"):
        plan_adjustment("A", Held(8, reserved=3, packed=3, shipped=2), 4, free=0)


def test_plan_for_new_line():
    assert plan_adjustment("N", Held(0), 3, free=2) == Adjustment("N", 3, reserve=2)


@pytest.mark.parametrize("available, point, pending, warn", [
    (5, 10, False, True),
    (10, 10, False, False),    # at the point is not below it
    (5, 10, True, False),      # a replenishment is already on its way
    (-1, 0, False, False),     # no reorder point: never warns
])
def test_stock_warning(available, point, pending, warn):
    assert should_warn(available, point, pending) is warn
    assert is_low(available, point) is (available < point and point > 0)


def test_status():
    assert status_of(Held(5, reserved=5)) == "open"
    assert status_of(Held(5, reserved=0, shipped=5)) == "closed"
    assert status_of(Held(5, reserved=2, shipped=3)) == "open"
    assert status_of(Held(0)) == "closed"          # a line changed to 0 with nothing shipped
    assert status_of(Held(5, reserved=5), released=True) == "released"
