"""Dunning and credit hold rules (services/finance/dunning.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.finance import dunning as d

DUE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
LEVELS = d.check_levels([d.DunningLevel(name="reminder", after_seconds=10),
                         d.DunningLevel(name="second reminder", after_seconds=20, fee=Decimal("5.00")),
                         d.DunningLevel(name="final notice", after_seconds=365 * 86400, fee=Decimal("10.00"),
                                        interest_rate_pct=Decimal("8"))])


def at(seconds: float) -> dt.datetime:
    return DUE + dt.timedelta(seconds=seconds)


def test_levels_are_reached_one_at_a_time():
    assert d.next_reminder(LEVELS, due_at=DUE, now=at(9), last_level=0, outstanding=Decimal("100")) is None
    first = d.next_reminder(LEVELS, due_at=DUE, now=at(25), last_level=0, outstanding=Decimal("100"))
    assert (first.level, first.name, first.charge) == (1, "reminder", Decimal("0.00"))
    second = d.next_reminder(LEVELS, due_at=DUE, now=at(25), last_level=1, outstanding=Decimal("100"))
    assert (second.level, second.fee, second.interest) == (2, Decimal("5.00"), Decimal("0.00"))
    assert d.next_reminder(LEVELS, due_at=DUE, now=at(25), last_level=2, outstanding=Decimal("100")) is None


def test_the_final_notice_charges_fee_and_a_year_of_interest():
    final = d.next_reminder(LEVELS, due_at=DUE, now=at(365 * 86400), last_level=2, outstanding=Decimal("250.00"))
    assert (final.fee, final.interest, final.charge) == (Decimal("10.00"), Decimal("20.00"), Decimal("30.00"))
    assert d.next_reminder(LEVELS, due_at=DUE, now=at(400 * 86400), last_level=3, outstanding=Decimal("1")) is None


def test_nothing_owed_no_reminder():
    assert d.next_reminder(LEVELS, due_at=DUE, now=at(100), last_level=0, outstanding=Decimal("0")) is None


def test_levels_must_increase():
    with pytest.raises(ValueError, match="strictly increasing"):
        d.check_levels([d.DunningLevel(name="a", after_seconds=5), d.DunningLevel(name="b", after_seconds=5)])


def test_hold_needs_an_invoice_past_the_threshold_and_enough_overdue():
    overdue = [d.Overdue("INV-000002", Decimal("80.00"), DUE), d.Overdue("INV-000003", Decimal("5.00"), at(50))]
    assert d.hold_reason(overdue, now=at(30), threshold_seconds=30, min_amount=Decimal("0.01")) is None
    reason = d.hold_reason(overdue, now=at(31), threshold_seconds=30, min_amount=Decimal("0.01"))
    assert reason.startswith("80.00 overdue (INV-000002;")
    assert d.hold_reason(overdue, now=at(31), threshold_seconds=30, min_amount=Decimal("100")) is None


def test_policy_per_customer_over_the_default():
    assert d.policy_for(None, "wait") == "wait" and d.policy_for("reject", "wait") == "reject"
    with pytest.raises(ValueError):
        d.policy_for("maybe", "wait")
    assert "rejected until it is paid" in d.held_back_reason("CUST-X", "10.00 overdue", "reject")
