"""Sales HTTP API for returns after delivery (RMA): a clerk or sales manager asks for one, a sales
manager approves or rejects it; the warehouse receives and inspects (warehouse /rmas), finance
credits and refunds. The saga's rules: saga/returns.py."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from contracts.common import ReturnReason, StockLine
from services.runtime.http_auth import Caller, requires
from services.runtime.roles import AUDITOR, CLERK, OPERATOR, SALES_MANAGER
from services.runtime.service import Service
from services.sales import handlers, saga, store
from services.sales.actions import Decide, OrderActions
from services.sales.saga import Order, Timings
from services.sales.search import ORDER_READERS


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "lines": [{"sku": "SKU-BOLT-M8", "quantity": 2}], "reason": "damaged", "comment": "box crushed"}})

    lines: list[StockLine] = Field(min_length=1, max_length=200)
    reason: ReturnReason
    comment: str | None = Field(default=None, max_length=1000)


class ReturnDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500, description="Required when rejecting")


def router(service: Service, timings: Timings) -> APIRouter:
    api = APIRouter(tags=["returns"])

    actions = OrderActions(service, timings)

    async def act(order_id: uuid.UUID, caller: Caller, action: str, decide: Decide,
                  detail: dict[str, Any]) -> dict[str, Any]:
        acted = await actions.act(order_id, caller, action, decide, detail, clerk_may="ask for returns of")
        case = next(c for c in acted.order.returns if c.rma == detail["rma"])
        return {"order_id": acted.order.order_id, "order_number": acted.order.number, **case.model_dump(mode="json")}

    @api.post("/orders/{order_id}/returns", status_code=201,
              responses={409: {"description": "Not delivered, or more than is returnable"}})
    async def request(order_id: uuid.UUID, body: ReturnRequest,
                      caller: Caller = requires(CLERK, SALES_MANAGER)) -> dict[str, Any]:
        """Ask to return delivered goods; a sales manager decides."""
        detail: dict[str, Any] = {}

        async def decide(order: Order, conn: Any) -> saga.Decision:
            detail["rma"] = rma = await store.next_rma(conn)
            detail.update(body.model_dump(mode="json"))
            return saga.request_return(order, rma, body.lines, body.reason, body.comment, caller.subject,
                                       handlers.now())
        return await act(order_id, caller, "return_request", decide, detail)

    @api.post("/orders/{order_id}/returns/{rma}/approve", responses={409: {"description": "Not awaiting a decision"}})
    async def approve(order_id: uuid.UUID, rma: str, body: ReturnDecision | None = None,
                      caller: Caller = requires(SALES_MANAGER)) -> dict[str, Any]:
        note = (body or ReturnDecision()).note

        async def decide(order: Order, _: Any) -> saga.Decision:
            return saga.decide_return(order, rma, True, caller.subject, note, handlers.now())
        return await act(order_id, caller, "return_approve", decide, {"rma": rma, "note": note})

    @api.post("/orders/{order_id}/returns/{rma}/reject", responses={409: {"description": "Not awaiting a decision"}})
    async def reject(order_id: uuid.UUID, rma: str, body: ReturnDecision,
                     caller: Caller = requires(SALES_MANAGER)) -> dict[str, Any]:
        if not body.note:
            raise RequestValidationError([{"loc": ["body", "note"], "msg": "a rejection needs a note saying why", "type": "missing"}])

        async def decide(order: Order, _: Any) -> saga.Decision:
            return saga.decide_return(order, rma, False, caller.subject, body.note, handlers.now())
        return await act(order_id, caller, "return_reject", decide, {"rma": rma, "note": body.note})

    @api.get("/orders/{order_id}/returns", dependencies=[requires(*ORDER_READERS)])
    async def of_order(order_id: uuid.UUID) -> dict[str, Any]:
        saga_doc = await store.saga_document(service.pool, order_id)
        if not saga_doc:
            raise HTTPException(404, f"no order {order_id}")
        order = Order.model_validate(saga_doc)
        return {"order_id": order.order_id, "order_number": order.number, "returnable": saga.returnable(order),
                "returns": [c.model_dump(mode="json") for c in order.returns]}

    @api.get("/returns", dependencies=[requires(SALES_MANAGER, OPERATOR, AUDITOR)])
    async def all_returns(status: str | None = Query(default=None, pattern="^(requested|approved|rejected|received|"
                                                                          "inspected|completed)$"),
                          limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Returns of every order, newest first (e.g. `status=requested`: waiting for a decision)."""
        return await store.orders_with_returns(service.pool, status, limit)

    return api
