"""Logistics message handling: book a carrier, hand over on dispatch, follow tracking; cancel a
booking (compensation), recall shipments in transit (compensation after dispatch: the carrier
brings the goods back, `in_transit -> returning -> returned`, ShipmentReturned tells the warehouse to
restock them), review and apply changes of delivery address or date.

An order may have several shipments one after the other (ship_partial): at most one booking is
open (requested or booked) at a time; dispatched ones do not block the next BookShipment."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from contracts import integrations, logistics, warehouse
from contracts.common import StockLine
from services.logistics import late, rules
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
                                    waybill=s["waybill"], tracking_number=s["tracking_number"], eta=s["eta"],
                                    cost=s["cost"])


async def _open_booking(conn: asyncpg.Connection, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM shipments WHERE order_id = $1 AND status IN ('requested', 'booked') FOR UPDATE", order_id)


async def _dispatched(conn: asyncpg.Connection, order_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM shipments WHERE order_id = $1"
        " AND status IN ('in_transit', 'returning', 'returned', 'delivered')"
        " ORDER BY dispatched_at NULLS LAST, created_at", order_id)


async def _order_shipments(conn: asyncpg.Connection, order_id: str, *, lock: bool = False) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM shipments WHERE order_id = $1 ORDER BY created_at, shipment_id"
                            + (" FOR UPDATE" if lock else ""), order_id)


def _handed_lines(s: asyncpg.Record) -> list[StockLine]:
    """The lines handed to the carrier for this shipment (stored on OrderDispatched)."""
    lines = s["lines"] or {}
    return [StockLine(sku=sku, quantity=int(q)) for sku, q in sorted(lines.items()) if int(q) > 0]


async def _recall_failed(tx: Tx, order_id: str, reason: str) -> None:
    await tx.emit(logistics.RecallFailed(order_id=order_id, reason=reason), key=order_id, correlation_id=order_id)


async def _recall_done(tx: Tx, order_id: str, summary: str) -> None:
    await tx.emit(logistics.CompensationDone(order_id=order_id, command_type=logistics.RecallShipments.TYPE,
                                             summary=summary), key=order_id, correlation_id=order_id)


def _view(s: asyncpg.Record) -> rules.ShipmentView:
    # Being re-booked, the goods are still handed over (with the old carrier, or at its dock).
    status = "in_transit" if s["status"] == "rebooking" else s["status"]
    dispatched_at = s["dispatched_at"] or (s["updated_at"] if status in rules.DISPATCHED else None)
    return rules.ShipmentView(
        shipment_id=s["shipment_id"], status=status, carrier=s["carrier"], tracking_number=s["tracking_number"],
        dispatched_on=dispatched_at.date() if dispatched_at else None,
        lines={sku: int(q) for sku, q in s["lines"].items()} if s["lines"] is not None else None,
        delivered_on=s["delivered_at"].date() if s["delivered_at"] else None)


async def _cancel(tx: Tx, s: asyncpg.Record, reason: str) -> None:
    """Cancel an open booking: tell the carrier when it has issued a waybill, tell everyone else."""
    await tx.conn.execute("UPDATE shipments SET status = 'cancelled', cancel_reason = $2, updated_at = now()"
                          " WHERE shipment_id = $1", s["shipment_id"], reason)
    if s["waybill"]:
        await tx.emit(integrations.CarrierBookingCancelRequested(
            shipment_id=s["shipment_id"], order_id=s["order_id"], carrier=s["carrier"], waybill=s["waybill"]),
            key=s["order_id"], correlation_id=s["order_id"])
    await tx.emit(logistics.ShipmentCancelled(order_id=s["order_id"], shipment_id=s["shipment_id"], reason=reason),
                  key=s["order_id"], correlation_id=s["order_id"])


def register(consumer: Consumer) -> None:
    @consumer.on(logistics.BookShipment)
    async def book(tx: Tx, cmd: logistics.BookShipment) -> None:
        live = await _open_booking(tx.conn, cmd.order_id)
        if live is not None:
            if live["status"] == "booked":
                await tx.emit(_booked(live), key=cmd.order_id)
            return  # a request to the carrier is already out
        # An approved change of address or date (UpdateDelivery) wins over what the command carries.
        current = await tx.conn.fetchrow("SELECT * FROM order_delivery WHERE order_id = $1", cmd.order_id)
        address = (current and current["address"]) or cmd.address.model_dump(mode="json")
        deliver_by = (current and current["requested_delivery_date"]) or cmd.requested_delivery_date
        shipment = await tx.conn.fetchrow(
            "INSERT INTO shipments (shipment_id, order_id, carrier, status, country, parcels, weight_kg, deliver_by,"
            " address) VALUES ($1, $2, (SELECT min(carrier_id) FROM carriers), 'requested', $3, $4, $5, $6, $7)"
            " RETURNING *",
            f"SHP-{uuid.uuid4().hex[:12].upper()}", cmd.order_id, address["country"], cmd.parcels, cmd.weight_kg,
            deliver_by, address)
        await _request_booking(tx, shipment)

    @consumer.on(integrations.CarrierBookingConfirmed)
    async def confirmed(tx: Tx, event: integrations.CarrierBookingConfirmed) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is not None and s["status"] == "rebooking" and s["rebook_carrier"] == event.carrier:
            await late.rebooked(tx, s, event)
            return
        if s is None or s["status"] != "requested" or s["carrier"] != event.carrier:
            return  # late or repeated confirmation: the carrier's duplicate is harmless
        s = await tx.conn.fetchrow(
            "UPDATE shipments SET status = 'booked', waybill = $2, tracking_number = $3, eta = $4, eta_at = $5,"
            " updated_at = now() WHERE shipment_id = $1 RETURNING *", event.shipment_id, event.waybill,
            event.tracking_number, event.eta, event.eta_at)
        await tx.emit(_booked(s), key=s["order_id"], correlation_id=s["order_id"])

    @consumer.on(integrations.CarrierBookingRejected)
    async def rejected(tx: Tx, event: integrations.CarrierBookingRejected) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is not None and s["status"] == "rebooking" and s["rebook_carrier"] == event.carrier:
            await late.rebook_refused(tx, s, await _carriers(tx.conn), event.carrier)
            return
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
        handed = {}
        for line in event.lines:
            handed[line.sku] = handed.get(line.sku, 0) + line.quantity
        await tx.conn.execute(
            "UPDATE shipments SET status = 'in_transit', dispatched_at = now(), lines = $2, updated_at = now()"
            " WHERE shipment_id = $1", s["shipment_id"], handed)
        await tx.emit(integrations.CarrierPickupReady(
            shipment_id=s["shipment_id"], order_id=s["order_id"], carrier=s["carrier"],
            tracking_number=s["tracking_number"]), key=s["order_id"])
        await tx.emit(logistics.ShipmentInTransit(order_id=s["order_id"], shipment_id=s["shipment_id"],
                                                  tracking_number=s["tracking_number"]), key=s["order_id"])

    @consumer.on(integrations.CarrierTrackingUpdate)
    async def tracking(tx: Tx, event: integrations.CarrierTrackingUpdate) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is None:
            return
        await late.scanned(tx, s, event)
        if event.status == "delivered" and s["status"] in ("in_transit", "returning", "rebooking"):
            await tx.conn.execute(
                "UPDATE shipments SET status = 'delivered', delivered_at = $2, updated_at = now()"
                " WHERE shipment_id = $1", s["shipment_id"], event.at)
            await tx.emit(logistics.ShipmentDelivered(
                order_id=s["order_id"], shipment_id=s["shipment_id"], tracking_number=s["tracking_number"],
                delivered_at=event.at), key=s["order_id"], correlation_id=s["order_id"])
            if s["status"] == "returning":
                # The carrier delivered before it could turn around: the recall cannot succeed.
                delivered = rules.ShipmentView(s["shipment_id"], "delivered", s["carrier"], s["tracking_number"],
                                               delivered_on=event.at.date())
                await _recall_failed(tx, s["order_id"], rules.plan_recall([delivered]).failed or "already delivered")
            return
        if event.status == "returned" and s["status"] == "returning":
            await tx.conn.execute(
                "UPDATE shipments SET status = 'returned', returned_at = $2, updated_at = now() WHERE shipment_id = $1",
                s["shipment_id"], event.at)
            await tx.emit(logistics.ShipmentReturned(order_id=s["order_id"], shipment_id=s["shipment_id"],
                                                     lines=_handed_lines(s)),
                          key=s["order_id"], correlation_id=s["order_id"])
            others = await _order_shipments(tx.conn, s["order_id"])
            summary = rules.recall_finished([_view(o) for o in others])
            if summary is not None:
                await _recall_done(tx, s["order_id"], summary)
            return
        if event.status == "delayed" and s["status"] == "in_transit":
            if event.eta is not None:
                await tx.conn.execute("UPDATE shipments SET eta = $2, updated_at = now() WHERE shipment_id = $1",
                                      s["shipment_id"], event.eta)
            await tx.emit(logistics.ShipmentDelayed(
                order_id=s["order_id"], shipment_id=s["shipment_id"], tracking_number=s["tracking_number"],
                carrier=s["carrier"], eta=event.eta), key=s["order_id"], correlation_id=s["order_id"])
            return
        # Pickup / in-transit scans are on the carrier's own tracking page; cancelled stays cancelled,
        # a late scan of a shipment already coming back (or back) changes nothing.

    @consumer.on(logistics.RecallShipments)
    async def recall(tx: Tx, cmd: logistics.RecallShipments) -> None:
        shipments = await _order_shipments(tx.conn, cmd.order_id, lock=True)
        plan = rules.plan_recall([_view(s) for s in shipments])
        if plan.failed is not None:
            await _recall_failed(tx, cmd.order_id, plan.failed)
            return
        by_id = {s["shipment_id"]: s for s in shipments}
        for shipment_id in plan.recall:
            s = by_id[shipment_id]
            await tx.conn.execute(
                "UPDATE shipments SET status = 'returning', recall_reason = $2, recall_requested_at = now(),"
                " updated_at = now() WHERE shipment_id = $1", shipment_id, cmd.reason)
            await tx.emit(integrations.CarrierReturnRequested(
                shipment_id=shipment_id, order_id=s["order_id"], carrier=s["carrier"],
                tracking_number=s["tracking_number"]), key=s["order_id"], correlation_id=s["order_id"])
        if plan.done is not None:
            await _recall_done(tx, cmd.order_id, plan.done)

    @consumer.on(integrations.CarrierReturnRefused)
    async def return_refused(tx: Tx, event: integrations.CarrierReturnRefused) -> None:
        s = await _shipment(tx.conn, event.shipment_id)
        if s is None or s["status"] != "returning":
            return  # a late or repeated refusal: the shipment is already delivered or back
        await tx.conn.execute(
            "UPDATE shipments SET status = 'in_transit', recall_refused = $2, updated_at = now()"
            " WHERE shipment_id = $1", s["shipment_id"], event.reason)
        await _recall_failed(tx, s["order_id"],
                             f"{event.carrier} refused to return {s['shipment_id']}: {event.reason}")

    @consumer.on(logistics.CancelShipment)
    async def cancel(tx: Tx, cmd: logistics.CancelShipment) -> None:
        s = await _open_booking(tx.conn, cmd.order_id)
        done = []
        if s is not None:
            await _cancel(tx, s, cmd.reason)
            done.append(f"cancelled {s['status']} shipment {s['shipment_id']} with {s['carrier']}"
                        + (" (carrier asked to cancel the booking)" if s["waybill"] else ""))
        for d in await _dispatched(tx.conn, cmd.order_id):
            done.append(f"not cancelled: {d['shipment_id']} is {rules.dispatched_note(_view(d))}")
        await tx.emit(logistics.CompensationDone(
            order_id=cmd.order_id, command_type=logistics.CancelShipment.TYPE,
            summary="; ".join(done) or "no shipment to cancel"), key=cmd.order_id)

    @consumer.on(logistics.ReviewOrder)
    async def review_order(tx: Tx, cmd: logistics.ReviewOrder) -> None:
        order = cmd.order
        opinion = rules.review_order(await _carriers(tx.conn), country=order.address.country, today=dt.date.today(),
                                     deliver_by=order.requested_delivery_date, joint=order.joint)
        await tx.emit(logistics.OrderReviewed(order_id=order.order_id, review_id=order.review_id,
                                              approved=opinion.approved, reasons=list(opinion.reasons),
                                              conditions=list(opinion.conditions)), key=order.order_id)

    @consumer.on(logistics.ReviewChange)
    async def review_change(tx: Tx, cmd: logistics.ReviewChange) -> None:
        proposal = cmd.proposal
        shipments = await tx.conn.fetch("SELECT * FROM shipments WHERE order_id = $1 ORDER BY created_at",
                                        proposal.order_id)
        reason = rules.review_change(proposal, [_view(s) for s in shipments], await _carriers(tx.conn))
        await tx.emit(logistics.ChangeReviewed(order_id=proposal.order_id, change_id=proposal.change_id,
                                               approved=reason is None, reason=reason), key=proposal.order_id)

    @consumer.on(logistics.UpdateDelivery)
    async def update_delivery(tx: Tx, cmd: logistics.UpdateDelivery) -> None:
        """Apply an approved change of address and/or date: remembered for later bookings, and applied
        to the open booking. When the new country is one the booked carrier does not serve, that
        booking is cancelled (ShipmentCancelled says why) and the next BookShipment chooses again."""
        done = await tx.conn.fetchval("SELECT true FROM delivery_changes WHERE change_id = $1", cmd.change_id)
        if not done:
            address = cmd.address.model_dump(mode="json") if cmd.address is not None else None
            await tx.conn.execute(
                "INSERT INTO order_delivery (order_id, address, requested_delivery_date) VALUES ($1, $2, $3)"
                " ON CONFLICT (order_id) DO UPDATE SET address = COALESCE(EXCLUDED.address, order_delivery.address),"
                " requested_delivery_date = COALESCE(EXCLUDED.requested_delivery_date,"
                " order_delivery.requested_delivery_date), updated_at = now()",
                cmd.order_id, address, cmd.requested_delivery_date)
            summary = "delivery details stored for later bookings"
            s = await _open_booking(tx.conn, cmd.order_id)
            if s is not None:
                country = cmd.address.country if cmd.address is not None else s["country"]
                if country != s["country"] and not rules.carrier_serves(await _carriers(tx.conn), s["carrier"],
                                                                         country):
                    await _cancel(tx, s, f"delivery address moved to {country}, which {s['carrier']} does not "
                                         f"serve: the shipment must be booked again")
                    summary = f"cancelled {s['shipment_id']} ({s['carrier']} does not serve {country})"
                else:
                    await tx.conn.execute(
                        "UPDATE shipments SET address = COALESCE($2, address), country = $3,"
                        " deliver_by = COALESCE($4, deliver_by), updated_at = now() WHERE shipment_id = $1",
                        s["shipment_id"], address, country, cmd.requested_delivery_date)
                    summary = f"updated {s['status']} shipment {s['shipment_id']}"
            await tx.conn.execute(
                "INSERT INTO delivery_changes (change_id, order_id, summary, initiated_by) VALUES ($1, $2, $3, $4)",
                cmd.change_id, cmd.order_id, summary, tx.initiator.model_dump() if tx.initiator else None)
        await tx.emit(logistics.DeliveryUpdated(order_id=cmd.order_id, change_id=cmd.change_id), key=cmd.order_id)
