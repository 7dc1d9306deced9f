"""The warehouse's stock risks (contracts/risk.py, kind `stock`), re-assessed whenever a SKU's
stock or its reservations move: `below_reorder` (what is free to promise fell below the reorder
point) and `stockout` (open orders need more than the shelf holds: a projected stock-out, with
the orders waiting). Each closes when its cause goes away (goods received, orders released)."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.risk import RiskKind, RiskSubject, Severity
from services.runtime import risks
from services.runtime.outbox import Tx
from services.warehouse import rules


async def reassess(tx: Tx, skus: Iterable[str]) -> None:
    for sku in sorted(set(skus)):
        stock = await tx.conn.fetchrow("SELECT on_hand - reserved AS available, reorder_point FROM stock"
                                       " WHERE sku = $1", sku)
        available = stock["available"] if stock else 0
        if stock is not None and rules.is_low(available, stock["reorder_point"]):
            await risks.raise_risk(tx, kind=RiskKind.STOCK, cause="below_reorder", subject=RiskSubject(sku=sku),
                                   summary=f"{sku}: {available} free, below the reorder point {stock['reorder_point']}",
                                   severity=Severity.WARNING if available > 0 else Severity.CRITICAL)
        else:
            await risks.close(tx, RiskKind.STOCK, "below_reorder", sku, f"{available} free")
        short = await tx.conn.fetch(
            "SELECT order_id, quantity_requested - quantity_reserved - quantity_shipped AS missing FROM reservations"
            " WHERE sku = $1 AND status = 'open' AND quantity_requested > quantity_reserved + quantity_shipped"
            " ORDER BY created_at", sku)
        missing = sum(r["missing"] for r in short)
        if missing > 0:
            orders = ", ".join(r["order_id"] for r in short[:5]) + (" ..." if len(short) > 5 else "")
            await risks.raise_risk(tx, kind=RiskKind.STOCK, cause="stockout", subject=RiskSubject(sku=sku),
                                   summary=f"{sku}: open orders need {missing} more than the shelf holds ({orders})",
                                   severity=Severity.WARNING)
        else:
            await risks.close(tx, RiskKind.STOCK, "stockout", sku, "every open order is covered")
