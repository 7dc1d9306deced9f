"""Logistics message handling: book a carrier, hand over on dispatch, follow tracking."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from contracts import integrations, logistics, warehouse
from services.logistics import rules
from services.runtime.consumer import Consumer
from services.runtime.outbox import Tx


async def _carriers(conn: asyncpg.Connection) -> list[rules.Carrier]:
    rows = await conn.fetch(
        "SELECT c.*, (SELECT count(*) FROM shipments s WHERE s.carrier = c.carrier_id"
        "  AND s.created_at::date = current_date AND s.status <> 'cancelled') AS booked_today FROM carriers c")
    return [rules.Carrier(r["carrier_id"], frozenset(r["countries"]), r["base_cost"], r["cost_per_kg"],
                          r["transit_days"], r["daily_capacity"], r["booked_today"]) for r in rows]


async def _request_booking(tx: Tx, shipment: asyncpg.Record) -> None:
    """Pick the best carrier not yet tried and ask it; or report that none can take the shipment."""
    carrier = rules.choose_carrier(
        await _carriers(tx.conn), country=shipment["country"], weight_kg=float(shipment["weight_kg"]),
        today=dt.date.today(), deliver_by=shipment["deliver_by"], exclude=set(shipment["rejected_by"]))
    if carrier is None:
        await tx.conn.execute("UPDATE shipments SET status = 'failed', updated_at = now() WHERE shipment_id = $1",
                              shipment["shipment_id"])
        tried = ", ".join(shipment["rejected_by"]) or "none"
        await tx.emit(logistics.ShipmentBookingFailed(
            order_id=shipment["order_id"],
            reason=f"no carrier can take {shipment['weight_kg']} kg to {shipment['country']} (refused by: {tried})"),
            key=shipment["order_id"], correlation_id=shipment["order_id"])
        return
    await tx.conn.execute("UPDATE shipments SET carrier = $2, cost = $3, updated_at = now() WHERE shipment_id = $1",
                          shipment["shipment_id"], carrier.carrier_id, carrier.cost(float(shipment["weight_kg"])))
    await tx.emit(integrations.CarrierBookingRequested(
        shipment_id=shipment["shipment_id"], order_id=shipment["order_id"], carrier=carrier.carrier_id,
        country=shipment["country"], parcels=shipment["parcels"], weight_kg=float(shipment["weight_kg"])),
        key=shipment["order_id"], correlation_id=shipment["order_id"])


async def _shipment(conn: asyncpg.Connection, shipment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM shipments WHERE shipment_id = $1 FOR UPDATE", shipment_id)


def _booked(s: asyncpg.Record) -> logistics.ShipmentBooked:
    return logistics.ShipmentBooked(order_id=s["order_id"], shipment_id=s["shipment_id"], carrier=s["carrier"],
                                    waybill=s["waybill"], tracking_number=s["tracking_number"], eta=s["eta"])


def register(consumer: Consumer) -> None:
    @consumer.on(logistics.BookShipment)
    async def book(tx: Tx, cmd: logistics.BookShipment) -> None:
        live = await tx.conn.fetchrow(
            "SELECT * FROM shipments WHERE order_id = $1 AND status NOT IN ('cancelled', 'failed', 'delivered')"
            " FOR UPDATE", cmd.order_id)
        if live is not None:
            if live["status"] == "booked":
                await tx.emit(_booked(live), key=cmd.order_id)
            return  # a request to the carrier is already out
        shipment = await tx.conn.fetchrow(
            "INSERT INTO shipments (shipment_id, order_id, carrier, status, country, parcels, weight_kg, deliver_by)"
            " VALUES ($1, $2, (SELECT min(carrier_id) FROM carriers), 'requested', $3, $4, $5, $6) RETURNING *",
            f"SHP-{uuid.uuid4().hex[:12].upper()}", cmd.order_id, cmd.address.country, cmd.parcels, cmd.weight_kg,
            cmd.requested_delivery_date)
        await _request_booking(tx, shipment)

    @consumer.on(integrations.CarrierBookingConfirmed)
    async def confirmed(tx: Tx, event: integrations.CarrierBookingConfirmed) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is None or s["status"] != "requested" or s["carrier"] != event.carrier:
            return  # late or repeated confirmation: the carrier's duplicate is harmless
        s = await tx.conn.fetchrow(
            "UPDATE shipments SET status = 'booked', waybill = $2, tracking_number = $3, eta = $4, updated_at = now()"
            " WHERE shipment_id = $1 RETURNING *", event.shipment_id, event.waybill, event.tracking_number, event.eta)
        await tx.emit(_booked(s), key=s["order_id"], correlation_id=s["order_id"])

    @consumer.on(integrations.CarrierBookingRejected)
    async def rejected(tx: Tx, event: integrations.CarrierBookingRejected) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is None or s["status"] != "requested" or s["carrier"] != event.carrier:
            return
        s = await tx.conn.fetchrow(
            "UPDATE shipments SET rejected_by = array_append(rejected_by, $2), updated_at = now()"
            " WHERE shipment_id = $1 RETURNING *", event.shipment_id, event.carrier)
        await _request_booking(tx, s)

    @consumer.on(warehouse.OrderDispatched)
    async def handed_over(tx: Tx, event: warehouse.OrderDispatched) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is None or s["status"] != "booked":
            return
        await tx.conn.execute("UPDATE shipments SET status = 'in_transit', updated_at = now() WHERE shipment_id = $1",
                              s["shipment_id"])
        await tx.emit(integrations.CarrierPickupReady(
            shipment_id=s["shipment_id"], order_id=s["order_id"], carrier=s["carrier"],
            tracking_number=s["tracking_number"]), key=s["order_id"])
        await tx.emit(logistics.ShipmentInTransit(order_id=s["order_id"], shipment_id=s["shipment_id"],
                                                  tracking_number=s["tracking_number"]), key=s["order_id"])

    @consumer.on(integrations.CarrierTrackingUpdate)
    async def tracking(tx: Tx, event: integrations.CarrierTrackingUpdate) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is None or event.status != "delivered" or s["status"] == "delivered":
            return  # pickup / in-transit scans are on the carrier's own tracking page
        await tx.conn.execute("UPDATE shipments SET status = 'delivered', updated_at = now() WHERE shipment_id = $1",
                              s["shipment_id"])
        await tx.emit(logistics.ShipmentDelivered(
            order_id=s["order_id"], shipment_id=s["shipment_id"], tracking_number=s["tracking_number"],
            delivered_at=event.at), key=s["order_id"], correlation_id=s["order_id"])

    @consumer.on(logistics.CancelShipment)
    async def cancel(tx: Tx, cmd: logistics.CancelShipment) -> None:
        s = await tx.conn.fetchrow(
            "SELECT * FROM shipments WHERE order_id = $1 AND status IN ('requested', 'booked') FOR UPDATE",
            cmd.order_id)
        if s is None:
            return
        await tx.conn.execute("UPDATE shipments SET status = 'cancelled', updated_at = now() WHERE shipment_id = $1",
                              s["shipment_id"])
        if s["waybill"]:
            await tx.emit(integrations.CarrierBookingCancelRequested(
                shipment_id=s["shipment_id"], order_id=s["order_id"], carrier=s["carrier"], waybill=s["waybill"]),
                key=s["order_id"])
        await tx.emit(logistics.ShipmentCancelled(order_id=s["order_id"], shipment_id=s["shipment_id"],
                                                  reason=cmd.reason), key=s["order_id"])
