"""Warehouse message handling: reserve, release, pick & pack, dispatch.

Each command is idempotent by order: asked again, the warehouse answers with what it already did.
"""

from __future__ import annotations

import asyncpg

from contracts import warehouse
from contracts.common import StockLine
from contracts.warehouse import ReservedLine
from services.runtime.consumer import Consumer
from services.runtime.outbox import Tx
from services.warehouse import rules


async def _reservations(conn: asyncpg.Connection, order_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM reservations WHERE order_id = $1 ORDER BY sku FOR UPDATE", order_id)


async def _move(conn: asyncpg.Connection, sku: str, order_id: str | None, *, on_hand: int = 0, reserved: int = 0,
                reason: str) -> None:
    await conn.execute("UPDATE stock SET on_hand = on_hand + $2, reserved = reserved + $3 WHERE sku = $1",
                       sku, on_hand, reserved)
    await conn.execute(
        "INSERT INTO stock_movements (sku, order_id, delta_on_hand, delta_reserved, reason) VALUES ($1, $2, $3, $4, $5)",
        sku, order_id, on_hand, reserved, reason)


def register(consumer: Consumer) -> None:
    @consumer.on(warehouse.ReserveStock)
    async def reserve(tx: Tx, cmd: warehouse.ReserveStock) -> None:
        existing = await _reservations(tx.conn, cmd.order_id)
        if existing:
            lines = [ReservedLine(sku=r["sku"], requested=r["quantity_requested"], reserved=r["quantity_reserved"])
                     for r in existing]
        else:
            skus = sorted({line.sku for line in cmd.lines})
            # Lock the stock rows in a fixed order: concurrent reservations never oversell or deadlock.
            rows = await tx.conn.fetch("SELECT sku, on_hand - reserved AS free FROM stock WHERE sku = ANY($1)"
                                       " ORDER BY sku FOR UPDATE", skus)
            lines = rules.allocate(cmd.lines, {r["sku"]: r["free"] for r in rows})
            known = {r["sku"] for r in rows}
            for line in lines:
                if line.sku not in known:
                    continue  # unknown SKU: reported as a full shortfall
                await tx.conn.execute(
                    "INSERT INTO reservations (order_id, sku, quantity_requested, quantity_reserved, status)"
                    " VALUES ($1, $2, $3, $4, 'reserved')", cmd.order_id, line.sku, line.requested, line.reserved)
                if line.reserved:
                    await _move(tx.conn, line.sku, cmd.order_id, reserved=line.reserved, reason="reserved")
        await tx.emit(warehouse.StockReserved(
            order_id=cmd.order_id, lines=lines, complete=all(l.reserved == l.requested for l in lines)),
            key=cmd.order_id)

    @consumer.on(warehouse.ReleaseReservation)
    async def release(tx: Tx, cmd: warehouse.ReleaseReservation) -> None:
        released = []
        for r in await _reservations(tx.conn, cmd.order_id):
            if r["status"] not in ("reserved", "packed"):
                continue
            if r["quantity_reserved"]:
                await _move(tx.conn, r["sku"], cmd.order_id, reserved=-r["quantity_reserved"],
                            reason=f"released: {cmd.reason}")
                released.append(StockLine(sku=r["sku"], quantity=r["quantity_reserved"]))
            await tx.conn.execute("UPDATE reservations SET status = 'released', updated_at = now()"
                                  " WHERE order_id = $1 AND sku = $2", cmd.order_id, r["sku"])
        if released:
            await tx.emit(warehouse.ReservationReleased(order_id=cmd.order_id, lines=released, reason=cmd.reason),
                          key=cmd.order_id)

    @consumer.on(warehouse.PickAndPack)
    async def pick_and_pack(tx: Tx, cmd: warehouse.PickAndPack) -> None:
        package = await tx.conn.fetchrow("SELECT * FROM packages WHERE order_id = $1", cmd.order_id)
        if package is None:
            picked = await tx.conn.fetch(
                "SELECT r.quantity_reserved, s.weight_kg FROM reservations r JOIN stock s USING (sku)"
                " WHERE r.order_id = $1 AND r.status = 'reserved' AND r.quantity_reserved > 0", cmd.order_id)
            if not picked:
                return  # nothing reserved (released meanwhile): nothing to pack
            parcels, weight = rules.pack([float(p["weight_kg"]) * p["quantity_reserved"] for p in picked])
            package = await tx.conn.fetchrow(
                "INSERT INTO packages (order_id, parcels, weight_kg) VALUES ($1, $2, $3) RETURNING *",
                cmd.order_id, parcels, weight)
            await tx.conn.execute("UPDATE reservations SET status = 'packed', updated_at = now()"
                                  " WHERE order_id = $1 AND status = 'reserved'", cmd.order_id)
        await tx.emit(warehouse.OrderPacked(order_id=cmd.order_id, parcels=package["parcels"],
                                            weight_kg=float(package["weight_kg"])), key=cmd.order_id)

    @consumer.on(warehouse.DispatchOrder)
    async def dispatch(tx: Tx, cmd: warehouse.DispatchOrder) -> None:
        reservations = await _reservations(tx.conn, cmd.order_id)
        done = await tx.conn.fetchrow("SELECT * FROM dispatches WHERE shipment_id = $1", cmd.shipment_id)
        if done is None:
            packed = [r for r in reservations if r["status"] == "packed" and r["quantity_reserved"] > 0]
            if not packed:
                await tx.emit(warehouse.DispatchRefused(order_id=cmd.order_id, reason="nothing packed to dispatch"),
                              key=cmd.order_id)
                return
            for r in packed:
                await _move(tx.conn, r["sku"], cmd.order_id, on_hand=-r["quantity_reserved"],
                            reserved=-r["quantity_reserved"], reason=f"shipped {cmd.shipment_id}")
                await tx.conn.execute("UPDATE reservations SET status = 'shipped', updated_at = now()"
                                      " WHERE order_id = $1 AND sku = $2", cmd.order_id, r["sku"])
            await tx.conn.execute(
                "INSERT INTO dispatches (shipment_id, order_id, carrier, tracking_number) VALUES ($1, $2, $3, $4)",
                cmd.shipment_id, cmd.order_id, cmd.carrier, cmd.tracking_number)
            reservations = await _reservations(tx.conn, cmd.order_id)
        shipped = [StockLine(sku=r["sku"], quantity=r["quantity_reserved"]) for r in reservations
                   if r["status"] == "shipped" and r["quantity_reserved"] > 0]
        await tx.emit(warehouse.OrderDispatched(
            order_id=cmd.order_id, shipment_id=cmd.shipment_id, carrier=cmd.carrier,
            tracking_number=cmd.tracking_number, lines=shipped), key=cmd.order_id)
