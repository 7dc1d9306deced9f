"""Procurement read API: suppliers, purchase orders, requisitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.runtime.http_auth import requires
from services.runtime.roles import AUDITOR, OPERATOR, PROCUREMENT
from services.runtime.service import Service


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["procurement"])
    readers = [requires(PROCUREMENT, OPERATOR, AUDITOR)]

    @api.get("/suppliers", dependencies=[requires(PROCUREMENT, AUDITOR)])   # costs: not for operators
    async def suppliers() -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT s.supplier_id, s.name, sp.sku, sp.rank, sp.lead_time_days, sp.unit_cost"
            " FROM suppliers s JOIN supplier_products sp USING (supplier_id) ORDER BY sp.sku, sp.rank")
        return [dict(r) for r in rows]

    @api.get("/purchase-orders", dependencies=readers)
    async def purchase_orders(order_id: str | None = None, sku: str | None = None,
                              status: str | None = None) -> list[dict[str, Any]]:
        """Every purchase order with its status, supplier and rank, the reason it was abandoned or
        cancelled, and how its quantity splits: cancelled at the supplier, kept as stock, the order's."""
        rows = await service.pool.fetch(
            "SELECT po.purchase_order_id, po.requisition_id, po.order_id, po.sku, po.status, po.supplier_id,"
            " s.name AS supplier_name, po.supplier_rank AS rank, po.quantity, po.quantity_cancelled,"
            " po.kept_as_stock, CASE WHEN po.order_id IS NULL THEN 0"
            "   ELSE po.quantity - po.quantity_cancelled - po.kept_as_stock END AS for_order,"
            " po.reason, po.unit_cost, po.confirm_by, po.delivery_date, r.needed_by, po.delivered_quantity,"
            " coalesce((SELECT sum(w.quantity) FROM warehouse_receipts w"
            "           WHERE w.purchase_order_id = po.purchase_order_id), 0) AS received_quantity,"
            " po.created_at, po.updated_at"
            " FROM purchase_orders po JOIN suppliers s USING (supplier_id)"
            " JOIN requisitions r USING (requisition_id)"
            " WHERE ($1::text IS NULL OR po.order_id = $1) AND ($2::text IS NULL OR po.sku = $2)"
            " AND ($3::text IS NULL OR po.status = $3) ORDER BY po.created_at, po.purchase_order_id",
            order_id, sku, status)
        return [dict(r) for r in rows]

    @api.get("/requisitions", dependencies=readers)
    async def requisitions(order_id: str | None = None, sku: str | None = None,
                           status: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM requisitions WHERE ($1::text IS NULL OR order_id = $1) AND ($2::text IS NULL OR sku = $2)"
            " AND ($3::text IS NULL OR status = $3) ORDER BY created_at, requisition_id", order_id, sku, status)
        return [dict(r) for r in rows]

    return api
