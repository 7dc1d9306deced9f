"""Finance HTTP API for credit control: reminders issued, customers on credit hold and the orders
waiting for finance; a person lifts a hold, or approves or rejects one waiting order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from services.finance import credit_control, store
from services.finance.handlers import review_credit
from services.runtime.http_auth import Caller, requires
from services.runtime.outbox import Tx
from services.runtime.roles import AUDITOR, FINANCE, SALES_MANAGER
from services.runtime.service import Service


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why; recorded with your name")


def router(service: Service, config: credit_control.CreditConfig) -> APIRouter:
    api = APIRouter(tags=["credit control"])

    @api.get("/dunning-notices", dependencies=[requires(FINANCE, AUDITOR)])
    async def notices(customer_id: str | None = Query(default=None, max_length=64),
                      invoice_number: str | None = Query(default=None, max_length=32),
                      order_id: str | None = Query(default=None, max_length=64)) -> list[dict[str, Any]]:
        """Reminder levels reached by overdue invoices (fees and interest, the charge invoice)."""
        return await store.dunning_notices(service.pool, customer_id=customer_id, invoice_number=invoice_number,
                                           order_id=order_id)

    @api.get("/credit-holds", dependencies=[requires(FINANCE, SALES_MANAGER, AUDITOR)])
    async def holds(include_lifted: bool = False) -> list[dict[str, Any]]:
        """Customers on credit hold, why, and the orders waiting for finance."""
        return await store.credit_holds(service.pool, include_lifted)

    @api.post("/credit-holds/{customer_id}/lift", responses={404: {"description": "Not on hold"}})
    async def lift(customer_id: str, body: Decision, caller: Caller = requires(FINANCE)) -> dict[str, Any]:
        """Lift a hold by hand: the waiting orders are reviewed at once (the normal credit check)."""
        async with service.pool.acquire() as conn, conn.transaction():
            if await store.lock_customer(conn, customer_id) is None or await store.credit_hold(conn, customer_id) is None:
                raise HTTPException(404, f"{customer_id} is not on credit hold")
            tx = Tx(conn, service.name, initiated_by=caller.initiator())
            await credit_control.lift(tx, customer_id, f"lifted by {caller.subject}: {body.reason}", review_credit)
        return {"customer_id": customer_id, "status": "lifted"}

    async def decide(order_id: str, approve: bool, body: Decision, caller: Caller) -> dict[str, Any]:
        async with service.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, service.name, initiated_by=caller.initiator())
            if not await credit_control.decide_waiting(tx, order_id, approve, body.reason, review_credit):
                raise HTTPException(404, f"order {order_id} is not waiting for finance")
        return {"order_id": order_id, "decision": "approve" if approve else "reject"}

    @api.post("/credit-holds/orders/{order_id}/approve", responses={404: {"description": "Not waiting"}})
    async def approve(order_id: str, body: Decision, caller: Caller = requires(FINANCE)) -> dict[str, Any]:
        """Let one waiting order through despite the hold (its credit limit is still checked)."""
        return await decide(order_id, True, body, caller)

    @api.post("/credit-holds/orders/{order_id}/reject", responses={404: {"description": "Not waiting"}})
    async def reject(order_id: str, body: Decision, caller: Caller = requires(FINANCE)) -> dict[str, Any]:
        """Reject one waiting order with the reason (the order is rejected)."""
        return await decide(order_id, False, body, caller)

    return api
