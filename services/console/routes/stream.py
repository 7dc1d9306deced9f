"""GET /live: server-sent events telling the open page what changed ("order" for the order it
shows, "orders", "risks", "alerts"). Only *that* something changed: the page fetches the new state
through the APIs with the user's own token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette.sse import EventSourceResponse

from services.console import access
from services.console.session import User, needs

PING_SECONDS = 15


def router(console: Any) -> APIRouter:
    api = APIRouter(tags=["live"])

    @api.get("/live")
    async def live(request: Request, order: str | None = None, user: User = needs(*access.ANYONE)
                   ) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, str]]:
            yield {"event": "hello", "data": "live"}
            async with console.hub.subscribe() as queue:
                while True:
                    try:
                        change = await asyncio.wait_for(queue.get(), timeout=PING_SECONDS)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            return
                        continue
                    if order and change.order_id == order:
                        yield {"event": "order", "data": change.type}
                    for kind in sorted(change.kinds()):
                        yield {"event": kind, "data": change.type}
        return EventSourceResponse(events(), ping=PING_SECONDS, headers={"Cache-Control": "no-store",
                                                                          "X-Accel-Buffering": "no"})

    return api
