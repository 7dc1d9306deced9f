"""Carrier simulator: confirms bookings with a waybill and tracking number, then reports
pickup, transit and delivery. ORDERFLOW_SIM_CARRIER_DELAY (s, default 0.3) paces every reply;
ORDERFLOW_SIM_CARRIER_REJECT lists carriers that refuse every booking. A cancelled booking is
never picked up: no tracking update follows for it, even one already scheduled."""

from __future__ import annotations

import asyncio
import datetime as dt

from contracts import integrations
from contracts.envelope import Envelope
from services.simulators.base import Simulator, env_float, env_set

sim = Simulator("carrier", integrations.CARRIER_REQUESTS)
DELAY = env_float("ORDERFLOW_SIM_CARRIER_DELAY", 0.3)
REFUSING = env_set("ORDERFLOW_SIM_CARRIER_REJECT")
TRANSIT_DAYS = {"SWIFT": 1, "NORDIC": 2, "EUROFR": 3}
CANCELLED: set[str] = set()   # shipment ids whose booking was cancelled


@sim.on(integrations.CarrierBookingRequested)
async def book(request: integrations.CarrierBookingRequested, cause: Envelope) -> None:
    if request.carrier in REFUSING:
        sim.later(DELAY, integrations.CarrierBookingRejected(
            shipment_id=request.shipment_id, order_id=request.order_id, carrier=request.carrier,
            reason="no capacity on that lane"), cause)
        return
    # Waybill and tracking number derive from the shipment id: a repeated request gets the same ones.
    suffix = request.shipment_id.removeprefix("SHP-")
    sim.later(DELAY, integrations.CarrierBookingConfirmed(
        shipment_id=request.shipment_id, order_id=request.order_id, carrier=request.carrier,
        waybill=f"WB-{request.carrier}-{suffix}", tracking_number=f"{request.carrier[:2]}{suffix}",
        eta=dt.date.today() + dt.timedelta(days=TRANSIT_DAYS.get(request.carrier, 3))), cause)


def _track_later(delay: float, update: integrations.CarrierTrackingUpdate, cause: Envelope) -> None:
    """Like sim.later, but the update is dropped if the booking is cancelled in the meantime."""
    async def send_later() -> None:
        await asyncio.sleep(delay)
        if update.shipment_id not in CANCELLED:
            await sim.send(update, cause)
    task = asyncio.create_task(send_later())
    sim._pending.add(task)                     # run_forever waits for these on shutdown
    task.add_done_callback(sim._pending.discard)


@sim.on(integrations.CarrierPickupReady)
async def pickup(request: integrations.CarrierPickupReady, cause: Envelope) -> None:
    if request.shipment_id in CANCELLED:
        return
    for step, status in enumerate(("picked_up", "in_transit", "delivered"), start=1):
        _track_later(DELAY * step, integrations.CarrierTrackingUpdate(
            shipment_id=request.shipment_id, order_id=request.order_id, tracking_number=request.tracking_number,
            status=status, at=dt.datetime.now(dt.timezone.utc)), cause)


@sim.on(integrations.CarrierBookingCancelRequested)
async def cancel(request: integrations.CarrierBookingCancelRequested, cause: Envelope) -> None:
    CANCELLED.add(request.shipment_id)   # accepted silently, as most carriers' APIs do


if __name__ == "__main__":
    asyncio.run(sim.run_forever())
