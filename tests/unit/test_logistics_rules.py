"""Carrier selection (services/logistics/rules.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from services.logistics.rules import Carrier, choose_carrier

TODAY = dt.date(2030, 6, 3)


def carrier(cid, *, base="5.00", per_kg="1.00", days=2, countries=("DE",), capacity=10, booked=0) -> Carrier:
    return Carrier(carrier_id=cid, countries=frozenset(countries), base_cost=Decimal(base),
                   cost_per_kg=Decimal(per_kg), transit_days=days, daily_capacity=capacity, booked_today=booked)


CHEAP_SLOW = carrier("cheap", base="3.00", per_kg="0.50", days=5)
PRICEY_FAST = carrier("fast", base="15.00", per_kg="2.00", days=1)
MID = carrier("mid", base="6.00", per_kg="1.00", days=3)
ALL = [PRICEY_FAST, CHEAP_SLOW, MID]


def choose(carriers=ALL, *, country="DE", weight=10.0, deliver_by=None, exclude=frozenset()):
    return choose_carrier(carriers, country=country, weight_kg=weight, today=TODAY, deliver_by=deliver_by,
                          exclude=set(exclude))


def test_cost():
    assert CHEAP_SLOW.cost(10.0) == Decimal("8.00")
    assert carrier("x", base="1.00", per_kg="0.333").cost(3.0) == Decimal("2.00")


def test_cheapest_when_no_deadline():
    assert choose() == CHEAP_SLOW


def test_cheapest_that_arrives_in_time():
    assert choose(deliver_by=TODAY + dt.timedelta(days=3)) == MID
    assert choose(deliver_by=TODAY + dt.timedelta(days=5)) == CHEAP_SLOW   # arriving on the day is in time


def test_country_filter():
    nl_only = carrier("nl", base="0.00", per_kg="0.00", countries=("NL",))
    assert choose([*ALL, nl_only]) == CHEAP_SLOW
    assert choose([*ALL, nl_only], country="NL") == nl_only


def test_full_carrier_skipped():
    full = carrier("full", base="0.00", per_kg="0.00", capacity=5, booked=5)
    assert choose([*ALL, full]) == CHEAP_SLOW
    one_left = carrier("one_left", base="0.00", per_kg="0.00", capacity=5, booked=4)
    assert choose([*ALL, one_left]) == one_left


def test_excludes_carriers_that_refused():
    assert choose(exclude={"cheap"}) == MID
    assert choose(exclude={"cheap", "mid"}) == PRICEY_FAST


def test_fallback_to_fastest_when_none_in_time():
    assert choose(deliver_by=TODAY) == PRICEY_FAST
    assert choose(deliver_by=TODAY, exclude={"fast"}) == MID


def test_fallback_respects_country_capacity_and_exclusions():
    full_fast = carrier("zoom", days=0, capacity=1, booked=1)
    assert choose([*ALL, full_fast], deliver_by=TODAY - dt.timedelta(days=1)) == PRICEY_FAST


def test_none_when_no_carrier_serves():
    assert choose(country="JP") is None
    assert choose(exclude={"cheap", "mid", "fast"}) is None
    assert choose([]) is None
    assert choose([carrier("full", capacity=0)]) is None


def test_tie_on_cost_prefers_faster_then_id():
    a = carrier("a", days=3)
    b = carrier("b", days=2)
    c = carrier("c", days=2)
    assert choose([a, c, b]) == b
