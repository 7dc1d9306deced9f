"""Warehouse read API: stock levels, movements, the conservation check, reservations, dispatches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from services.runtime.http_auth import requires
from services.runtime.roles import AUDITOR, CLERK, OPERATOR, PROCUREMENT, SALES_MANAGER, WAREHOUSE
from services.runtime.service import Service

CONSERVATION_SQL = """
WITH moves AS (
    SELECT sku,
           coalesce(sum(delta_on_hand) FILTER (WHERE kind = 'opening'), 0)   AS opening,
           coalesce(sum(delta_on_hand) FILTER (WHERE kind = 'received'), 0)  AS received,
           coalesce(-sum(delta_on_hand) FILTER (WHERE kind = 'shipped'), 0)  AS shipped,
           coalesce(sum(delta_on_hand) FILTER (WHERE kind = 'returned'), 0)  AS returned,
           coalesce(-sum(delta_on_hand) FILTER (WHERE kind = 'scrapped'), 0) AS scrapped,
           coalesce(sum(delta_on_hand), 0)                                   AS moved_on_hand,
           coalesce(sum(delta_reserved), 0)                                  AS moved_reserved
    FROM stock_movements GROUP BY sku
), held AS (
    SELECT sku, coalesce(sum(quantity_reserved), 0) AS open_reservations,
           coalesce(sum(quantity_packed), 0) AS packed
    FROM reservations WHERE status = 'open' GROUP BY sku
)
SELECT s.sku, coalesce(m.opening, 0) AS opening, coalesce(m.received, 0) AS received,
       coalesce(m.shipped, 0) AS shipped, coalesce(m.returned, 0) AS returned, coalesce(m.scrapped, 0) AS scrapped,
       s.on_hand, s.reserved, s.on_hand - s.reserved AS available,
       coalesce(h.open_reservations, 0) AS open_reservations, coalesce(h.packed, 0) AS packed,
       coalesce(m.moved_on_hand, 0) AS moved_on_hand, coalesce(m.moved_reserved, 0) AS moved_reserved
FROM stock s LEFT JOIN moves m USING (sku) LEFT JOIN held h USING (sku)
WHERE ($1::text IS NULL OR s.sku = $1)
ORDER BY s.sku
"""


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["warehouse"])
    # What is available is everyone's business who promises or buys goods; the rest is the warehouse's.
    stock_readers = [requires(WAREHOUSE, PROCUREMENT, CLERK, SALES_MANAGER, OPERATOR, AUDITOR)]
    readers = [requires(WAREHOUSE, OPERATOR, AUDITOR)]

    @api.get("/stock", dependencies=stock_readers)
    async def stock() -> list[dict[str, Any]]:
        rows = await service.pool.fetch("SELECT *, on_hand - reserved AS available FROM stock ORDER BY sku")
        return [dict(r) for r in rows]

    @api.get("/stock/conservation", dependencies=readers)
    async def conservation(sku: str | None = None) -> dict[str, Any]:
        """Per SKU: on_hand = opening + received - shipped + returned - scrapped (also = the sum of all on-hand
        movements), reserved = sum of open reservations (also = the sum of all reserved movements)."""
        result = []
        for r in await service.pool.fetch(CONSERVATION_SQL, sku):
            row = dict(r)
            row["on_hand_ok"] = (row["on_hand"] == row["opening"] + row["received"] - row["shipped"]
                                 + row["returned"] - row["scrapped"] == row["moved_on_hand"])
            row["reserved_ok"] = row["reserved"] == row["open_reservations"] == row["moved_reserved"]
            row["ok"] = row["on_hand_ok"] and row["reserved_ok"] and 0 <= row["reserved"] <= row["on_hand"]
            result.append(row)
        return {"ok": all(r["ok"] for r in result), "skus": result}

    @api.get("/stock/{sku}", dependencies=stock_readers)
    async def stock_item(sku: str) -> dict[str, Any]:
        row = await service.pool.fetchrow("SELECT *, on_hand - reserved AS available FROM stock WHERE sku = $1", sku)
        if row is None:
            raise HTTPException(404, f"no SKU {sku}")
        return dict(row)

    @api.get("/stock/{sku}/movements", dependencies=readers)
    async def movements(sku: str, limit: int = Query(default=500, ge=1, le=1000)) -> list[dict[str, Any]]:
        if not await service.pool.fetchval("SELECT true FROM stock WHERE sku = $1", sku):
            raise HTTPException(404, f"no SKU {sku}")
        rows = await service.pool.fetch(
            "SELECT * FROM stock_movements WHERE sku = $1 ORDER BY id DESC LIMIT $2", sku, limit)
        return [dict(r) for r in rows]

    @api.get("/reservations", dependencies=readers)
    async def reservations(order_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT *, quantity_reserved + quantity_shipped AS quantity_secured FROM reservations"
            " WHERE ($1::text IS NULL OR order_id = $1) AND ($2::text IS NULL OR status = $2)"
            " ORDER BY created_at, sku", order_id, status)
        return [dict(r) for r in rows]

    @api.get("/packages", dependencies=readers)
    async def packages(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM packages WHERE ($1::text IS NULL OR order_id = $1) ORDER BY packed_at", order_id)
        return [dict(r) for r in rows]

    @api.get("/dispatches", dependencies=readers)
    async def dispatches(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM dispatches WHERE ($1::text IS NULL OR order_id = $1) ORDER BY dispatched_at", order_id)
        return [dict(r) for r in rows]

    @api.get("/returns", dependencies=readers)
    async def returns(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM returns WHERE ($1::text IS NULL OR order_id = $1) ORDER BY returned_at", order_id)
        return [dict(r) for r in rows]

    @api.get("/goods-receipts", dependencies=readers)
    async def goods_receipts(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM goods_receipts WHERE ($1::text IS NULL OR order_id = $1) ORDER BY received_at", order_id)
        return [dict(r) for r in rows]

    return api
