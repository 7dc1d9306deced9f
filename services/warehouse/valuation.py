"""Stock valuation: every ORDERFLOW_STOCK_VALUATION_SECONDS the warehouse values its stock at cost
(on hand x moving average cost, per SKU), keeps the snapshot and publishes it (warehouse.stock_valued)
for the inventory-turnover KPI."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import asyncpg

from contracts import warehouse
from services.runtime.outbox import Tx
from services.warehouse import costing


async def take_snapshot(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        taken_at = dt.datetime.now(dt.timezone.utc)
        snapshot_id = f"VAL-{taken_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        rows = await conn.fetch("SELECT sku, on_hand, COALESCE(NULLIF(unit_cost, 0), standard_cost, 0) AS unit_cost"
                                " FROM stock ORDER BY sku")
        skus = [warehouse.SkuValue(sku=r["sku"], on_hand=r["on_hand"], unit_cost=r["unit_cost"],
                                   value=costing.value(r["on_hand"], r["unit_cost"])) for r in rows]
        await conn.executemany(
            "INSERT INTO stock_valuations (snapshot_id, taken_at, sku, on_hand, unit_cost, value)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(snapshot_id, taken_at, s.sku, s.on_hand, s.unit_cost, s.value) for s in skus])
        total = sum((s.value for s in skus), Decimal("0.00"))
        await Tx(conn, "warehouse").emit(warehouse.StockValued(snapshot_id=snapshot_id, taken_at=taken_at,
                                                               total_value=total, skus=skus),
                                         key="stock", correlation_id="stock")
    return snapshot_id
