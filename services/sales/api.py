"""Sales HTTP API: place, approve, change and cancel orders (finding and showing them: search.py).

Who may do what is declared per endpoint with `requires(...)`; a clerk acts only on orders they
placed (`actions.py`). Every action lands on the order's timeline naming the user, and travels on in the
envelope of the messages it causes (`initiated_by`)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from contracts.common import Address
from services.runtime import tracing
from services.runtime.http_auth import Caller, requires
from services.runtime.http_hardening import IsoDate
from services.runtime.outbox import Tx
from services.runtime.roles import AUDITOR, CLERK, OPERATOR, SALES_MANAGER
from services.runtime.service import Service
from services.sales import handlers, intake, saga, store
from services.sales.actions import Decide, OrderActions
from services.sales.saga import Order, Timings

class OrderAccepted(BaseModel):
    order_id: str
    order_number: str
    status: str
    created: bool


class LineChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(strict=True, ge=0, le=1_000_000, description="New quantity; 0 removes the line")


class ChangeRequest(BaseModel):
    """Only what changes: lines not mentioned keep their quantity."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "lines": [{"sku": "SKU-BOLT-M8", "quantity": 6}, {"sku": "SKU-GEAR-40", "quantity": 0}]}})

    lines: list[LineChange] | None = None
    requested_delivery_date: IsoDate | None = None
    delivery_address: Address | None = None


class CancelRequest(BaseModel):
    reason: str = Field(default="cancelled by the customer", min_length=1, max_length=500)


class SagaAnswer(BaseModel):
    order_id: str
    status: str
    note: str | None


def router(service: Service, timings: Timings) -> APIRouter:
    api = APIRouter(tags=["orders"])

    actions = OrderActions(service, timings)

    async def act(order_id: uuid.UUID, caller: Caller, action: str, decide: Decide,
                  detail: dict[str, Any] | None = None) -> SagaAnswer:
        acted = await actions.act(order_id, caller, action, decide, detail, clerk_may="change or cancel")
        return SagaAnswer(order_id=acted.order.order_id, status=acted.order.status.value, note=acted.decision.note)

    @api.post("/orders", status_code=201, response_model=OrderAccepted,
              responses={200: {"description": "Same external_ref as an earlier order: that order"},
                         422: {"description": "Invalid order; `detail` names each bad field"}})
    async def place(request: intake.OrderRequest, response: Response,
                    caller: Caller = requires(CLERK, SALES_MANAGER)) -> OrderAccepted:
        for attempt in (1, 2):
            try:
                async with service.pool.acquire() as conn, conn.transaction():
                    tx = Tx(conn, service.name, trace=tracing.current_trace() or intake.new_traceparent(),
                            initiated_by=caller.initiator())
                    order, created = await handlers.place_order(tx, request, channel="api", timings=timings)
                break
            except intake.IntakeError as exc:
                raise RequestValidationError(exc.errors) from exc
            except asyncpg.UniqueViolationError:
                # The same external_ref placed concurrently (a client retrying a request still in
                # flight): the other one won; the second attempt answers with its order.
                if attempt == 2 or not request.external_ref:
                    raise
        if not created:
            response.status_code = 200
        return OrderAccepted(order_id=order.order_id, order_number=order.number, status=order.status.value,
                             created=created)

    @api.post("/orders/{order_id}/approve", status_code=202, response_model=SagaAnswer,
              responses={409: {"description": "Not awaiting approval"}})
    async def approve(order_id: uuid.UUID, caller: Caller = requires(SALES_MANAGER)) -> SagaAnswer:
        return await act(order_id, caller, "approve",
                         lambda order, _: saga.approve(order, caller.subject, handlers.now()))

    @api.post("/orders/{order_id}/changes", status_code=202, response_model=SagaAnswer,
              responses={409: {"description": "Not changeable now; `detail` says why"},
                         422: {"description": "Unknown SKU or invalid change"}})
    async def change(order_id: uuid.UUID, request: ChangeRequest,
                     caller: Caller = requires(SALES_MANAGER, CLERK)) -> SagaAnswer:
        async with service.pool.acquire() as conn:
            prices = await store.price_list(conn, await store.order_currency(conn, str(order_id)))
        unknown = [{"loc": ["body", "lines", i, "sku"], "msg": f"unknown or inactive SKU {c.sku!r}",
                    "type": "value_error"} for i, c in enumerate(request.lines or []) if c.sku not in prices]
        if unknown:
            raise RequestValidationError(unknown)

        def decide(order: Order, _: Any) -> saga.Decision:
            lines = None
            if request.lines is not None:
                lines = intake.price_change_lines(order.order_type, list(order.lines),
                                                  {c.sku: c.quantity for c in request.lines}, prices)
                if not lines:
                    raise saga.Refused("a change cannot remove every line; cancel the order instead")
            return saga.request_change(order, lines=lines, address=request.delivery_address,
                                       requested_delivery_date=request.requested_delivery_date, now=handlers.now())
        return await act(order_id, caller, "change", decide, request.model_dump(mode="json", exclude_none=True))

    @api.post("/orders/{order_id}/cancel", status_code=202, response_model=SagaAnswer,
              responses={409: {"description": "Already final, or goods already dispatched"}})
    async def cancel(order_id: uuid.UUID, request: CancelRequest | None = None,
                     caller: Caller = requires(SALES_MANAGER, CLERK)) -> SagaAnswer:
        reason = (request or CancelRequest()).reason
        return await act(order_id, caller, "cancel",
                         lambda order, _: saga.request_cancel(order, reason, handlers.now()), {"reason": reason})

    @api.post("/orders/{order_id}/compensations/retry", status_code=202, response_model=SagaAnswer,
              responses={409: {"description": "No parked compensation"}})
    async def retry_compensations(order_id: uuid.UUID, caller: Caller = requires(OPERATOR)) -> SagaAnswer:
        return await act(order_id, caller, "compensation_retry",
                         lambda order, _: saga.retry_parked(order, handlers.now()))

    @api.get("/alerts", dependencies=[requires(SALES_MANAGER, OPERATOR, AUDITOR)])
    async def alerts(limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Orders that need a person: parked compensations or steps without answer."""
        rows = await service.pool.fetch(
            "SELECT order_id, order_number, status, saga->'alerts' AS alerts, saga->'compensations' AS compensations"
            " FROM orders WHERE jsonb_array_length(COALESCE(saga->'alerts', '[]')) > 0"
            " OR saga->'compensations' @> '[{\"parked\": true}]' ORDER BY updated_at DESC LIMIT $1", limit)
        return [dict(r, order_id=str(r["order_id"])) for r in rows]

    return api
