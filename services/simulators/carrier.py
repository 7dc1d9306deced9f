"""Carrier simulator: confirms bookings with a waybill and tracking number, then reports
pickup, transit and delivery. ORDERFLOW_SIM_CARRIER_DELAY (s, default 0.3) paces every reply;
ORDERFLOW_SIM_CARRIER_REJECT lists carriers that refuse every booking. A cancelled booking is
never picked up: no tracking update follows for it, even one already scheduled.

Returns: a CarrierReturnRequested for a shipment not yet delivered drops its pending tracking
updates and, after the delay, reports it `returned`; for one already delivered it is refused
(CarrierReturnRefused, "already delivered").

ORDERFLOW_SIM_CARRIER_SLOW_COUNTRIES (comma list of ISO countries, default none): bookings to these
countries are delivered only after ORDERFLOW_SIM_CARRIER_SLOW_DELAY seconds (default 60), and the
carrier reports them `delayed` (with a new ETA) soon after pickup; pickup and transit scans stay
fast, so that goods can be caught in transit (e.g. to recall them).

Late carriers (comma lists of carrier ids), for the late-carrier checks of logistics:
  ORDERFLOW_SIM_CARRIER_LATE   confirms with a promised time ORDERFLOW_SIM_CARRIER_LATE_ETA_SECONDS
                               (default 5) from now, then never collects the goods: no scan at all
  ORDERFLOW_SIM_CARRIER_STUCK  same promised time, collects (picked_up, in_transit) and never delivers
A cancelled booking is keyed by shipment and carrier: another carrier may take the shipment over."""

from __future__ import annotations

import asyncio
import datetime as dt

from contracts import integrations
from contracts.envelope import Envelope
from services.simulators.base import Simulator, env_float, env_set

sim = Simulator("carrier", integrations.CARRIER_REQUESTS)
DELAY = env_float("ORDERFLOW_SIM_CARRIER_DELAY", 0.3)
REFUSING = env_set("ORDERFLOW_SIM_CARRIER_REJECT")
SLOW_COUNTRIES = {c.upper() for c in env_set("ORDERFLOW_SIM_CARRIER_SLOW_COUNTRIES")}
SLOW_DELAY = env_float("ORDERFLOW_SIM_CARRIER_SLOW_DELAY", 60.0)
LATE = env_set("ORDERFLOW_SIM_CARRIER_LATE")
STUCK = env_set("ORDERFLOW_SIM_CARRIER_STUCK")
LATE_ETA = env_float("ORDERFLOW_SIM_CARRIER_LATE_ETA_SECONDS", 5.0)
TRANSIT_DAYS = {"SWIFT": 1, "NORDIC": 2, "EUROFR": 3}
CANCELLED: set[tuple[str, str]] = set()   # (shipment id, carrier) whose booking was cancelled
RECALLED: set[str] = set()    # shipment ids being brought back to the sender
DELIVERED: set[str] = set()   # shipment ids whose "delivered" update was sent (or is being sent)
COUNTRY: dict[str, str] = {}  # shipment id -> destination country, from the booking request
TRACKING: dict[str, set[asyncio.Task]] = {}   # shipment id -> its still-pending tracking updates
_SLOW: set[asyncio.Task] = set()              # long waits, not awaited at shutdown (see _track_later)


@sim.on(integrations.CarrierBookingRequested)
async def book(request: integrations.CarrierBookingRequested, cause: Envelope) -> None:
    COUNTRY[request.shipment_id] = request.country.upper()
    if request.carrier in REFUSING:
        sim.later(DELAY, integrations.CarrierBookingRejected(
            shipment_id=request.shipment_id, order_id=request.order_id, carrier=request.carrier,
            reason="no capacity on that lane"), cause)
        return
    # Waybill and tracking number derive from the shipment id: a repeated request gets the same ones.
    suffix = request.shipment_id.removeprefix("SHP-")
    eta_at = None
    if request.carrier in LATE | STUCK:
        eta_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=LATE_ETA)
    sim.later(DELAY, integrations.CarrierBookingConfirmed(
        shipment_id=request.shipment_id, order_id=request.order_id, carrier=request.carrier,
        waybill=f"WB-{request.carrier}-{suffix}", tracking_number=f"{request.carrier[:2]}{suffix}",
        eta=(eta_at.date() if eta_at else dt.date.today() + dt.timedelta(days=TRANSIT_DAYS.get(request.carrier, 3))),
        eta_at=eta_at), cause)


def _track_later(delay: float, update: integrations.CarrierTrackingUpdate, cause: Envelope, carrier: str) -> None:
    """Like sim.later, but the update is dropped if the booking is cancelled or the shipment recalled
    in the meantime. A "delivered" update marks the shipment delivered before it is sent (no await in
    between), so a return request can never slip between the two."""
    shipment_id = update.shipment_id

    async def send_later() -> None:
        await asyncio.sleep(delay)
        if (shipment_id, carrier) in CANCELLED or shipment_id in RECALLED:
            return
        if update.status == "delivered":
            DELIVERED.add(shipment_id)
        # Once sending, a recall no longer interrupts it (shield): the update is out or not at all.
        await asyncio.shield(sim.send(update.model_copy(update={"at": dt.datetime.now(dt.timezone.utc)}), cause))

    task = asyncio.create_task(send_later())
    # run_forever waits for pending replies on shutdown; a slow delivery (a minute) is not worth it.
    pending = _SLOW if delay > max(10.0, DELAY * 10) else sim._pending
    pending.add(task)
    task.add_done_callback(pending.discard)
    TRACKING.setdefault(shipment_id, set()).add(task)
    task.add_done_callback(TRACKING[shipment_id].discard)


def _delivery_delay(shipment_id: str) -> float:
    return SLOW_DELAY if COUNTRY.get(shipment_id) in SLOW_COUNTRIES else DELAY * 3


@sim.on(integrations.CarrierPickupReady)
async def pickup(request: integrations.CarrierPickupReady, cause: Envelope) -> None:
    if (request.shipment_id, request.carrier) in CANCELLED or request.shipment_id in RECALLED:
        return
    if request.carrier in LATE:
        return                           # never comes for the goods
    for step, status in enumerate(("picked_up", "in_transit"), start=1):
        _track_later(DELAY * step, integrations.CarrierTrackingUpdate(
            shipment_id=request.shipment_id, order_id=request.order_id, tracking_number=request.tracking_number,
            status=status, at=dt.datetime.now(dt.timezone.utc)), cause, request.carrier)
    if request.carrier in STUCK:
        return                           # has the goods, never delivers
    if COUNTRY.get(request.shipment_id) in SLOW_COUNTRIES:       # the carrier says so: the customer is told
        _track_later(DELAY * 3, integrations.CarrierTrackingUpdate(
            shipment_id=request.shipment_id, order_id=request.order_id, tracking_number=request.tracking_number,
            status="delayed", at=dt.datetime.now(dt.timezone.utc),
            eta=dt.date.today() + dt.timedelta(days=TRANSIT_DAYS.get(request.carrier, 3) + 2)), cause, request.carrier)
    _track_later(_delivery_delay(request.shipment_id), integrations.CarrierTrackingUpdate(
        shipment_id=request.shipment_id, order_id=request.order_id, tracking_number=request.tracking_number,
        status="delivered", at=dt.datetime.now(dt.timezone.utc)), cause, request.carrier)


@sim.on(integrations.CarrierBookingCancelRequested)
async def cancel(request: integrations.CarrierBookingCancelRequested, cause: Envelope) -> None:
    CANCELLED.add((request.shipment_id, request.carrier))   # accepted silently, as most carriers' APIs do


@sim.on(integrations.CarrierReturnRequested)
async def return_requested(request: integrations.CarrierReturnRequested, cause: Envelope) -> None:
    if request.shipment_id in DELIVERED:
        sim.later(DELAY, integrations.CarrierReturnRefused(
            shipment_id=request.shipment_id, order_id=request.order_id, carrier=request.carrier,
            reason="already delivered"), cause)
        return
    RECALLED.add(request.shipment_id)
    for task in list(TRACKING.get(request.shipment_id, ())):
        task.cancel()                    # the goods turn around: no further scans nor delivery
    # A repeated request (redelivery) reports `returned` again; logistics ignores the duplicate.
    sim.later(DELAY, integrations.CarrierTrackingUpdate(
        shipment_id=request.shipment_id, order_id=request.order_id, tracking_number=request.tracking_number,
        status="returned", at=dt.datetime.now(dt.timezone.utc)), cause)


if __name__ == "__main__":
    asyncio.run(sim.run_forever())

