"""Finance read API: credit position, invoices and payments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from services.finance.handlers import _account
from services.runtime.service import Service


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["finance"])

    @api.get("/customers/{customer_id}/credit")
    async def credit(customer_id: str) -> dict[str, Any]:
        async with service.pool.acquire() as conn, conn.transaction():
            customer, exposure = await _account(conn, customer_id)
        if customer is None:
            raise HTTPException(404, f"no customer {customer_id}")
        return {"customer_id": customer_id, "credit_limit": str(customer["credit_limit"]),
                "exposure": str(exposure), "available": str(customer["credit_limit"] - exposure)}

    @api.get("/invoices")
    async def invoices(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM invoices WHERE ($1::text IS NULL OR order_id = $1) ORDER BY issued_at", order_id)
        return [dict(r) for r in rows]

    @api.get("/payments")
    async def payments(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM payments WHERE ($1::text IS NULL OR order_id = $1) ORDER BY received_at", order_id)
        return [dict(r) for r in rows]

    return api
