"""One way for a person to act on an order over HTTP (approve, change, cancel, review, decide,
returns): lock the order, let the saga decide, persist the decision with its messages through the
outbox, and name the user on the timeline and in the envelopes (`initiated_by`).

A saga refusal is a 409 with the reason, an unknown order a 404, and a clerk acting on an order
somebody else placed a 403 (a sales manager may act on any)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import HTTPException

from services.runtime.http_auth import Caller
from services.runtime.outbox import Tx
from services.runtime.roles import CLERK
from services.runtime.service import Service
from services.sales import handlers, saga, store
from services.sales.saga import Order, Timings

Decide = Callable[[Order, asyncpg.Connection], "saga.Decision | Awaitable[saga.Decision]"]


async def lock_for(conn: asyncpg.Connection, order_id: Any, caller: Caller, clerk_may: str) -> Order:
    """The order, locked for this transaction, if the caller may act on it (else 404 or 403)."""
    order = await store.lock(conn, str(order_id))
    if order is None:
        raise HTTPException(404, f"no order {order_id}")
    if caller.role == CLERK and (owner := await store.placed_by(conn, order.order_id)) != caller.subject:
        raise HTTPException(403, f"a clerk may {clerk_may} only the orders they placed; {order.number} "
                                 f"was placed by {owner or 'another system'} (a sales_manager may)")
    return order


@dataclass(frozen=True)
class Acted:
    order: Order                 # the order after the decision was applied
    decision: saga.Decision


@dataclass(frozen=True)
class OrderActions:
    service: Service
    timings: Timings

    async def act(self, order_id: Any, caller: Caller, action: str, decide: Decide,
                  detail: dict[str, Any] | None = None, *, clerk_may: str = "act on") -> Acted:
        """`clerk_may` completes "a clerk may ... only the orders they placed" in the 403."""
        async with self.service.pool.acquire() as conn, conn.transaction():
            order = await lock_for(conn, order_id, caller, clerk_may)
            try:
                decision = decide(order, conn)
                if inspect.isawaitable(decision):
                    decision = await decision
            except saga.Refused as exc:
                raise HTTPException(409, str(exc)) from exc
            by = caller.initiator()
            await store.add_action(conn, order.order_id, action, by, detail)
            after = await handlers.apply(Tx(conn, self.service.name, initiated_by=by), order, decision, self.timings)
        return Acted(after, decision)
