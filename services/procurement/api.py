"""Procurement read API: suppliers and purchase orders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.runtime.service import Service


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["procurement"])

    @api.get("/suppliers")
    async def suppliers() -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT s.supplier_id, s.name, sp.sku, sp.rank, sp.lead_time_days, sp.unit_cost"
            " FROM suppliers s JOIN supplier_products sp USING (supplier_id) ORDER BY sp.sku, sp.rank")
        return [dict(r) for r in rows]

    @api.get("/purchase-orders")
    async def purchase_orders(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM purchase_orders WHERE ($1::text IS NULL OR order_id = $1) ORDER BY created_at", order_id)
        return [dict(r) for r in rows]

    return api
