"""Warehouse read API: stock levels and reservations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from services.runtime.service import Service


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["warehouse"])

    @api.get("/stock")
    async def stock() -> list[dict[str, Any]]:
        rows = await service.pool.fetch("SELECT *, on_hand - reserved AS available FROM stock ORDER BY sku")
        return [dict(r) for r in rows]

    @api.get("/stock/{sku}")
    async def stock_item(sku: str) -> dict[str, Any]:
        row = await service.pool.fetchrow("SELECT *, on_hand - reserved AS available FROM stock WHERE sku = $1", sku)
        if row is None:
            raise HTTPException(404, f"no SKU {sku}")
        return dict(row)

    @api.get("/reservations")
    async def reservations(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM reservations WHERE ($1::text IS NULL OR order_id = $1) ORDER BY created_at, sku", order_id)
        return [dict(r) for r in rows]

    @api.get("/dispatches")
    async def dispatches(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM dispatches WHERE ($1::text IS NULL OR order_id = $1) ORDER BY dispatched_at", order_id)
        return [dict(r) for r in rows]

    return api
