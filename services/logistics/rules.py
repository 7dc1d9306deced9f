"""Logistics business rules, pure: which carrier gets a shipment, and whether a change of the
order can still be honoured given what is already with a carrier."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from contracts.common import ChangeProposal, PricedLine


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


# --- changes ----------------------------------------------------------------------------------

DISPATCHED = frozenset({"in_transit", "delivered"})
OPEN = frozenset({"requested", "booked"})


@dataclass(frozen=True)
class ShipmentView:
    """What a change review needs to know of one of the order's shipments."""

    shipment_id: str
    status: str
    carrier: str
    tracking_number: str | None = None
    dispatched_on: dt.date | None = None
    lines: dict[str, int] | None = None    # handed over per SKU; None: not known (then: everything)


def dispatched_note(shipment: ShipmentView) -> str:
    on = f" on {shipment.dispatched_on.isoformat()}" if shipment.dispatched_on else ""
    return f"already dispatched with {shipment.carrier} (tracking {shipment.tracking_number}){on}"


def remaining(previous_lines: list[PricedLine], shipments: list[ShipmentView]) -> dict[str, int]:
    """Per SKU, what of the order (before the change) has not been handed to a carrier."""
    left = {}
    for line in previous_lines:
        left[line.sku] = left.get(line.sku, 0) + line.quantity
    for s in shipments:
        if s.status not in DISPATCHED:
            continue
        if s.lines is None:
            return {}
        for sku, quantity in s.lines.items():
            left[sku] = left.get(sku, 0) - quantity
    return {sku: q for sku, q in left.items() if q > 0}


def review_change(proposal: ChangeProposal, shipments: list[ShipmentView]) -> str | None:
    """Why logistics refuses a change, or None to approve.

    A new address or delivery date cannot be honoured once anything is with a carrier. A change of
    quantities is refused only when every shipment is dispatched and nothing of the order is left
    to ship (a later shipment can still carry a change otherwise)."""
    live = [s for s in shipments if s.status in DISPATCHED | OPEN]
    dispatched = sorted((s for s in live if s.status in DISPATCHED),
                        key=lambda s: (s.dispatched_on or dt.date.max, s.shipment_id))
    if (proposal.address is not None or proposal.requested_delivery_date is not None) and dispatched:
        what = "address" if proposal.address is not None else "delivery date"
        if proposal.address is not None and proposal.requested_delivery_date is not None:
            what = "address and delivery date"
        return f"cannot change the {what}: {dispatched_note(dispatched[0])}"
    if proposal.quantity_deltas() and dispatched and len(dispatched) == len(live) \
            and not remaining(proposal.previous_lines, live):
        return f"cannot change quantities: the whole order is {dispatched_note(dispatched[-1])}"
    return None


def carrier_serves(carriers: list[Carrier], carrier_id: str, country: str) -> bool:
    return any(c.carrier_id == carrier_id and country in c.countries for c in carriers)
