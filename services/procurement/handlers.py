"""Procurement message handling: requisitions, purchase orders and the supplier conversation.

A requisition (an order's shortfall, or replenishment of stock when order_id is None) is sent to
the best-ranked supplier as a purchase order. A rejection, no confirmation within
`supplier_confirm_seconds` (the periodic sweep), or a promised date after `needed_by` abandons
that PO and moves on to the next supplier; when none is left the purchase fails. Delivered goods
are handed to the warehouse (`warehouse.ReceiveGoods`). `CancelPurchase` takes back what an
order no longer needs: see `rules.split_cancel`.

Locks: a purchase order row before its requisition, everywhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import asyncpg

from contracts import integrations, procurement, warehouse
from services.procurement import rules, supplier_risk
from services.runtime.consumer import Consumer, Unprocessable
from services.runtime.outbox import Tx

log = logging.getLogger(__name__)

OPEN_PO = ("placed", "confirmed", "late")


def _for_order(po: asyncpg.Record) -> int:
    """Units of this PO that are still the order's (0 for replenishment or a closed PO)."""
    if po["order_id"] is None or po["status"] not in OPEN_PO:
        return 0
    return po["quantity"] - po["quantity_cancelled"] - po["kept_as_stock"]


def _key(order_id: str | None, sku: str) -> str:
    return order_id or sku


async def _requisition(conn: asyncpg.Connection, requisition_id: str) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM requisitions WHERE requisition_id = $1 FOR UPDATE", requisition_id)


async def _po(conn: asyncpg.Connection, purchase_order_id: str) -> asyncpg.Record:
    po = await conn.fetchrow("SELECT * FROM purchase_orders WHERE purchase_order_id = $1 FOR UPDATE",
                             purchase_order_id)
    if po is None:
        raise Unprocessable(f"unknown purchase order {purchase_order_id}")
    return po


async def place(tx: Tx, req: asyncpg.Record, confirm_seconds: float) -> str | None:
    """Send what the requisition still needs to the best supplier not yet tried, or fail it.
    Returns the new purchase order id (None when the purchase failed or nothing is needed)."""
    if req["quantity"] <= 0:
        await tx.conn.execute("UPDATE requisitions SET status = 'cancelled', updated_at = now()"
                              " WHERE requisition_id = $1", req["requisition_id"])
        return None
    tried = await tx.conn.fetch("SELECT supplier_id, reason FROM purchase_orders WHERE requisition_id = $1"
                                " ORDER BY created_at, purchase_order_id", req["requisition_id"])
    offers = await tx.conn.fetch("SELECT * FROM supplier_products WHERE sku = $1", req["sku"])
    choice = rules.choose_supplier(
        [rules.SupplierOption(r["supplier_id"], r["rank"], r["lead_time_days"]) for r in offers],
        exclude={t["supplier_id"] for t in tried})
    key, correlation = _key(req["order_id"], req["sku"]), req["correlation_id"]
    if choice is None:
        reason = rules.failure_reason(req["sku"], req["needed_by"],
                                      [(t["supplier_id"], t["reason"] or "no answer") for t in tried])
        await tx.conn.execute("UPDATE requisitions SET status = 'failed', reason = $2, updated_at = now()"
                              " WHERE requisition_id = $1", req["requisition_id"], reason)
        await tx.emit(procurement.PurchaseFailed(order_id=req["order_id"], sku=req["sku"], quantity=req["quantity"],
                                                 reason=reason), key=key, correlation_id=correlation)
        log.warning("purchase of %s x%d failed: %s", req["sku"], req["quantity"], reason)
        return None
    unit_cost = next(r["unit_cost"] for r in offers if r["supplier_id"] == choice.supplier_id)
    po_id = f"PO-{uuid.uuid4().hex[:10].upper()}"
    await tx.conn.execute(
        "INSERT INTO purchase_orders (purchase_order_id, requisition_id, order_id, supplier_id, supplier_rank, sku,"
        " quantity, unit_cost, status, cause_message_id, confirm_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'placed', $9, now() + make_interval(secs => $10))",
        po_id, req["requisition_id"], req["order_id"], choice.supplier_id, choice.rank, req["sku"], req["quantity"],
        unit_cost, tx.cause.message_id if tx.cause else None, float(confirm_seconds))
    # Keyed by PO id: a later cancellation reaches the supplier after its order.
    await tx.emit(integrations.SupplierOrderRequested(
        purchase_order_id=po_id, supplier_id=choice.supplier_id, sku=req["sku"], quantity=req["quantity"],
        needed_by=req["needed_by"]), key=po_id, correlation_id=correlation)
    await tx.emit(procurement.PurchaseOrderPlaced(
        purchase_order_id=po_id, order_id=req["order_id"], supplier_id=choice.supplier_id, sku=req["sku"],
        quantity=req["quantity"], supplier_rank=choice.rank), key=key, correlation_id=correlation)
    return po_id


async def abandon(tx: Tx, po: asyncpg.Record, reason: str, *, cancel_at_supplier: bool,
                  confirm_seconds: float) -> None:
    """Give up on a placed PO (rejected, silent, or too late) and try the next supplier."""
    await tx.conn.execute("UPDATE purchase_orders SET status = 'abandoned', reason = $2, updated_at = now()"
                          " WHERE purchase_order_id = $1", po["purchase_order_id"], reason)
    await supplier_risk.settle(tx, po["purchase_order_id"], f"abandoned: {reason}")
    req = await _requisition(tx.conn, po["requisition_id"])
    if cancel_at_supplier:
        await tx.emit(integrations.SupplierOrderCancelRequested(
            purchase_order_id=po["purchase_order_id"], supplier_id=po["supplier_id"],
            quantity=po["quantity"] - po["quantity_cancelled"]),
            key=po["purchase_order_id"], correlation_id=req["correlation_id"])
    await tx.emit(procurement.PurchaseOrderAbandoned(
        purchase_order_id=po["purchase_order_id"], order_id=po["order_id"], supplier_id=po["supplier_id"],
        sku=po["sku"], reason=reason), key=_key(po["order_id"], po["sku"]), correlation_id=req["correlation_id"])
    log.info("%s abandoned at %s: %s", po["purchase_order_id"], po["supplier_id"], reason)
    if req["status"] == "open":
        await place(tx, req, confirm_seconds)


async def new_requisition(tx: Tx, *, order_id: str | None, sku: str, quantity: int, needed_by: dt.date | None,
                          correlation_id: str, confirm_seconds: float) -> str | None:
    req = await tx.conn.fetchrow(
        "INSERT INTO requisitions (requisition_id, order_id, sku, quantity, quantity_asked, needed_by,"
        " correlation_id, cause_message_id) VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING *",
        f"REQ-{uuid.uuid4().hex[:10].upper()}", order_id, sku, quantity, needed_by, correlation_id,
        tx.cause.message_id if tx.cause else None)
    return await place(tx, req, confirm_seconds)


async def expire_unconfirmed(pool: asyncpg.Pool, confirm_seconds: float, batch: int = 100) -> int:
    """Periodic: placed POs past their confirmation deadline are cancelled at the supplier and
    abandoned; the next supplier gets the order. Replicas share the work (SKIP LOCKED)."""
    async with pool.acquire() as conn, conn.transaction():
        overdue = await conn.fetch(
            "SELECT * FROM purchase_orders WHERE status = 'placed' AND confirm_by < now()"
            " ORDER BY confirm_by LIMIT $1 FOR UPDATE SKIP LOCKED", batch)
        tx = Tx(conn, "procurement")
        for po in overdue:
            await abandon(tx, po, f"no confirmation within {confirm_seconds:g}s", cancel_at_supplier=True,
                          confirm_seconds=confirm_seconds)
    return len(overdue)


def register(consumer: Consumer, *, confirm_seconds: float) -> None:
    @consumer.on(procurement.PurchaseShortfall)
    async def purchase(tx: Tx, cmd: procurement.PurchaseShortfall) -> None:
        assert tx.cause is not None
        if await tx.conn.fetchval("SELECT true FROM requisitions WHERE cause_message_id = $1", tx.cause.message_id):
            return
        await new_requisition(tx, order_id=cmd.order_id, sku=cmd.sku, quantity=cmd.quantity,
                              needed_by=cmd.needed_by, correlation_id=tx.cause.correlation_id,
                              confirm_seconds=confirm_seconds)

    @consumer.on(warehouse.StockLow)
    async def replenish(tx: Tx, event: warehouse.StockLow) -> None:
        if event.reorder_quantity <= 0:
            log.info("stock of %s is low but it has no reorder quantity; not replenished", event.sku)
            return
        if await tx.conn.fetchval("SELECT true FROM requisitions WHERE sku = $1 AND order_id IS NULL"
                                  " AND status = 'open' LIMIT 1", event.sku):
            log.info("stock of %s is low; a replenishment is already on its way", event.sku)
            return
        await new_requisition(tx, order_id=None, sku=event.sku, quantity=event.reorder_quantity, needed_by=None,
                              correlation_id=event.sku, confirm_seconds=confirm_seconds)

    @consumer.on(integrations.SupplierOrderConfirmed)
    async def confirmed(tx: Tx, event: integrations.SupplierOrderConfirmed) -> None:
        po = await _po(tx.conn, event.purchase_order_id)
        if po["status"] != "placed":
            log.info("confirmation of %s ignored: it is %s", po["purchase_order_id"], po["status"])
            return
        req = await _requisition(tx.conn, po["requisition_id"])
        await supplier_risk.settle(tx, po["purchase_order_id"], "confirmed", ("no_confirmation",))
        if not rules.in_time(event.delivery_date, req["needed_by"]):
            if po["order_id"] is None:
                await abandon(tx, po, rules.too_late_reason(event.delivery_date, req["needed_by"]),
                              cancel_at_supplier=True, confirm_seconds=confirm_seconds)
                return
            # An order's purchase promised too late: a person decides (sales asks; ResolveDelay answers).
            await tx.conn.execute("UPDATE purchase_orders SET status = 'late', delivery_date = $2, updated_at = now()"
                                  " WHERE purchase_order_id = $1", po["purchase_order_id"], event.delivery_date)
            await supplier_risk.promise_late(tx, po, event.delivery_date, req["needed_by"])
            untried = await tx.conn.fetchval(
                "SELECT count(*) FROM supplier_products sp WHERE sp.sku = $1 AND sp.supplier_id NOT IN"
                " (SELECT supplier_id FROM purchase_orders WHERE requisition_id = $2)", po["sku"], po["requisition_id"])
            await tx.emit(procurement.PurchaseDelayed(
                purchase_order_id=po["purchase_order_id"], order_id=po["order_id"], supplier_id=po["supplier_id"],
                sku=po["sku"], quantity=po["quantity"] - po["quantity_cancelled"], promised_date=event.delivery_date,
                needed_by=req["needed_by"], alternatives=untried),
                key=_key(po["order_id"], po["sku"]), correlation_id=req["correlation_id"])
            return
        await tx.conn.execute("UPDATE purchase_orders SET status = 'confirmed', delivery_date = $2, updated_at = now()"
                              " WHERE purchase_order_id = $1", po["purchase_order_id"], event.delivery_date)
        await tx.emit(procurement.PurchaseOrderConfirmed(
            purchase_order_id=po["purchase_order_id"], order_id=po["order_id"], supplier_id=po["supplier_id"],
            sku=po["sku"], quantity=po["quantity"] - po["quantity_cancelled"], delivery_date=event.delivery_date),
            key=_key(po["order_id"], po["sku"]), correlation_id=req["correlation_id"])

    @consumer.on(procurement.ResolveDelay)
    async def resolve_delay(tx: Tx, cmd: procurement.ResolveDelay) -> None:
        """A person decided on a late promise: accept it (confirmed for the promised date) or switch."""
        po = await _po(tx.conn, cmd.purchase_order_id)
        if po["status"] != "late":
            log.info("decision on %s ignored: it is %s", po["purchase_order_id"], po["status"])
            return
        req = await _requisition(tx.conn, po["requisition_id"])
        if cmd.choice == "switch":
            await abandon(tx, po, f"promised {po['delivery_date'].isoformat()}, too late: switched supplier",
                          cancel_at_supplier=True, confirm_seconds=confirm_seconds)
            return
        await tx.conn.execute("UPDATE purchase_orders SET status = 'confirmed', updated_at = now()"
                              " WHERE purchase_order_id = $1", po["purchase_order_id"])
        await supplier_risk.settle(tx, po["purchase_order_id"], "the later date was accepted", ("promise_late",))
        await tx.emit(procurement.PurchaseOrderConfirmed(
            purchase_order_id=po["purchase_order_id"], order_id=po["order_id"], supplier_id=po["supplier_id"],
            sku=po["sku"], quantity=po["quantity"] - po["quantity_cancelled"], delivery_date=po["delivery_date"]),
            key=_key(po["order_id"], po["sku"]), correlation_id=req["correlation_id"])

    @consumer.on(integrations.SupplierOrderRejected)
    async def rejected(tx: Tx, event: integrations.SupplierOrderRejected) -> None:
        po = await _po(tx.conn, event.purchase_order_id)
        if po["status"] != "placed":
            log.info("rejection of %s ignored: it is %s", po["purchase_order_id"], po["status"])
            return
        await abandon(tx, po, f"rejected: {event.reason}", cancel_at_supplier=False,
                      confirm_seconds=confirm_seconds)

    @consumer.on(integrations.SupplierGoodsDelivered)
    async def delivered(tx: Tx, event: integrations.SupplierGoodsDelivered) -> None:
        po = await _po(tx.conn, event.purchase_order_id)
        if po["delivered_quantity"] is not None:
            log.warning("second delivery for %s ignored", po["purchase_order_id"])
            return
        req = await _requisition(tx.conn, po["requisition_id"])
        for_order = _for_order(po)
        order_part, stock_part = rules.receipt_split(event.quantity, for_order, has_order=for_order > 0)
        still_open = po["status"] in OPEN_PO
        await tx.conn.execute(
            "UPDATE purchase_orders SET delivered_quantity = $2, status = $3, updated_at = now()"
            " WHERE purchase_order_id = $1", po["purchase_order_id"], event.quantity,
            "delivered" if still_open else po["status"])
        await supplier_risk.settle(tx, po["purchase_order_id"], "delivered")
        if still_open and req["status"] == "open":
            await tx.conn.execute("UPDATE requisitions SET status = 'delivered', updated_at = now()"
                                  " WHERE requisition_id = $1", req["requisition_id"])
        po_id, sku = po["purchase_order_id"], po["sku"]
        receipts = []
        if order_part:
            receipts.append(warehouse.ReceiveGoods(purchase_order_id=po_id, sku=sku, quantity=order_part,
                                                   order_id=po["order_id"], unit_cost=po["unit_cost"]))
        if stock_part:
            receipts.append(warehouse.ReceiveGoods(purchase_order_id=f"{po_id}/stock" if order_part else po_id,
                                                   sku=sku, quantity=stock_part, order_id=None,
                                                   unit_cost=po["unit_cost"]))
        for receipt in receipts:
            await tx.emit(receipt, key=_key(receipt.order_id, sku), correlation_id=req["correlation_id"])

    @consumer.on(procurement.CancelPurchase)
    async def cancel(tx: Tx, cmd: procurement.CancelPurchase) -> None:
        """Unconfirmed POs are cancelled at the supplier; a CONFIRMED PO is kept and the cancelled
        quantity re-labelled as stock (order_id cleared for that part): cancelling a confirmed
        supplier order usually costs a fee, and the goods are stock we sell anyway."""
        pos = await tx.conn.fetch(
            "SELECT * FROM purchase_orders WHERE order_id = $1 AND status IN ('placed', 'confirmed', 'late')"
            " AND ($2::text IS NULL OR sku = $2) ORDER BY created_at, purchase_order_id FOR UPDATE",
            cmd.order_id, cmd.sku)
        by_id = {po["purchase_order_id"]: po for po in pos}
        splits = rules.split_cancel(
            [rules.OpenPO(po["purchase_order_id"], po["status"] == "confirmed", _for_order(po)) for po in pos],
            cmd.quantity)
        done = []
        for split in splits:
            po = by_id[split.purchase_order_id]
            req = await _requisition(tx.conn, po["requisition_id"])
            cancelled = po["quantity_cancelled"] + split.cancel_at_supplier
            status = "cancelled" if cancelled >= po["quantity"] else po["status"]
            if status == "cancelled":
                await supplier_risk.settle(tx, po["purchase_order_id"], f"cancelled: {cmd.reason}")
            await tx.conn.execute(
                "UPDATE purchase_orders SET quantity_cancelled = $2, kept_as_stock = kept_as_stock + $3,"
                " status = $4, reason = coalesce($5, reason), updated_at = now() WHERE purchase_order_id = $1",
                po["purchase_order_id"], cancelled, split.keep_as_stock, status,
                f"cancelled: {cmd.reason}" if status == "cancelled" else None)
            left = max(0, req["quantity"] - split.total)
            await tx.conn.execute(
                "UPDATE requisitions SET quantity = $2, status = CASE WHEN $2 = 0 AND status = 'open'"
                " THEN 'cancelled' ELSE status END, updated_at = now() WHERE requisition_id = $1",
                req["requisition_id"], left)
            if split.cancel_at_supplier:
                await tx.emit(integrations.SupplierOrderCancelRequested(
                    purchase_order_id=po["purchase_order_id"], supplier_id=po["supplier_id"],
                    quantity=split.cancel_at_supplier), key=po["purchase_order_id"], correlation_id=cmd.order_id)
            await tx.emit(procurement.PurchaseOrderCancelled(
                purchase_order_id=po["purchase_order_id"], order_id=cmd.order_id, sku=po["sku"],
                quantity=split.cancel_at_supplier, kept_as_stock=split.keep_as_stock, reason=cmd.reason),
                key=cmd.order_id)
            parts = [f"{n} {what}" for n, what in ((split.cancel_at_supplier, "cancelled at the supplier"),
                                                   (split.keep_as_stock, "kept as stock")) if n]
            done.append(f"{po['purchase_order_id']} ({po['sku']}): {' and '.join(parts)}")
        await tx.emit(procurement.CompensationDone(
            order_id=cmd.order_id, command_type=procurement.CancelPurchase.TYPE,
            summary="; ".join(done) or "no open purchase orders"), key=cmd.order_id)

    @consumer.on(warehouse.GoodsReceived)
    async def goods_received(tx: Tx, event: warehouse.GoodsReceived) -> None:
        await tx.conn.execute(
            "INSERT INTO warehouse_receipts (receipt_id, purchase_order_id, sku, quantity, order_id, reserved_for_order)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            event.purchase_order_id, event.purchase_order_id.split("/")[0], event.sku, event.quantity,
            event.order_id, event.reserved_for_order)
