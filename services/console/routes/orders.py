"""Orders: the list with search and paging, one order's detail (swimlanes, lines, shipments,
invoices, payments), the place-order form, and the actions on an order (approve, review verdict,
decision, change, cancel, compensation retry). Each action is a plain HTML form (works without
JavaScript): POST, then a redirect back with the API's answer, a 409's reason or a 422's fields."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.common import FulfilmentPolicy, OrderType, PaymentMethod
from services.console import access
from services.console.api import ApiError
from services.console.session import User, needs
from services.runtime.roles import CLERK

STATUSES = ("received", "in_review", "decision_needed", "awaiting_approval", "credit_check", "awaiting_payment",
            "reserving", "awaiting_stock", "picking", "booking", "dispatching", "invoicing", "backordered", "shipped",
            "changing", "cancelling", "completed", "rejected", "cancelled")
FINAL = {"completed", "rejected", "cancelled"}
SEARCH_FIELDS = ("order_number", "customer_id", "status", "created_from", "created_to")
LINE_ROWS = 4
MAX_LIMIT = 1000


def _flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session["flash"] = {"kind": kind, "text": text}


def router(console: Any) -> APIRouter:
    api = APIRouter(tags=["orders"])
    departments = console.departments
    page_size = console.settings.console_page_size

    # --- list -----------------------------------------------------------------------------------

    async def search(user: User, query: dict[str, str]) -> dict[str, Any]:
        """The list as the deployed sales API can give it: filters and cursor paging where it has
        them (read from its OpenAPI document), else the newest orders by status with a growing limit."""
        offered = (await console.capabilities.of(user, "sales")).query("GET", "/orders")
        fields = [f for f in SEARCH_FIELDS if f in offered] or ["status"]
        params: dict[str, Any] = {f: query.get(f) for f in fields}
        pages_by_cursor = "cursor" in offered
        limit = page_size
        if pages_by_cursor:
            params["cursor"] = query.get("cursor")
        else:
            try:
                limit = min(max(int(query.get("limit") or page_size), 1), MAX_LIMIT)
            except ValueError:
                limit = page_size
        errors: dict[str, str] = {}
        try:
            rows, next_cursor = await departments.page(user, "sales", "/orders", limit=limit, **params)
        except ApiError as exc:
            if exc.status != 422:
                raise
            rows, next_cursor, errors = [], None, exc.fields or {"(request)": exc.detail}
        kept = {k: v for k, v in params.items() if v and k != "cursor"}
        if pages_by_cursor:
            more = f"/orders?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None
        else:
            more = (f"/orders?{urlencode({**kept, 'limit': limit + page_size})}"
                    if len(rows) >= limit and limit < MAX_LIMIT else None)
        return {"rows": rows, "fields": fields, "query": {f: query.get(f, "") for f in SEARCH_FIELDS},
                "more": more, "first_page": f"/orders?{urlencode(kept)}" if query.get("cursor") else None,
                "errors": errors, "statuses": STATUSES, "rows_url": f"/orders/rows?{urlencode(dict(query))}",
                "paged_by_cursor": pages_by_cursor}

    @api.get("/")
    async def home(request: Request, user: User = needs(*access.ANYONE)) -> Response:
        pages = access.pages_for(user.roles)
        return RedirectResponse(pages[0].path if pages else "/whoami", status_code=303)

    @api.get("/whoami")
    async def whoami(request: Request, user: User = needs(*access.ANYONE)) -> Response:
        return console.render(request, "whoami.html", user=user)

    @api.get("/orders")
    async def orders(request: Request, user: User = needs(*access.ORDER_READERS)) -> Response:
        return console.render(request, "orders.html", await search(user, dict(request.query_params)), user=user)

    @api.get("/orders/rows")
    async def order_rows(request: Request, user: User = needs(*access.ORDER_READERS)) -> Response:
        """The list's rows alone: what a live update swaps in."""
        return console.render(request, "_order_rows.html", await search(user, dict(request.query_params)), user=user)

    # --- place ----------------------------------------------------------------------------------

    async def skus(user: User) -> list[dict[str, Any]]:
        if not user.has(*access.STOCK_READERS):
            return []
        try:
            return await departments.get(user, "warehouse", "/stock")
        except ApiError:
            return []                       # a form without suggestions still works

    def form_context(form: dict[str, str], errors: dict[str, str], stock: list[dict[str, Any]]) -> dict[str, Any]:
        address_open = "delivery_address" in errors or any(
            k.startswith("address_") and (v or k in errors) for k, v in {**form, **errors}.items())
        return {"form": form, "errors": errors, "error_label": error_label, "stock": stock, "line_rows": range(LINE_ROWS), "address_open": address_open,
                "order_types": [t.value for t in OrderType], "payment_methods": [p.value for p in PaymentMethod],
                "policies": [p.value for p in FulfilmentPolicy]}

    @api.get("/orders/new")
    async def new_order(request: Request, user: User = needs(*access.ORDER_PLACERS)) -> Response:
        defaults = {"order_type": "standard", "payment_method": "invoice", "fulfilment_policy": "ship_complete"}
        return console.render(request, "place_order.html", form_context(defaults, {}, await skus(user)), user=user)

    @api.post("/orders/new")
    async def place_order(request: Request, user: User = needs(*access.ORDER_PLACERS)) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        body, row_of_line = order_body(form)
        try:
            placed = await departments.post(user, "sales", "/orders", body)
        except ApiError as exc:
            if exc.status != 422:
                errors = {"(request)": f"{exc.service} answered {exc.status}: {exc.detail}"}
            else:
                errors = form_errors(exc.fields, row_of_line)
            return console.render(request, "place_order.html", form_context(form, errors, await skus(user)),
                                  user=user, status_code=422 if exc.status == 422 else exc.status)
        _flash(request, f"Order {placed['order_number']} placed"
                        + ("" if placed.get("created", True) else " (it existed already: same reference)"))
        return RedirectResponse(f"/orders/{placed['order_id']}", status_code=303)

    # --- detail -----------------------------------------------------------------------------------

    async def detail(user: User, order_id: str) -> dict[str, Any]:
        order = await departments.get(user, "sales", f"/orders/{order_id}")
        wanted: dict[str, Any] = {}
        if user.has(*access.SHIPMENT_READERS):
            wanted["shipments"] = departments.get(user, "logistics", "/shipments", order_id=order["order_id"])
        if user.has(*access.MONEY_READERS):
            wanted["invoices"] = departments.get(user, "finance", "/invoices", order_id=order["order_id"])
            wanted["payments"] = departments.get(user, "finance", "/payments", order_id=order["order_id"])
        answers = await asyncio.gather(*wanted.values(), return_exceptions=True)
        extra: dict[str, Any] = {}
        problems: list[str] = []
        for name, answer in zip(wanted, answers):
            if isinstance(answer, ApiError):
                problems.append(f"{name}: {answer.detail}")
            elif isinstance(answer, BaseException):
                raise answer
            else:
                extra[name] = answer
        return {"order": order, **extra, "problems": problems, "final": order["status"] in FINAL,
                "actions": actions_for(user, order)}

    @api.get("/orders/{order_id}")
    async def order_page(request: Request, order_id: str, user: User = needs(*access.ORDER_READERS)) -> Response:
        return console.render(request, "order.html", await detail(user, order_id), user=user)

    @api.get("/orders/{order_id}/live")
    async def order_live(request: Request, order_id: str, user: User = needs(*access.ORDER_READERS)) -> Response:
        """The part of the order page that changes (everything under the title): a live update swaps it."""
        return console.render(request, "_order_live.html", await detail(user, order_id), user=user)

    # --- actions ----------------------------------------------------------------------------------

    async def act(request: Request, order_id: str, user: User, path: str, body: Any, done: str) -> Response:
        try:
            answer = await departments.post(user, "sales", f"/orders/{order_id}{path}", body)
        except ApiError as exc:
            what = {409: "Refused", 403: "Not allowed", 422: "Not accepted"}.get(exc.status, f"Failed ({exc.status})")
            _flash(request, f"{what}: {exc.detail}", "error")
        else:
            _flash(request, f"{done}: the order is {answer.get('status')}" + (f" — {answer['note']}"
                                                                              if answer.get("note") else ""))
        return RedirectResponse(f"/orders/{order_id}", status_code=303)

    @api.post("/orders/{order_id}/approve")
    async def approve(request: Request, order_id: str, user: User = needs(*access.APPROVERS)) -> Response:
        return await act(request, order_id, user, "/approve", None, "Approved")

    @api.post("/orders/{order_id}/review")
    async def review(request: Request, order_id: str, user: User = needs(*access.APPROVERS)) -> Response:
        form = await request.form()
        body = {"verdict": form.get("verdict"), "comment": form.get("comment") or None}
        return await act(request, order_id, user, "/review", body, f"Review: {form.get('verdict')}")

    @api.post("/orders/{order_id}/decision")
    async def decision(request: Request, order_id: str, user: User = needs(*access.DECIDERS)) -> Response:
        form = await request.form()
        body = {"choice": form.get("choice"), "comment": form.get("comment") or None}
        return await act(request, order_id, user, "/decision", body, f"Decided: {form.get('choice')}")

    @api.post("/orders/{order_id}/changes")
    async def change(request: Request, order_id: str, user: User = needs(*access.ORDER_CHANGERS)) -> Response:
        form = await request.form()
        lines = []
        for key, value in form.multi_items():
            if key.startswith("qty:") and isinstance(value, str) and value.strip() != "":
                lines.append({"sku": key[4:], "quantity": _number(value)})
        body: dict[str, Any] = {"lines": lines} if lines else {}
        if form.get("requested_delivery_date"):
            body["requested_delivery_date"] = form.get("requested_delivery_date")
        return await act(request, order_id, user, "/changes", body, "Change requested")

    @api.post("/orders/{order_id}/cancel")
    async def cancel(request: Request, order_id: str, user: User = needs(*access.ORDER_CHANGERS)) -> Response:
        form = await request.form()
        body = {"reason": form.get("reason")} if form.get("reason") else None
        return await act(request, order_id, user, "/cancel", body, "Cancellation requested")

    @api.post("/orders/{order_id}/compensations/retry")
    async def retry(request: Request, order_id: str, user: User = needs(*access.RETRIERS)) -> Response:
        return await act(request, order_id, user, "/compensations/retry", None, "Compensations re-sent")

    return api


def _number(value: str) -> Any:
    """An integer when it is one; otherwise the text as typed, so that the API's 422 names it."""
    try:
        return int(value.strip())
    except ValueError:
        return value


def order_body(form: dict[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The POST /orders body from the form, and which form row each sent line came from."""
    body: dict[str, Any] = {"customer_id": form.get("customer_id", "").strip()}
    for name in ("order_type", "payment_method", "fulfilment_policy", "requested_delivery_date", "external_ref",
                 "special_reason"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    if form.get("payment_terms_days", "").strip():
        body["payment_terms_days"] = _number(form["payment_terms_days"])
    if form.get("special"):
        body["special"] = True
    lines, rows = [], []
    for row in range(LINE_ROWS):
        sku, quantity = form.get(f"sku_{row}", "").strip(), form.get(f"quantity_{row}", "").strip()
        if sku or quantity:
            lines.append({"sku": sku, "quantity": _number(quantity) if quantity else None})
            rows.append(row)
    body["lines"] = lines
    address = {k: form.get(f"address_{k}", "").strip() for k in ("name", "street", "city", "postal_code", "country")}
    if any(address.values()):
        body["delivery_address"] = address
    return body, rows


def form_errors(fields: dict[str, str], row_of_line: list[int]) -> dict[str, str]:
    """The API's field paths as the form's field names (lines.1.quantity -> quantity_<row>)."""
    out: dict[str, str] = {}
    for path, message in fields.items():
        parts = path.split(".")
        if parts[0] == "lines" and len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) < len(row_of_line):
            key = f"{parts[2]}_{row_of_line[int(parts[1])]}"
        elif parts[0] == "delivery_address" and len(parts) >= 2:
            key = f"address_{parts[1]}"
        else:
            key = parts[0]
        out[key] = f"{out[key]}; {message}" if key in out else message
    return out


def error_label(key: str) -> str:
    """A form field's name as a person reads it: quantity_0 -> "line 1 quantity"."""
    head, _, tail = key.rpartition("_")
    if tail.isdigit() and head in ("sku", "quantity"):
        return f"line {int(tail) + 1} {head}"
    if key.startswith("address_"):
        return "delivery address " + key[len("address_"):].replace("_", " ")
    return key.replace("_", " ")


def actions_for(user: User, order: dict[str, Any]) -> dict[str, Any]:
    """Which action forms the order page offers this user now (the API decides in the end)."""
    status = order["status"]
    final = status in FINAL
    own = order.get("placed_by") == user.subject
    decision = order.get("decision") or {}
    review = order.get("review") or {}
    parked = any(c.get("parked") for c in order.get("compensations") or [])
    may_change = user.has("sales_manager") or (user.has(CLERK) and own)
    return {
        "approve": status == "awaiting_approval" and user.has(*access.APPROVERS),
        "review": status == "in_review" and bool(review.get("joint")) and user.has(*access.APPROVERS),
        "decision": (status == "decision_needed" and bool(decision)
                     and user.has(*decision.get("owner_roles", ())) and decision.get("options")),
        "change": not final and status not in ("cancelling",) and may_change,
        "cancel": not final and status != "cancelling" and may_change,
        "retry": parked and user.has(*access.RETRIERS),
        "clerk_not_owner": user.has(CLERK) and not user.has("sales_manager") and not own and not final,
    }
