"""Late carriers: a shipment whose ETA passed without delivery, or whose tracking went silent,
raises a carrier risk. Not yet collected by its carrier: it is re-booked with another carrier,
once per shipment (the new carrier confirms -> the old booking is cancelled, the goods are handed
to the new one, ShipmentRebooked tells sales). Collected (or already re-booked once, or no other
carrier can take it): sales is told (ShipmentLate) and a person decides. The risk closes when its
cause goes away: delivered, re-booked, a fresh scan, returned.

`sweep` runs periodically (ORDERFLOW_CARRIER_SWEEP_SECONDS); ORDERFLOW_CARRIER_ETA_GRACE_SECONDS is
how long after the ETA a shipment counts as late, ORDERFLOW_TRACKING_SILENCE_SECONDS how long a
carrier may stay silent."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from contracts import integrations, logistics
from contracts.risk import RiskKind, RiskSubject, Severity
from services.logistics import rules
from services.runtime import risks
from services.runtime.outbox import Tx

log = logging.getLogger(__name__)

CarriersOf = Callable[[asyncpg.Connection], Awaitable[list[rules.Carrier]]]
CAUSES = ("eta_passed", "tracking_silent")


def _subject(s: asyncpg.Record) -> RiskSubject:
    return RiskSubject(order_id=s["order_id"], shipment_id=s["shipment_id"], carrier=s["carrier"])


def _in_transit(s: asyncpg.Record) -> rules.InTransit:
    return rules.InTransit(shipment_id=s["shipment_id"], carrier=s["carrier"], eta=s["eta"], eta_at=s["eta_at"],
                           dispatched_at=s["dispatched_at"] or s["updated_at"], picked_up_at=s["picked_up_at"],
                           last_scan_at=s["last_scan_at"], rebooked=s["rebooked_from"] is not None)


async def sweep(pool: asyncpg.Pool, carriers_of: CarriersOf, *, grace_seconds: float, silence_seconds: float,
                batch: int = 100) -> int:
    """Check every shipment with a carrier; one transaction per shipment (SKIP LOCKED: replicas share)."""
    now = dt.datetime.now(dt.timezone.utc)
    grace, silence = dt.timedelta(seconds=grace_seconds), dt.timedelta(seconds=silence_seconds)
    ids = [r["shipment_id"] for r in await pool.fetch(
        "SELECT shipment_id FROM shipments WHERE status = 'in_transit' AND late_reported_at IS NULL"
        " ORDER BY dispatched_at NULLS FIRST LIMIT $1", batch)]
    acted = 0
    for shipment_id in ids:
        async with pool.acquire() as conn, conn.transaction():
            s = await conn.fetchrow("SELECT * FROM shipments WHERE shipment_id = $1 AND status = 'in_transit'"
                                    " FOR UPDATE SKIP LOCKED", shipment_id)
            if s is None:
                continue
            late = rules.lateness(_in_transit(s), now, grace=grace, silence=silence)
            if late is None:
                continue
            tx = Tx(conn, "logistics")
            acted += 1
            if late.rebook and await _rebook(tx, s, await carriers_of(conn), late):
                continue
            await risks.raise_risk(tx, kind=RiskKind.CARRIER, cause=late.cause, subject=_subject(s),
                                   summary=late.summary, severity=Severity.CRITICAL)
            await _tell_sales(tx, s, late.collected, late.summary)
    return acted


async def _tell_sales(tx: Tx, s: asyncpg.Record, collected: bool, why: str) -> None:
    await tx.conn.execute("UPDATE shipments SET late_reported_at = now() WHERE shipment_id = $1", s["shipment_id"])
    await tx.emit(logistics.ShipmentLate(order_id=s["order_id"], shipment_id=s["shipment_id"], carrier=s["carrier"],
                                         eta=s["eta"], collected=collected, reason=why),
                  key=s["order_id"], correlation_id=s["order_id"])


async def _rebook(tx: Tx, s: asyncpg.Record, carriers: list[rules.Carrier], late: rules.Lateness) -> bool:
    """Ask the best other carrier to take the shipment over; False when none can."""
    tried = {s["carrier"], *s["rejected_by"], *s["rebook_tried"]}
    choice = rules.choose_carrier(carriers, country=s["country"], weight_kg=float(s["weight_kg"]),
                                  today=dt.date.today(), deliver_by=s["deliver_by"], exclude=tried)
    if choice is None:
        return False
    await tx.conn.execute(
        "UPDATE shipments SET status = 'rebooking', rebook_carrier = $2, rebook_tried = array_append(rebook_tried, $2),"
        " updated_at = now() WHERE shipment_id = $1", s["shipment_id"], choice.carrier_id)
    await risks.raise_risk(tx, kind=RiskKind.CARRIER, cause=late.cause, subject=_subject(s),
                           summary=f"{late.summary}; re-booking with {choice.carrier_id}", severity=Severity.WARNING)
    await tx.emit(integrations.CarrierBookingRequested(
        shipment_id=s["shipment_id"], order_id=s["order_id"], carrier=choice.carrier_id, country=s["country"],
        parcels=s["parcels"], weight_kg=float(s["weight_kg"])), key=s["order_id"], correlation_id=s["order_id"])
    log.info("%s: %s; re-booking with %s", s["shipment_id"], late.summary, choice.carrier_id)
    return True


async def rebooked(tx: Tx, s: asyncpg.Record, event: integrations.CarrierBookingConfirmed) -> None:
    """The new carrier took the shipment: cancel the old booking, hand the goods over, tell sales."""
    previous = s["carrier"]
    if s["waybill"]:
        await tx.emit(integrations.CarrierBookingCancelRequested(
            shipment_id=s["shipment_id"], order_id=s["order_id"], carrier=previous, waybill=s["waybill"]),
            key=s["order_id"], correlation_id=s["order_id"])
    await tx.conn.execute(
        "UPDATE shipments SET status = 'in_transit', carrier = $2, waybill = $3, tracking_number = $4, eta = $5,"
        " eta_at = $6, rebooked_from = $7, rebooked_at = now(), rebook_carrier = NULL, picked_up_at = NULL,"
        " last_scan_at = NULL, dispatched_at = now(), updated_at = now() WHERE shipment_id = $1",
        s["shipment_id"], event.carrier, event.waybill, event.tracking_number, event.eta, event.eta_at, previous)
    await tx.emit(integrations.CarrierPickupReady(shipment_id=s["shipment_id"], order_id=s["order_id"],
                                                  carrier=event.carrier, tracking_number=event.tracking_number),
                  key=s["order_id"], correlation_id=s["order_id"])
    reason = f"{previous} did not collect it in time"
    await tx.emit(logistics.ShipmentRebooked(
        order_id=s["order_id"], shipment_id=s["shipment_id"], previous_carrier=previous, carrier=event.carrier,
        waybill=event.waybill, tracking_number=event.tracking_number, eta=event.eta, reason=reason),
        key=s["order_id"], correlation_id=s["order_id"])
    for cause in CAUSES:
        await risks.close(tx, RiskKind.CARRIER, cause, s["shipment_id"], f"re-booked with {event.carrier}")


async def rebook_refused(tx: Tx, s: asyncpg.Record, carriers: list[rules.Carrier], carrier: str) -> None:
    """The carrier asked to take over refused: the next one, else back to the old booking and a person."""
    late = rules.Lateness("eta_passed", False, True, f"{s['carrier']} is late with {s['shipment_id']}")
    if await _rebook(tx, s, carriers, late):
        return
    await tx.conn.execute("UPDATE shipments SET status = 'in_transit', rebook_carrier = NULL, updated_at = now()"
                          " WHERE shipment_id = $1", s["shipment_id"])
    why = f"{s['carrier']} is late with {s['shipment_id']} and no other carrier takes it ({carrier} refused)"
    await risks.raise_risk(tx, kind=RiskKind.CARRIER, cause="eta_passed", subject=_subject(s), summary=why,
                           severity=Severity.CRITICAL)
    await _tell_sales(tx, s, False, why)


async def scanned(tx: Tx, s: asyncpg.Record, event: integrations.CarrierTrackingUpdate) -> None:
    """A tracking scan from the shipment's current carrier: collected, alive; delivered or back ends
    its carrier risks."""
    if event.status in ("picked_up", "in_transit"):
        await tx.conn.execute(
            "UPDATE shipments SET picked_up_at = COALESCE(picked_up_at, $2), last_scan_at = $2 WHERE shipment_id = $1",
            s["shipment_id"], event.at)
        await risks.close(tx, RiskKind.CARRIER, "tracking_silent", s["shipment_id"], "tracking resumed")
    elif event.status in ("delivered", "returned"):
        for cause in CAUSES:
            await risks.close(tx, RiskKind.CARRIER, cause, s["shipment_id"], f"shipment {event.status}")


async def closed(tx: Tx, shipment_id: str, why: str) -> None:
    for cause in CAUSES:
        await risks.close(tx, RiskKind.CARRIER, cause, shipment_id, why)
