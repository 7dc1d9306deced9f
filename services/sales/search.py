"""Sales HTTP API: find orders. `GET /orders` searches by customer, status, creation date range,
order number, external reference and channel, newest first with a stable tie-break (created_at,
then order id), paged with an opaque cursor; `GET /orders/{order_id}` takes the order's id or its
number (`SO-000123`).

Paging: the body is the page (a list, as before paging existed); the next page's cursor is in the
`X-Next-Cursor` header and in `Link: <...>; rel="next"` (RFC 8288), absent on the last page.
A query parameter the endpoint does not know is a 422 naming it: a misspelt filter must not
silently return every order."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from services.runtime.http_auth import requires
from services.runtime.http_hardening import IsoDateOrDateTime
from services.runtime.roles import AUDITOR, CLERK, OPERATOR, SALES_MANAGER
from services.runtime.service import Service
from services.sales import store
from services.sales.saga import Status

ORDER_READERS = (CLERK, SALES_MANAGER, OPERATOR, AUDITOR)   # orders carry customers' addresses
ORDER_NUMBER = re.compile(r"^SO-\d{6,}$")
SEARCH_PARAMETERS = frozenset({"customer_id", "status", "created_from", "created_to", "order_number",
                               "external_ref", "channel", "cursor", "limit"})


def encode_cursor(created_at: dt.datetime, order_id: str) -> str:
    raw = json.dumps({"created_at": created_at.isoformat(), "order_id": order_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """The position after which the next page starts. ValueError for anything not made by us."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = dt.datetime.fromisoformat(raw["created_at"])
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return created_at, uuid.UUID(raw["order_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a cursor returned by this endpoint") from exc


def unknown_parameters(names: list[str]) -> list[dict[str, Any]]:
    """422 entries (FastAPI's format) for query parameters the search does not know."""
    return [{"loc": ["query", name], "msg": f"unknown query parameter {name!r}; known: "
             f"{', '.join(sorted(SEARCH_PARAMETERS))}", "type": "value_error"}
            for name in sorted(set(names) - SEARCH_PARAMETERS)]


def _as_bound(value: dt.date | dt.datetime | None, *, end: bool) -> dt.datetime | None:
    """A date means the whole day (UTC): `created_to=2026-01-31` includes that day."""
    if value is None or isinstance(value, dt.datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    day = dt.datetime.combine(value, dt.time.min, tzinfo=dt.timezone.utc)
    return day + dt.timedelta(days=1) if end else day


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["orders"])

    @api.get("/orders", dependencies=[requires(*ORDER_READERS)],
             responses={422: {"description": "A bad filter value, an unknown query parameter or a bad cursor"}})
    async def search(request: Request, response: Response,
                     customer_id: str | None = Query(default=None, max_length=64),
                     status: list[Status] | None = Query(default=None, description="Repeatable: any of these"),
                     created_from: IsoDateOrDateTime | None = Query(default=None,
                                                                       description="Inclusive (a date: its start)"),
                     created_to: IsoDateOrDateTime | None = Query(default=None,
                                                                     description="Exclusive (a date: its whole day)"),
                     order_number: str | None = Query(default=None, max_length=32),
                     external_ref: str | None = Query(default=None, max_length=100),
                     channel: str | None = Query(default=None, max_length=50),
                     cursor: str | None = Query(default=None, max_length=400,
                                                description="From the X-Next-Cursor header of the previous page"),
                     limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Orders newest first (created_at, then order id: a stable order across pages)."""
        errors = unknown_parameters(list(request.query_params.keys()))
        after = None
        if cursor is not None:
            try:
                after = decode_cursor(cursor)
            except ValueError as exc:
                errors.append({"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"})
        if errors:
            raise RequestValidationError(errors)
        rows, more = await store.search_orders(
            service.pool, customer_id=customer_id, statuses=[s.value for s in status or []],
            created_from=_as_bound(created_from, end=False), created_to=_as_bound(created_to, end=True),
            order_number=order_number, external_ref=external_ref, channel=channel, after=after, limit=limit)
        if more and rows:
            last = rows[-1]
            next_cursor = encode_cursor(last["created_at"], last["order_id"])
            response.headers["X-Next-Cursor"] = next_cursor
            response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
        return rows

    @api.get("/orders/{order_id}", dependencies=[requires(*ORDER_READERS)])
    async def show(order_id: str) -> dict[str, Any]:
        """One order with its timeline, by id (UUID) or by number (SO-000123)."""
        order = await store.get_by_reference(service.pool, order_id)
        if order is None:
            raise HTTPException(404, f"no order {order_id}")
        return order

    return api
