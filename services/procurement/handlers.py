"""Procurement message handling: turn a shortfall into a purchase order to the primary supplier.

The supplier conversation (confirm / reject / silence -> backup supplier, goods receipt) is the
subject of the sagas issue; here a purchase order is recorded and announced."""

from __future__ import annotations

import uuid

from contracts import procurement
from services.procurement import rules
from services.runtime.consumer import Consumer, Unprocessable
from services.runtime.outbox import Tx


def register(consumer: Consumer) -> None:
    @consumer.on(procurement.PurchaseShortfall)
    async def purchase(tx: Tx, cmd: procurement.PurchaseShortfall) -> None:
        assert tx.cause is not None
        rows = await tx.conn.fetch("SELECT * FROM supplier_products WHERE sku = $1", cmd.sku)
        choice = rules.choose_supplier([rules.SupplierOption(r["supplier_id"], r["rank"], r["lead_time_days"])
                                        for r in rows])
        if choice is None:
            raise Unprocessable(f"no supplier sells {cmd.sku}")
        unit_cost = next(r["unit_cost"] for r in rows if r["supplier_id"] == choice.supplier_id)
        po_id = f"PO-{uuid.uuid4().hex[:10].upper()}"
        await tx.conn.execute(
            "INSERT INTO purchase_orders (purchase_order_id, order_id, supplier_id, sku, quantity, unit_cost,"
            " status, cause_message_id) VALUES ($1, $2, $3, $4, $5, $6, 'placed', $7)",
            po_id, cmd.order_id, choice.supplier_id, cmd.sku, cmd.quantity, unit_cost, tx.cause.message_id)
        await tx.emit(procurement.PurchaseOrderPlaced(
            purchase_order_id=po_id, order_id=cmd.order_id, supplier_id=choice.supplier_id, sku=cmd.sku,
            quantity=cmd.quantity), key=cmd.order_id or cmd.sku)
