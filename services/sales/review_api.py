"""Sales HTTP API for people's verdicts: a sales manager's decision on a joint review
(`POST /orders/{id}/review`), a decision an order waits for (`POST /orders/{id}/decision`, by the
roles that own it), and the lists of what waits for them (`GET /reviews`, `GET /decisions`).

Each verdict is a saga transition like any other: the order is locked, the saga decides (a
refusal is a 409 with the reason), the decision is persisted with its messages through the outbox,
and the timeline names the user."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from services.runtime.http_auth import Caller, requires
from services.runtime.roles import AUDITOR, OPERATOR, SALES_MANAGER
from services.runtime.service import Service
from services.sales import handlers, saga
from services.sales.actions import Decide, OrderActions
from services.sales.api import SagaAnswer
from services.sales.saga import Order, Timings
from services.sales.saga.decisions import DECIDERS


class ReviewVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "verdict": "approve", "comment": "long-standing customer; warehouse condition accepted"}})

    verdict: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=1000, description="Shown on the timeline and in the "
                                                                           "review's outcome; required to reject")


class DecisionChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "choice": "accept_later_date", "comment": "customer agreed on the phone"}})

    choice: str = Field(min_length=1, max_length=50, description="One of the decision's `options`")
    comment: str | None = Field(default=None, max_length=1000)


def router(service: Service, timings: Timings) -> APIRouter:
    api = APIRouter(tags=["review and decisions"])

    actions = OrderActions(service, timings)

    async def act(order_id: uuid.UUID, caller: Caller, action: str, decide: Decide,
                  detail: dict[str, Any]) -> SagaAnswer:
        acted = await actions.act(order_id, caller, action, decide, detail)
        return SagaAnswer(order_id=acted.order.order_id, status=acted.order.status.value, note=acted.decision.note)

    @api.post("/orders/{order_id}/review", status_code=202, response_model=SagaAnswer,
              responses={409: {"description": "Not under a joint review, or the departments have not all approved"},
                         422: {"description": "A rejection needs a comment"}})
    async def review(order_id: uuid.UUID, body: ReviewVerdict, caller: Caller = requires(SALES_MANAGER)) -> SagaAnswer:
        """A sales manager approves or rejects an order under joint review, after finance, warehouse
        and logistics have given their opinions (a rejection is possible at any time)."""
        if body.verdict == "reject" and not body.comment:
            raise RequestValidationError([{"loc": ["body", "comment"], "msg": "a rejection needs a comment (the customer is told why)", "type": "missing"}])
        return await act(order_id, caller, f"review_{body.verdict}", lambda order, _: saga.decide_review(
            order, body.verdict == "approve", caller.subject, body.comment, handlers.now(), timings),
            body.model_dump(exclude_none=True))

    @api.post("/orders/{order_id}/decision", status_code=202, response_model=SagaAnswer,
              responses={409: {"description": "No decision pending, not an option, or not the caller's decision"}})
    async def decide(order_id: uuid.UUID, body: DecisionChoice, caller: Caller = requires(*DECIDERS)) -> SagaAnswer:
        """Choose one of a pending decision's options. Each decision names the roles that own it
        (`decision.owner_roles` on the order); a caller holding several acts in the first that owns it."""
        def choose(order: Order, _: Any) -> saga.Decision:
            owners = order.decision.owner_roles if order.decision else ()
            role = next((r for r in owners if r in caller.principal.roles), caller.role)
            return saga.decide(order, body.choice, by=caller.subject, role=role, comment=body.comment,
                               now=handlers.now())
        return await act(order_id, caller, "decision", choose, body.model_dump(exclude_none=True))

    @api.get("/reviews", dependencies=[requires(SALES_MANAGER, OPERATOR, AUDITOR)])
    async def reviews(limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Orders under review: each department's opinion, what is missing, whether a sales manager's
        verdict is due."""
        rows = await service.pool.fetch(
            "SELECT order_id, order_number, customer_id, total, status, saga->'review' AS review FROM orders"
            " WHERE status = 'in_review' ORDER BY created_at LIMIT $1", limit)
        return [dict(r, order_id=str(r["order_id"]), total=str(r["total"])) for r in rows]

    @api.get("/decisions", dependencies=[requires(SALES_MANAGER, *DECIDERS[1:], OPERATOR, AUDITOR)])
    async def decisions(limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Orders waiting for a decision: its options, owner roles, deadline and default."""
        rows = await service.pool.fetch(
            "SELECT order_id, order_number, customer_id, status, saga->'decision' AS decision FROM orders"
            " WHERE status = 'decision_needed' ORDER BY updated_at LIMIT $1", limit)
        return [dict(r, order_id=str(r["order_id"])) for r in rows]

    return api
