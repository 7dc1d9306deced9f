"""Sales HTTP API: place, show (with timeline) and list orders."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from services.runtime.outbox import Tx
from services.runtime.service import Service
from services.sales import handlers, intake, store
from services.sales.saga import Status


class OrderAccepted(BaseModel):
    order_id: str
    order_number: str
    status: str
    created: bool


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["orders"])

    @api.post("/orders", status_code=201, response_model=OrderAccepted,
              responses={200: {"description": "Same external_ref as an earlier order: that order"},
                         422: {"description": "Invalid order; `detail` names each bad field"}})
    async def place(request: intake.OrderRequest, response: Response) -> OrderAccepted:
        async with service.pool.acquire() as conn, conn.transaction():
            try:
                order, created = await handlers.place_order(
                    Tx(conn, service.name, trace=intake.new_traceparent()), request, channel="api")
            except intake.IntakeError as exc:
                raise RequestValidationError(exc.errors) from exc
        if not created:
            response.status_code = 200
        return OrderAccepted(order_id=order.order_id, order_number=order.number, status=order.status.value,
                             created=created)

    @api.get("/orders/{order_id}")
    async def show(order_id: uuid.UUID) -> dict[str, Any]:
        order = await store.get(service.pool, order_id)
        if order is None:
            raise HTTPException(404, f"no order {order_id}")
        return order

    @api.get("/orders")
    async def list_(status: Status | None = Query(default=None), limit: int = Query(default=100, ge=1, le=1000)
                    ) -> list[dict[str, Any]]:
        return await store.list_orders(service.pool, status.value if status else None, limit)

    return api
