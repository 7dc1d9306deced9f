"""Finance read API: credit position, invoices, payments, credit notes, refunds, and each order's
money balance (invoiced - credited = paid - refunded + outstanding)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException

from services.finance.handlers import balance, credit_account
from services.runtime.http_auth import requires
from services.runtime.roles import AUDITOR, FINANCE, SALES_MANAGER
from services.runtime.service import Service


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["finance"])
    readers = [requires(FINANCE, AUDITOR)]                 # money: finance and audit only

    @api.get("/customers/{customer_id}/credit", dependencies=[requires(FINANCE, SALES_MANAGER, AUDITOR)])
    async def credit(customer_id: str) -> dict[str, Any]:
        async with service.pool.acquire() as conn, conn.transaction():
            customer, exposure = await credit_account(conn, customer_id)
        if customer is None:
            raise HTTPException(404, f"no customer {customer_id}")
        return {"customer_id": customer_id, "currency": customer["currency"],
                "credit_limit": str(customer["credit_limit"]),
                "exposure": str(exposure), "available": str(customer["credit_limit"] - exposure)}

    @api.get("/invoices", dependencies=readers)
    async def invoices(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT i.*, b.credited, b.paid, b.refunded, b.outstanding FROM invoices i"
            " JOIN invoice_balances b USING (invoice_number)"
            " WHERE ($1::text IS NULL OR i.order_id = $1) ORDER BY i.issued_at", order_id)
        return [dict(r) for r in rows]

    @api.get("/payments", dependencies=readers)
    async def payments(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM payments WHERE ($1::text IS NULL OR order_id = $1) ORDER BY received_at", order_id)
        return [dict(r) for r in rows]

    @api.get("/credit-notes", dependencies=readers)
    async def credit_notes(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM credit_notes WHERE ($1::text IS NULL OR order_id = $1) ORDER BY issued_at, "
            "credit_note_number", order_id)
        return [dict(r) for r in rows]

    @api.get("/refunds", dependencies=readers)
    async def refunds(order_id: str | None = None) -> list[dict[str, Any]]:
        rows = await service.pool.fetch(
            "SELECT * FROM refunds WHERE ($1::text IS NULL OR order_id = $1) ORDER BY refund_id", order_id)
        return [dict(r) for r in rows]

    @api.get("/orders/{order_id}/balance", dependencies=readers)
    async def order_balance(order_id: str) -> dict[str, Any]:
        """Money of one order. `refunded` counts refunds requested from the provider as well as
        settled ones (`refunds_pending` is the part not yet confirmed); `ok` is the invariant."""
        async with service.pool.acquire() as conn:
            b = await balance(conn, order_id)
            pending = await conn.fetchval(
                "SELECT COALESCE(sum(amount), 0) FROM refunds WHERE order_id = $1 AND status = 'requested'", order_id)
        return {"order_id": order_id, "invoiced": str(b.invoiced), "credited": str(b.credited), "paid": str(b.paid),
                "refunded": str(b.refunded), "outstanding": str(b.outstanding), "ok": b.ok,
                "refunds_pending": str(Decimal(pending).quantize(Decimal("0.01")))}

    return api
