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


def review_change(proposal: ChangeProposal, shipments: list[ShipmentView],
                  carriers: list[Carrier] | None = None) -> str | None:
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
    if proposal.address is not None and carriers is not None and not country_served(carriers, proposal.address.country):
        return f"no carrier serves {proposal.address.country}"
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


# --- review of an order before anything is reserved --------------------------------------------

@dataclass(frozen=True)
class Opinion:
    approved: bool
    reasons: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()


def review_order(carriers: list[Carrier], *, country: str, today: dt.date, deliver_by: dt.date | None,
                 joint: bool) -> Opinion:
    """Is the destination served (every order), and, in a joint review, by whom and by when?
    Not served -> rejected. A requested date no carrier can make, or no capacity left today, is a
    condition (the order ships late or tomorrow), not a rejection: people decide on it."""
    serving = [c for c in carriers if country in c.countries]
    if not serving:
        return Opinion(False, (f"no carrier serves {country}",))
    if not joint:
        return Opinion(True)
    conditions = []
    with_room = [c for c in serving if c.booked_today < c.daily_capacity]
    if not with_room:
        conditions.append(f"every carrier serving {country} is fully booked today")
    fastest = min(serving, key=lambda c: (c.transit_days, c.carrier_id))
    earliest = today + dt.timedelta(days=fastest.transit_days)
    if deliver_by is not None and earliest > deliver_by:
        conditions.append(f"earliest delivery {earliest.isoformat()} with {fastest.carrier_id}, "
                          f"after the requested {deliver_by.isoformat()}")
    return Opinion(True, conditions=tuple(conditions))


def country_served(carriers: list[Carrier], country: str) -> bool:
    return any(country in c.countries for c in carriers)


# --- late carriers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class InTransit:
    """What the late-carrier check needs to know of a shipment handed to its carrier."""

    shipment_id: str
    carrier: str
    eta: dt.date | None
    eta_at: dt.datetime | None
    dispatched_at: dt.datetime
    picked_up_at: dt.datetime | None
    last_scan_at: dt.datetime | None
    rebooked: bool


@dataclass(frozen=True)
class Lateness:
    cause: str             # eta_passed | tracking_silent
    collected: bool
    rebook: bool           # re-book with another carrier (not collected, not re-booked before)
    summary: str


def due_at(s: InTransit, grace: dt.timedelta) -> dt.datetime | None:
    """When the shipment is late: the carrier's promised time, else the end of its ETA day (UTC)."""
    if s.eta_at is not None:
        return s.eta_at + grace
    if s.eta is not None:
        return dt.datetime.combine(s.eta + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc) + grace
    return None


def lateness(s: InTransit, now: dt.datetime, *, grace: dt.timedelta, silence: dt.timedelta) -> Lateness | None:
    """Is a shipment with its carrier late? ETA passed without delivery, or no tracking scan for
    `silence`. Not yet collected: re-book with another carrier, once; collected: only an alert."""
    collected = s.picked_up_at is not None
    due = due_at(s, grace)
    rebook = not collected and not s.rebooked
    if due is not None and now >= due:
        what = f"{s.carrier} passed its ETA {due.isoformat(timespec='seconds')} without delivering {s.shipment_id}"
        return Lateness("eta_passed", collected, rebook, what + ("" if collected else " (never collected)"))
    last = s.last_scan_at or s.dispatched_at
    if now - last >= silence:
        what = f"no tracking from {s.carrier} for {s.shipment_id} since {last.isoformat(timespec='seconds')}"
        return Lateness("tracking_silent", collected, rebook, what)
    return None
