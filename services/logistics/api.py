"""Logistics read API: carriers, shipments, an order's current delivery details."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.runtime.http_auth import requires
from services.runtime.roles import AUDITOR, LOGISTICS, OPERATOR
from services.runtime.service import Service


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["logistics"])
    readers = [requires(LOGISTICS, OPERATOR, AUDITOR)]

    @api.get("/carriers", dependencies=readers)
    async def carriers() -> list[dict[str, Any]]:
        return [dict(r) for r in await service.pool.fetch("SELECT * FROM carriers ORDER BY carrier_id")]

    @api.get("/shipments", dependencies=readers)
    async def shipments(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM shipments WHERE ($1::text IS NULL OR order_id = $1) ORDER BY created_at", order_id)
        return [dict(r) for r in rows]

    @api.get("/orders/{order_id}/delivery", dependencies=readers)
    async def delivery(order_id: str) -> dict[str, Any]:
        """The order's delivery details after approved changes (empty when never changed)."""
        row = await service.pool.fetchrow("SELECT * FROM order_delivery WHERE order_id = $1", order_id)
        return dict(row) if row else {"order_id": order_id, "address": None, "requested_delivery_date": None}

    return api
