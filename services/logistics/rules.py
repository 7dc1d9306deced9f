"""Logistics business rules, pure: which carrier gets a shipment, whether a change of the order can
still be honoured given what is already with a carrier, and what a recall of the order's
shipments (compensation of a cancellation after dispatch) does."""

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

# With a carrier: handed over and not back. A `returning` shipment is still on the road (coming
# back); a `returned` one is back at the sender, so it is neither open nor dispatched nor delivered.
DISPATCHED = frozenset({"in_transit", "returning", "delivered"})
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
    delivered_on: dt.date | None = None


def dispatched_note(shipment: ShipmentView) -> str:
    if shipment.status == "returned":
        return f"returned by {shipment.carrier} (tracking {shipment.tracking_number})"
    on = f" on {shipment.dispatched_on.isoformat()}" if shipment.dispatched_on else ""
    note = f"already dispatched with {shipment.carrier} (tracking {shipment.tracking_number}){on}"
    return note + (", being returned" if shipment.status == "returning" else "")


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


# --- recall (compensation of a cancellation after dispatch) --------------------------------------

RECALL_COMMAND = "logistics.recall_shipments"


@dataclass(frozen=True)
class RecallPlan:
    """What a RecallShipments does now. At most one of `failed` / `done` is set:
    failed  -> RecallFailed(reason) and nothing else;
    recall  -> these in-transit shipments go `returning` (a CarrierReturnRequested each);
    done    -> CompensationDone(summary) at once (nothing is, or is any more, on the road).
    Neither failed nor done: the answer comes when the returning shipments are back."""

    failed: str | None = None
    recall: tuple[str, ...] = ()
    done: str | None = None


def _delivered_note(delivered: list[ShipmentView]) -> str:
    return "already delivered: " + ", ".join(
        s.shipment_id + (f" on {s.delivered_on.isoformat()}" if s.delivered_on else "")
        for s in sorted(delivered, key=lambda s: (s.delivered_on or dt.date.max, s.shipment_id)))


def plan_recall(shipments: list[ShipmentView]) -> RecallPlan:
    """Bring back every shipment of the order that is in transit; refused once any is delivered.
    Idempotent: shipments already `returning` are not asked for again (their return answers), and
    once all are `returned` a repeat answers `done` again."""
    delivered = [s for s in shipments if s.status == "delivered"]
    if delivered:
        return RecallPlan(failed=_delivered_note(delivered))
    in_transit = tuple(sorted(s.shipment_id for s in shipments if s.status == "in_transit"))
    if in_transit:
        return RecallPlan(recall=in_transit)
    if any(s.status == "returning" for s in shipments):
        return RecallPlan()
    return RecallPlan(done=recall_summary(shipments))


def recall_summary(shipments: list[ShipmentView]) -> str:
    returned = sorted(s.shipment_id for s in shipments if s.status == "returned")
    return f"returned: {', '.join(returned)}" if returned else "nothing in transit"


def recall_finished(shipments: list[ShipmentView]) -> str | None:
    """After a shipment came back: the CompensationDone summary when the recall is complete (nothing
    `returning` any more and nothing that could not be brought back), else None. A shipment that was
    delivered or stayed in transit (the carrier refused) already answered with RecallFailed."""
    if any(s.status in ("returning", "in_transit", "delivered") for s in shipments):
        return None
    return recall_summary(shipments)
