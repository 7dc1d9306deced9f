"""Warehouse allocation and packing (services/warehouse/rules.py)."""

from __future__ import annotations

import pytest

from contracts.common import StockLine
from services.warehouse.rules import MAX_PARCEL_KG, allocate, pack


def lines(*pairs) -> list[StockLine]:
    return [StockLine(sku=sku, quantity=qty) for sku, qty in pairs]


def reserved(result) -> list[tuple[str, int, int]]:
    return [(r.sku, r.requested, r.reserved) for r in result]


def test_full_allocation():
    result = allocate(lines(("A", 5), ("B", 2)), {"A": 10, "B": 2})
    assert reserved(result) == [("A", 5, 5), ("B", 2, 2)]
    assert all(r.shortfall == 0 for r in result)


def test_partial_allocation():
    [r] = allocate(lines(("A", 5)), {"A": 3})
    assert (r.reserved, r.shortfall) == (3, 2)


def test_zero_available():
    [r] = allocate(lines(("A", 5)), {"A": 0})
    assert (r.reserved, r.shortfall) == (0, 5)


def test_unknown_sku_reserves_nothing():
    assert reserved(allocate(lines(("X", 4)), {"A": 100})) == [("X", 4, 0)]


def test_negative_stock_reserves_nothing():
    assert reserved(allocate(lines(("A", 4)), {"A": -3})) == [("A", 4, 0)]


def test_never_allocates_more_than_available_across_lines_of_same_sku():
    result = allocate(lines(("A", 4), ("A", 4), ("A", 4)), {"A": 10})
    assert reserved(result) == [("A", 4, 4), ("A", 4, 4), ("A", 4, 2)]
    assert sum(r.reserved for r in result) == 10


def test_does_not_mutate_available():
    available = {"A": 3}
    allocate(lines(("A", 2)), available)
    assert available == {"A": 3}


def test_empty_order():
    assert allocate([], {"A": 1}) == []


@pytest.mark.parametrize("weights, parcels, total", [
    ([1.0, 2.5], 1, 3.5),
    ([MAX_PARCEL_KG], 1, 20.0),
    ([10.0, 10.001], 2, 20.001),
    ([15.0, 15.0, 15.0], 3, 45.0),
    ([0.1] * 200, 1, 20.0),        # float noise must not add a parcel
    ([], 1, 0.1),                  # nothing weighed: one minimal parcel (BookShipment needs weight > 0)
])
def test_pack_parcels_by_weight(weights, parcels, total):
    assert pack(weights) == (parcels, pytest.approx(total))
