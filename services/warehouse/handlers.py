"""Warehouse message handling: reserve, pick & pack, dispatch, receive goods, release, adjust,
review changes, restock returned shipments, stock warnings and reservation expiry.

One reservation row per (order, SKU) carries requested / reserved / packed / shipped quantities
(see rules.py). Every change to `stock` goes through `_move`, which writes a `stock_movements`
row, so that at all times
    on_hand  = opening + received - shipped + returned (per SKU, from the movements)
    reserved = sum(quantity_reserved) over open reservations
Locks: a handler locks the order's reservation rows first, then stock rows in SKU order, so that
concurrent orders neither oversell nor deadlock.

Every command is idempotent: a repeated ReserveStock / PickAndPack answers with the current
picture, a repeated DispatchOrder (shipment id), ReceiveGoods (receipt id) or AdjustReservation
(change id) re-announces what was done. A ShipmentReturned (logistics event) restocks once per
shipment id (`returns`).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from collections.abc import Iterable

import asyncpg

from contracts import finance, logistics, procurement, warehouse
from contracts.common import LineCost, StockLine
from contracts.warehouse import ReservedLine
from services.runtime.consumer import Consumer, Unprocessable
from services.runtime.outbox import Tx
from services.warehouse import costing, rules, stock_risk
from services.warehouse.rules import Held

log = logging.getLogger(__name__)

AWAITING_PAYMENT = "awaiting payment: prepaid before shipment"


# --- helpers ------------------------------------------------------------------------------------

def _held(row: asyncpg.Record) -> Held:
    return Held(requested=row["quantity_requested"], reserved=row["quantity_reserved"],
                packed=row["quantity_packed"], shipped=row["quantity_shipped"])


async def _rows(conn: asyncpg.Connection, order_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM reservations WHERE order_id = $1 ORDER BY sku FOR UPDATE", order_id)


async def _save(conn: asyncpg.Connection, order_id: str, sku: str, held: Held, status: str | None = None) -> None:
    await conn.execute(
        "UPDATE reservations SET quantity_requested = $3, quantity_reserved = $4, quantity_packed = $5,"
        " quantity_shipped = $6, status = $7, updated_at = now() WHERE order_id = $1 AND sku = $2",
        order_id, sku, held.requested, held.reserved, held.packed, held.shipped, status or rules.status_of(held))


async def _touch(conn: asyncpg.Connection, order_id: str) -> None:
    """Activity on an order keeps all its open reservation lines from expiring."""
    await conn.execute("UPDATE reservations SET updated_at = now() WHERE order_id = $1 AND status = 'open'", order_id)


async def _hold(conn: asyncpg.Connection, order_id: str, until: dt.datetime | None) -> None:
    """The order legitimately waits until `until`: its open reservation does not expire before."""
    if until is not None:
        await conn.execute("UPDATE reservations SET hold_until = GREATEST(COALESCE(hold_until, $2), $2)"
                           " WHERE order_id = $1 AND status = 'open'", order_id, until)


async def _lock_stock(conn: asyncpg.Connection, skus: Iterable[str]) -> dict[str, int]:
    """Lock the SKUs' stock rows in SKU order; their free quantity (on_hand - reserved)."""
    rows = await conn.fetch("SELECT sku, on_hand - reserved AS free FROM stock WHERE sku = ANY($1::text[])"
                            " ORDER BY sku FOR UPDATE", sorted(set(skus)))
    return {r["sku"]: r["free"] for r in rows}


async def _move(tx: Tx, sku: str, order_id: str | None, *, on_hand: int = 0, reserved: int = 0, kind: str,
                reason: str, unit_cost: Decimal | None = None) -> None:
    """The only way stock changes: update the level and record the movement (and who asked, when a
    person's request caused it); warn when low."""
    if not on_hand and not reserved:
        return
    await tx.conn.execute("UPDATE stock SET on_hand = on_hand + $2, reserved = reserved + $3 WHERE sku = $1",
                          sku, on_hand, reserved)
    await tx.conn.execute(
        "INSERT INTO stock_movements (sku, order_id, delta_on_hand, delta_reserved, kind, reason, initiated_by,"
        " unit_cost) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", sku, order_id, on_hand, reserved, kind, reason,
        tx.initiator.model_dump() if tx.initiator else None, unit_cost if on_hand else None)
    if on_hand - reserved < 0:          # available stock went down
        await _warn_if_low(tx, sku)
    await stock_risk.reassess(tx, [sku])


move = _move   # public: the RMA inspection (customer_returns.py) changes stock the same way


async def _warn_if_low(tx: Tx, sku: str) -> None:
    row = await tx.conn.fetchrow("SELECT on_hand - reserved AS available, reorder_point, reorder_quantity,"
                                 " replenishment_pending FROM stock WHERE sku = $1", sku)
    if row is None or not rules.should_warn(row["available"], row["reorder_point"], row["replenishment_pending"]):
        return
    await tx.conn.execute("UPDATE stock SET replenishment_pending = true WHERE sku = $1", sku)
    await tx.emit(warehouse.StockLow(sku=sku, available=row["available"], reorder_point=row["reorder_point"],
                                     reorder_quantity=row["reorder_quantity"]), key=sku, correlation_id=sku)


def _line(row: asyncpg.Record) -> ReservedLine:
    held = _held(row)
    return ReservedLine(sku=row["sku"], requested=held.requested, reserved=held.secured)


async def _picture(tx: Tx, order_id: str, extra: Iterable[ReservedLine] = ()) -> warehouse.StockReserved:
    rows = await tx.conn.fetch("SELECT * FROM reservations WHERE order_id = $1 ORDER BY sku", order_id)
    lines = [_line(r) for r in rows if r["quantity_requested"] > 0] + list(extra)
    picture = warehouse.StockReserved(order_id=order_id, lines=lines,
                                      complete=all(line.reserved >= line.requested for line in lines))
    await tx.emit(picture, key=order_id)
    return picture


def _stock_lines(quantities: dict[str, int]) -> list[StockLine]:
    return [StockLine(sku=sku, quantity=q) for sku, q in sorted(quantities.items()) if q > 0]


def _describe(lines: list[StockLine]) -> str:
    return ", ".join(f"{line.sku} x{line.quantity}" for line in lines) or "nothing"


async def _release_rows(tx: Tx, order_id: str, rows: list[asyncpg.Record], *, kind: str,
                        reason: str) -> list[StockLine]:
    """Give back everything held for these open rows (packed too); shipped stays shipped."""
    released: dict[str, int] = {}
    for r in rows:
        if r["status"] != "open":
            continue
        held = _held(r)
        await _move(tx, r["sku"], order_id, reserved=-held.reserved, kind=kind, reason=reason)
        released[r["sku"]] = held.reserved
        await _save(tx.conn, order_id, r["sku"], Held(held.requested, 0, 0, held.shipped), "released")
    await tx.conn.execute("UPDATE packages SET status = 'unpacked' WHERE order_id = $1 AND status = 'packed'",
                          order_id)
    await stock_risk.reassess(tx, [r["sku"] for r in rows])
    return _stock_lines(released)


# --- periodic: reservation expiry ---------------------------------------------------------------

async def expire_reservations(pool: asyncpg.Pool, ttl_seconds: float, batch: int = 100) -> int:
    """Release open reservations that have held stock untouched for longer than the TTL, one order
    per transaction; announce each with ReservationExpired. Returns how many orders expired."""
    # A reservation held for a legitimate wait (hold_until: a prepayment window, a supplier's
    # promised date) counts its time-to-live from the end of that wait.
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=ttl_seconds)
    orders = await pool.fetch(
        "SELECT DISTINCT order_id FROM reservations WHERE status = 'open' AND quantity_reserved > 0"
        " AND GREATEST(updated_at, COALESCE(hold_until, updated_at)) < $1 LIMIT $2", cutoff, batch)
    expired = 0
    for o in orders:
        order_id = o["order_id"]
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT * FROM reservations WHERE order_id = $1 AND status = 'open' AND quantity_reserved > 0"
                " AND GREATEST(updated_at, COALESCE(hold_until, updated_at)) < $2 ORDER BY sku"
                " FOR UPDATE SKIP LOCKED", order_id, cutoff)
            if not rows:
                continue     # touched (or being handled) meanwhile
            tx = Tx(conn, "warehouse")
            lines = await _release_rows(tx, order_id, rows, kind="expired",
                                        reason=f"expired: untouched for {ttl_seconds:g}s")
            await tx.emit(warehouse.ReservationExpired(order_id=order_id, lines=lines), key=order_id)
            expired += 1
            log.info("reservation of %s expired: %s", order_id, _describe(lines))
    return expired


# --- handlers -----------------------------------------------------------------------------------

def register(consumer: Consumer) -> None:
    @consumer.on(warehouse.ReserveStock)
    async def reserve(tx: Tx, cmd: warehouse.ReserveStock) -> None:
        wanted = rules.merge_lines(cmd.lines)
        existing = await _rows(tx.conn, cmd.order_id)
        if existing:
            # Asked again: the current picture; an open line still short is topped up from the shelf.
            short = {r["sku"]: _held(r) for r in existing if r["status"] == "open" and _held(r).missing > 0}
            free = await _lock_stock(tx.conn, short) if short else {}
            for sku, held in short.items():
                take = rules.top_up(held, free.get(sku, 0))
                if take:
                    await _move(tx, sku, cmd.order_id, reserved=take, kind="reserved", reason="reserved (top-up)")
                    await _save(tx.conn, cmd.order_id, sku, Held(held.requested, held.reserved + take,
                                                                 held.packed, held.shipped))
            await _touch(tx.conn, cmd.order_id)
            await _hold(tx.conn, cmd.order_id, cmd.hold_until)
            await _picture(tx, cmd.order_id)
            return
        # Lock the stock rows in a fixed order: concurrent reservations never oversell or deadlock.
        free = await _lock_stock(tx.conn, wanted)
        allocation = rules.allocate(_stock_lines(wanted), free)
        for line in allocation:
            await tx.conn.execute(
                "INSERT INTO reservations (order_id, sku, quantity_requested, quantity_reserved, status, hold_until)"
                " VALUES ($1, $2, $3, $4, 'open', $5)", cmd.order_id, line.sku, line.requested, line.reserved,
                cmd.hold_until)
            await _move(tx, line.sku, cmd.order_id, reserved=line.reserved, kind="reserved", reason="reserved")
        await stock_risk.reassess(tx, [line.sku for line in allocation if line.reserved < line.requested])
        await _picture(tx, cmd.order_id)

    @consumer.on(warehouse.PickAndPack)
    async def pick_and_pack(tx: Tx, cmd: warehouse.PickAndPack) -> None:
        rows = [r for r in await _rows(tx.conn, cmd.order_id) if r["status"] == "open"]
        picking = rules.to_pack({r["sku"]: _held(r) for r in rows})
        if not picking:
            last = await tx.conn.fetchrow("SELECT * FROM packages WHERE order_id = $1"
                                          " ORDER BY packed_at DESC, package_id DESC LIMIT 1", cmd.order_id)
            if last is None:
                log.warning("pick & pack for %s: nothing reserved to pack and no earlier package; no reply",
                            cmd.order_id)
                return
            await tx.emit(warehouse.OrderPacked(order_id=cmd.order_id, parcels=last["parcels"],
                                                weight_kg=float(last["weight_kg"]), lines=last["lines"]),
                          key=cmd.order_id)
            return
        weights = {r["sku"]: float(r["weight_kg"]) for r in await tx.conn.fetch(
            "SELECT sku, weight_kg FROM stock WHERE sku = ANY($1::text[])", list(picking))}
        parcels, weight = rules.pack([weights.get(sku, 0.0) * n for sku, n in picking.items()])
        lines = _stock_lines(picking)
        count = await tx.conn.fetchval("SELECT count(*) FROM packages WHERE order_id = $1", cmd.order_id)
        package_id = f"PKG-{cmd.order_id}-{count + 1}"
        await tx.conn.execute(
            "INSERT INTO packages (package_id, order_id, parcels, weight_kg, lines) VALUES ($1, $2, $3, $4, $5)",
            package_id, cmd.order_id, parcels, weight, [line.model_dump() for line in lines])
        for r in rows:
            held = _held(r)
            n = picking.get(r["sku"], 0)
            await _save(tx.conn, cmd.order_id, r["sku"], Held(held.requested, held.reserved, held.packed + n,
                                                              held.shipped))
        await tx.emit(warehouse.OrderPacked(order_id=cmd.order_id, parcels=parcels, weight_kg=weight, lines=lines),
                      key=cmd.order_id)

    @consumer.on(warehouse.DispatchOrder)
    async def dispatch(tx: Tx, cmd: warehouse.DispatchOrder) -> None:
        done = await tx.conn.fetchrow("SELECT * FROM dispatches WHERE shipment_id = $1", cmd.shipment_id)
        if done is not None:
            await tx.emit(warehouse.OrderDispatched(
                order_id=done["order_id"], shipment_id=cmd.shipment_id, carrier=done["carrier"],
                tracking_number=done["tracking_number"], lines=done["lines"], costs=done["costs"]), key=cmd.order_id)
            return
        if cmd.payment_required and not await tx.conn.fetchval(
                "SELECT true FROM payments_cleared WHERE order_id = $1", cmd.order_id):
            await tx.emit(warehouse.DispatchRefused(order_id=cmd.order_id, reason=AWAITING_PAYMENT), key=cmd.order_id)
            return
        rows = [r for r in await _rows(tx.conn, cmd.order_id) if r["status"] == "open" and r["quantity_packed"] > 0]
        if not rows:
            await tx.emit(warehouse.DispatchRefused(order_id=cmd.order_id, reason="nothing packed to dispatch"),
                          key=cmd.order_id)
            return
        shipped: dict[str, int] = {}
        costs = {c["sku"]: c["unit_cost"] for c in await tx.conn.fetch(
            "SELECT sku, COALESCE(NULLIF(unit_cost, 0), standard_cost, 0) AS unit_cost FROM stock"
            " WHERE sku = ANY($1::text[])", [r["sku"] for r in rows])}
        for r in rows:
            held = _held(r)
            n = held.packed
            await _move(tx, r["sku"], cmd.order_id, on_hand=-n, reserved=-n, kind="shipped",
                        reason=f"shipped {cmd.shipment_id}", unit_cost=costs.get(r["sku"], Decimal(0)))
            await _save(tx.conn, cmd.order_id, r["sku"], Held(held.requested, held.reserved - n, 0, held.shipped + n))
            shipped[r["sku"]] = n
        lines = _stock_lines(shipped)
        line_costs = [LineCost(sku=line.sku, quantity=line.quantity, unit_cost=costs.get(line.sku, Decimal(0)))
                      for line in lines]
        await tx.conn.execute("UPDATE packages SET status = 'shipped', shipment_id = $2"
                              " WHERE order_id = $1 AND status = 'packed'", cmd.order_id, cmd.shipment_id)
        await tx.conn.execute(
            "INSERT INTO dispatches (shipment_id, order_id, carrier, tracking_number, lines, costs)"
            " VALUES ($1, $2, $3, $4, $5, $6)", cmd.shipment_id, cmd.order_id, cmd.carrier, cmd.tracking_number,
            [line.model_dump() for line in lines], [c.model_dump(mode="json") for c in line_costs])
        await _touch(tx.conn, cmd.order_id)
        await tx.emit(warehouse.OrderDispatched(
            order_id=cmd.order_id, shipment_id=cmd.shipment_id, carrier=cmd.carrier,
            tracking_number=cmd.tracking_number, lines=lines, costs=line_costs), key=cmd.order_id)

    @consumer.on(warehouse.ReceiveGoods)
    async def receive(tx: Tx, cmd: warehouse.ReceiveGoods) -> None:
        key = cmd.order_id or cmd.sku
        done = await tx.conn.fetchrow("SELECT * FROM goods_receipts WHERE purchase_order_id = $1",
                                      cmd.purchase_order_id)
        if done is None:
            row = None
            if cmd.order_id:
                row = await tx.conn.fetchrow("SELECT * FROM reservations WHERE order_id = $1 AND sku = $2 FOR UPDATE",
                                             cmd.order_id, cmd.sku)
            # Goods of a SKU the warehouse never stocked create its stock row.
            await tx.conn.execute("INSERT INTO stock (sku, name, on_hand, weight_kg) VALUES ($1, $1, 0, 0)"
                                  " ON CONFLICT DO NOTHING", cmd.sku)
            level = await tx.conn.fetchrow("SELECT * FROM stock WHERE sku = $1 FOR UPDATE", cmd.sku)
            average = costing.moving_average(level["on_hand"], level["unit_cost"] or level["standard_cost"] or
                                             Decimal(0), cmd.quantity, cmd.unit_cost)
            await tx.conn.execute("UPDATE stock SET unit_cost = $2 WHERE sku = $1", cmd.sku, average)
            await _move(tx, cmd.sku, cmd.order_id, on_hand=cmd.quantity, kind="received",
                        reason=f"received {cmd.purchase_order_id}", unit_cost=cmd.unit_cost or average)
            for_order = 0
            if row is not None and row["status"] == "open":
                held = _held(row)
                for_order = rules.top_up(held, cmd.quantity)
                if for_order:
                    await _move(tx, cmd.sku, cmd.order_id, reserved=for_order, kind="reserved",
                                reason=f"reserved from {cmd.purchase_order_id}")
                    await _save(tx.conn, cmd.order_id, cmd.sku,
                                Held(held.requested, held.reserved + for_order, held.packed, held.shipped))
                await _touch(tx.conn, cmd.order_id)
            elif cmd.order_id:
                log.info("goods %s for %s: no open reservation of %s for that order; kept as stock",
                         cmd.purchase_order_id, cmd.order_id, cmd.sku)
            await tx.conn.execute(
                "INSERT INTO goods_receipts (purchase_order_id, sku, quantity, order_id, reserved_for_order, unit_cost)"
                " VALUES ($1, $2, $3, $4, $5, $6)", cmd.purchase_order_id, cmd.sku, cmd.quantity, cmd.order_id,
                for_order, cmd.unit_cost)
            if cmd.order_id is None:
                # Replenishment arrived: a new warning may be raised (at once, if still below the point).
                await tx.conn.execute("UPDATE stock SET replenishment_pending = false WHERE sku = $1", cmd.sku)
                await _warn_if_low(tx, cmd.sku)
            await stock_risk.reassess(tx, [cmd.sku])
        else:
            for_order = done["reserved_for_order"]
        await tx.emit(warehouse.GoodsReceived(purchase_order_id=cmd.purchase_order_id, sku=cmd.sku,
                                              quantity=cmd.quantity, order_id=cmd.order_id,
                                              reserved_for_order=for_order),
                      key=key, correlation_id=cmd.order_id)
        if cmd.order_id and await tx.conn.fetchval("SELECT true FROM reservations WHERE order_id = $1 LIMIT 1",
                                                   cmd.order_id):
            await _picture(tx, cmd.order_id)

    @consumer.on(warehouse.ReleaseReservation)
    async def release(tx: Tx, cmd: warehouse.ReleaseReservation) -> None:
        lines = await _release_rows(tx, cmd.order_id, await _rows(tx.conn, cmd.order_id), kind="released",
                                    reason=f"released: {cmd.reason}")
        await tx.emit(warehouse.ReservationReleased(order_id=cmd.order_id, lines=lines, reason=cmd.reason),
                      key=cmd.order_id)
        await tx.emit(warehouse.CompensationDone(
            order_id=cmd.order_id, command_type=warehouse.ReleaseReservation.TYPE,
            summary=f"released {_describe(lines)}" if lines else "nothing was held"), key=cmd.order_id)

    @consumer.on(warehouse.AdjustReservation)
    async def adjust(tx: Tx, cmd: warehouse.AdjustReservation) -> None:
        reason = f"change {cmd.change_id}"
        done = await tx.conn.fetchrow("SELECT * FROM reservation_changes WHERE change_id = $1", cmd.change_id)
        if done is not None:
            released = [StockLine.model_validate(line) for line in done["released"]]
        else:
            rows = await _rows(tx.conn, cmd.order_id)
            by_sku = {r["sku"]: r for r in rows if r["status"] != "released"}
            if rows and not by_sku:
                log.warning("change %s for %s: the reservation was released; nothing adjusted",
                            cmd.change_id, cmd.order_id)
            new = rules.merge_lines(cmd.lines)
            skus = sorted(set(by_sku) | ({s for s in new} if by_sku or not rows else set()))
            free = await _lock_stock(tx.conn, skus)
            released_q: dict[str, int] = {}
            for sku in skus:
                row = by_sku.get(sku)
                held = _held(row) if row is not None else Held(0)
                try:
                    plan = rules.plan_adjustment(sku, held, new.get(sku, 0), free.get(sku, 0))
                except rules.ChangeRefused as exc:
                    raise Unprocessable(f"{reason}: {exc} (the review should have refused it)") from exc
                if row is None:
                    if plan.requested == 0:
                        continue
                    await tx.conn.execute(
                        "INSERT INTO reservations (order_id, sku, quantity_requested, quantity_reserved, status)"
                        " VALUES ($1, $2, $3, 0, 'open')", cmd.order_id, sku, plan.requested)
                if plan.release:
                    await _move(tx, sku, cmd.order_id, reserved=-plan.release, kind="adjusted",
                                reason=f"{reason}: released")
                    released_q[sku] = plan.release
                if plan.reserve:
                    await _move(tx, sku, cmd.order_id, reserved=plan.reserve, kind="adjusted",
                                reason=f"{reason}: reserved")
                await _save(tx.conn, cmd.order_id, sku,
                            Held(plan.requested, held.reserved - plan.release + plan.reserve, held.packed,
                                 held.shipped))
            released = _stock_lines(released_q)
            await stock_risk.reassess(tx, skus)
            await tx.conn.execute(
                "INSERT INTO reservation_changes (change_id, order_id, released, initiated_by) VALUES ($1, $2, $3, $4)",
                cmd.change_id, cmd.order_id, [line.model_dump() for line in released],
                tx.initiator.model_dump() if tx.initiator else None)
            await _touch(tx.conn, cmd.order_id)
        if released:
            await tx.emit(warehouse.ReservationReleased(order_id=cmd.order_id, lines=released, reason=reason),
                          key=cmd.order_id)
        await _picture(tx, cmd.order_id)

    @consumer.on(warehouse.ReviewOrder)
    async def review_order(tx: Tx, cmd: warehouse.ReviewOrder) -> None:
        order = cmd.order
        wanted = rules.merge_lines([StockLine(sku=l.sku, quantity=l.quantity) for l in order.lines])
        rows = await tx.conn.fetch("SELECT sku, on_hand - reserved AS free FROM stock WHERE sku = ANY($1::text[])",
                                   list(wanted))
        reasons, conditions = rules.review_order(wanted, {r["sku"]: r["free"] for r in rows})
        await tx.emit(warehouse.OrderReviewed(order_id=order.order_id, review_id=order.review_id,
                                              approved=not reasons, reasons=reasons, conditions=conditions),
                      key=order.order_id)

    @consumer.on(procurement.PurchaseOrderConfirmed)
    async def purchase_confirmed(tx: Tx, event: procurement.PurchaseOrderConfirmed) -> None:
        # The order waits for these goods: its reservation lasts until the promised date.
        if event.order_id:
            until = dt.datetime.combine(event.delivery_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
            await _hold(tx.conn, event.order_id, until)

    @consumer.on(warehouse.ReviewChange)
    async def review(tx: Tx, cmd: warehouse.ReviewChange) -> None:
        proposal = cmd.proposal
        rows = await tx.conn.fetch("SELECT * FROM reservations WHERE order_id = $1 AND status <> 'released'",
                                   proposal.order_id)
        new: dict[str, int] = {}
        for line in proposal.lines:
            new[line.sku] = new.get(line.sku, 0) + line.quantity
        refusal = rules.change_refusal({r["sku"]: _held(r) for r in rows}, new)
        await tx.emit(warehouse.ChangeReviewed(order_id=proposal.order_id, change_id=proposal.change_id,
                                               approved=refusal is None, reason=refusal), key=proposal.order_id)

    # --- events from other departments -----------------------------------------------------------

    @consumer.on(logistics.ShipmentReturned)
    async def shipment_returned(tx: Tx, event: logistics.ShipmentReturned) -> None:
        """A recalled shipment is back: its goods go on the shelf again (ledger kind 'returned') and
        are no longer shipped for the order; a line with nothing held or shipped any more is released."""
        returned = rules.merge_lines(event.lines)
        fresh = await tx.conn.fetchval(
            "INSERT INTO returns (shipment_id, order_id, lines) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true",
            event.shipment_id, event.order_id, [line.model_dump() for line in _stock_lines(returned)])
        if not fresh:
            return      # this shipment was restocked already
        rows = {r["sku"]: r for r in await _rows(tx.conn, event.order_id)}
        for sku in returned:    # goods of a SKU no longer stocked (or never) get their stock row back
            await tx.conn.execute("INSERT INTO stock (sku, name, on_hand, weight_kg) VALUES ($1, $1, 0, 0)"
                                  " ON CONFLICT DO NOTHING", sku)
        await _lock_stock(tx.conn, returned)
        for sku, quantity in returned.items():
            await _move(tx, sku, event.order_id, on_hand=quantity, kind="returned",
                        reason=f"returned {event.shipment_id}")
            row = rows.get(sku)
            if row is None:
                log.warning("return %s of %s: no reservation of %s for that order; restocked only",
                            event.shipment_id, event.order_id, sku)
                continue
            outcome = rules.apply_return(_held(row), row["status"], quantity)
            await _save(tx.conn, event.order_id, sku, outcome.held, outcome.status)
        log.info("shipment %s of %s returned: restocked %s", event.shipment_id, event.order_id,
                 _describe(_stock_lines(returned)))

    @consumer.on(finance.PaymentReceived)
    async def payment_received(tx: Tx, event: finance.PaymentReceived) -> None:
        if event.order_paid_in_full:
            await tx.conn.execute("INSERT INTO payments_cleared (order_id) VALUES ($1) ON CONFLICT DO NOTHING",
                                  event.order_id)

    @consumer.on(procurement.PurchaseFailed)
    async def replenishment_failed(tx: Tx, event: procurement.PurchaseFailed) -> None:
        # A replenishment that no supplier takes must not silence the SKU's stock warnings forever.
        if event.order_id is None:
            await tx.conn.execute("UPDATE stock SET replenishment_pending = false WHERE sku = $1", event.sku)
