"""Logistics business rules, pure: which carrier gets a shipment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Carrier:
    carrier_id: str
    countries: frozenset[str]
    base_cost: Decimal
    cost_per_kg: Decimal
    transit_days: int
    daily_capacity: int
    booked_today: int = 0

    def cost(self, weight_kg: float) -> Decimal:
        return (self.base_cost + self.cost_per_kg * Decimal(str(weight_kg))).quantize(Decimal("0.01"))


def choose_carrier(carriers: list[Carrier], *, country: str, weight_kg: float, today: dt.date,
                   deliver_by: dt.date | None, exclude: set[str] = frozenset()) -> Carrier | None:
    """Cheapest carrier that serves the country, has capacity today and arrives in time;
    if none arrives in time, the fastest one that serves the country (late beats never)."""
    serving = [c for c in carriers if country in c.countries and c.carrier_id not in exclude
               and c.booked_today < c.daily_capacity]
    if not serving:
        return None
    in_time = [c for c in serving if deliver_by is None or today + dt.timedelta(days=c.transit_days) <= deliver_by]
    if in_time:
        return min(in_time, key=lambda c: (c.cost(weight_kg), c.transit_days, c.carrier_id))
    return min(serving, key=lambda c: (c.transit_days, c.cost(weight_kg), c.carrier_id))
