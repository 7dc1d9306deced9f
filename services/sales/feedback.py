"""Sales HTTP API: customer feedback on an order. After delivery the customer is asked (the
`delivered` notification); its answer, a rating 1-5 and a comment, is recorded by a clerk or sales
manager: one per order, which can be changed for ORDERFLOW_FEEDBACK_EDIT_SECONDS after it was first
given (default 14 days). Each one is a `sales.feedback_received` event (the KPIs read it)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts import sales
from services.runtime.http_auth import Caller, requires
from services.runtime.outbox import Tx
from services.runtime.roles import CLERK, SALES_MANAGER
from services.runtime.service import Service
from services.sales import store
from services.sales.actions import lock_for
from services.sales.search import ORDER_READERS


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"rating": 4, "comment": "fast, well packed"}})

    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


def may_change(given_at: dt.datetime, now: dt.datetime, window: dt.timedelta) -> bool:
    return now < given_at + window


def router(service: Service, edit_window: dt.timedelta) -> APIRouter:
    api = APIRouter(tags=["feedback"])

    @api.post("/orders/{order_id}/feedback", status_code=201,
              responses={200: {"description": "Changed (within the edit window)"},
                         409: {"description": "Nothing delivered yet, or too late to change"}})
    async def give(order_id: uuid.UUID, body: Feedback, response: Response,
                   caller: Caller = requires(CLERK, SALES_MANAGER)) -> dict[str, Any]:
        now = dt.datetime.now(dt.timezone.utc)
        async with service.pool.acquire() as conn, conn.transaction():
            order = await lock_for(conn, order_id, caller, clerk_may="give feedback on")
            if not order.delivered:
                raise HTTPException(409, f"{order.number} is not delivered yet: feedback comes after delivery")
            earlier = await store.feedback(conn, order_id, lock=True)
            if earlier is not None and not may_change(earlier["given_at"], now, edit_window):
                raise HTTPException(409, f"the feedback on {order.number} was given on {earlier['given_at']:%Y-%m-%d} "
                                         f"and can be changed for {edit_window} only")
            by = caller.initiator()
            saved = await store.save_feedback(conn, order_id, order.customer_id, body.rating, body.comment,
                                              by.model_dump())
            await store.add_action(conn, order.order_id, "feedback", by, body.model_dump())
            await Tx(conn, service.name, initiated_by=by).emit(sales.FeedbackReceived(
                order_id=order.order_id, order_number=order.number, customer_id=order.customer_id,
                rating=body.rating, comment=body.comment, revision=saved["revisions"]),
                key=order.order_id, correlation_id=order.order_id)
        if earlier is not None:
            response.status_code = 200
        return {**dict(saved), "order_id": str(saved["order_id"]), "order_number": order.number}

    @api.get("/orders/{order_id}/feedback", dependencies=[requires(*ORDER_READERS)],
             responses={404: {"description": "No such order"}})
    async def read(order_id: uuid.UUID) -> dict[str, Any]:
        """The order's feedback: `given` false until the customer has rated it (a new order is not
        a missing resource, so no 404 for it)."""
        async with service.pool.acquire() as conn:
            found = await store.feedback(conn, order_id)
            if found is None and not await store.order_exists(conn, str(order_id)):
                raise HTTPException(404, f"no order {order_id}")
        if found is None:
            return {"order_id": str(order_id), "given": False}
        return {**dict(found), "order_id": str(found["order_id"]), "given": True}

    return api
