"""Warehouse: what goods a carrier brought back do to a reservation line (services/warehouse/rules.py)."""

from __future__ import annotations

from services.warehouse.rules import Held, Return, apply_return


def test_whole_line_back_is_released():
    assert apply_return(Held(10, 0, 0, 10), "closed", 10) == Return(Held(10, 0, 0, 0), "released", 10)


def test_part_back_of_a_closed_line_reopens_it():
    # two shipments of 4 and 6; the 6 came back
    assert apply_return(Held(10, 0, 0, 10), "closed", 6) == Return(Held(10, 0, 0, 4), "open", 6)


def test_line_still_holding_stock_stays_open():
    # 4 shipped and returned, 6 still reserved on the shelf (the saga releases those separately)
    assert apply_return(Held(10, 6, 6, 4), "open", 4) == Return(Held(10, 6, 6, 0), "open", 4)


def test_reservation_released_before_the_goods_came_back_stays_released():
    assert apply_return(Held(10, 0, 0, 4), "released", 4) == Return(Held(10, 0, 0, 0), "released", 4)


def test_never_unships_more_than_was_shipped():
    outcome = apply_return(Held(5, 0, 0, 3), "open", 5)
    assert outcome == Return(Held(5, 0, 0, 0), "released", 3)


def test_quantities_stay_valid_for_the_check_constraints():
    for held, status, qty in [(Held(10, 0, 0, 10), "closed", 3), (Held(10, 2, 1, 8), "open", 8),
                              (Held(3, 0, 0, 3), "closed", 9)]:
        after = apply_return(held, status, qty).held
        assert 0 <= after.packed <= after.reserved and after.shipped >= 0
        assert after.reserved + after.shipped <= after.requested
