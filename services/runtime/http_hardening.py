"""Edge hardening of every service's HTTP API: no input produces a 5xx, every refusal is a clear,
bounded, documented answer.

- `RequestGuard` (pure ASGI, inside the authentication middleware, so refusals are audited with
  their caller): a body over ORDERFLOW_HTTP_MAX_BODY_BYTES is a 413 (by Content-Length, or while it
  is read); text that JSON or PostgreSQL cannot carry is a 422 naming where it is: NUL characters,
  lone surrogates or invalid UTF-8 in the path, the query or a JSON body, and NaN/Infinity or
  numbers too large to be finite in a JSON body (Python's json module accepts all of those).
- 422 answers (`validation_failed`) never echo more than a bounded excerpt of what was sent.
- A dependency that is down (the database; `DependencyUnavailable` before it was ever reached) is
  a 503 with `Retry-After`, never a 500.
- `document` adds these answers (404 for operations with path parameters, 409 where an operation
  declares it, 413, 422, 503) to every operation of the OpenAPI document, and says that text holds
  no NUL (a `pattern` on every free-text string).
- `StrictCount`, `IsoDate`, `IsoDateTime`: request-model types that take only what the document
  says (no "1" or true for a count, no 0 for a date, no "0.5" for a date-time).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

import asyncpg
from pydantic import BeforeValidator, Field
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_ERRORS = 20           # validation errors returned in one 422
MAX_INPUT_EXCERPT = 120   # characters of a bad value echoed back
MAX_MESSAGE = 300
RETRY_AFTER_SECONDS = 5

# Request bodies take whole numbers strictly: "1" or true is not a quantity.
StrictCount = Annotated[int, Field(strict=True)]
MAX_KEY = 2**63 - 1                          # a BIGSERIAL key: larger ids cannot exist (and overflow the column)
MAX_AGE_SECONDS = 100 * 366 * 86_400         # an age filter beyond a century overflows PostgreSQL's interval


def _iso_datetime(value: Any) -> Any:
    """ISO 8601 text only (pydantic would also take "0.5" as a Unix time), naive meaning UTC, and
    within what PostgreSQL's timestamptz holds."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time, e.g. 2031-01-01T09:00:00Z") from None
    else:
        raise ValueError("must be an ISO 8601 date-time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    try:
        return parsed.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError("date-time out of range") from None


IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]


def _iso_date(value: Any) -> Any:
    """YYYY-MM-DD text only (pydantic would also take 0 as 1970-01-01)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be an ISO 8601 date, e.g. 2031-01-15")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _iso_day_or_moment(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10:
        return _iso_date(value)
    return _iso_datetime(value)


# A filter bound: a day (YYYY-MM-DD, the caller decides what a day means) or a moment, ISO text only.
IsoDateOrDateTime = Annotated[dt.date | dt.datetime, BeforeValidator(_iso_day_or_moment)]


class DependencyUnavailable(Exception):
    """A dependency (database, broker) is not reachable now; the request may be retried later."""

    def __init__(self, dependency: str, detail: str = "") -> None:
        super().__init__(f"{dependency} unavailable" + (f": {detail}" if detail else ""))
        self.dependency = dependency


# Errors that mean "the database is down or restarting", not "this request is bad".
DATABASE_DOWN: tuple[type[BaseException], ...] = (
    OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError)


# --- text the storage and the JSON encoder can carry ---------------------------------------------

def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored or echoed (NUL, lone surrogate), or None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    return None


def safe_text(value: str, limit: int = MAX_INPUT_EXCERPT) -> str:
    """An excerpt that any JSON encoder and any log can carry."""
    cleaned = value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + f"... ({len(value)} characters)"


def excerpt(value: Any) -> Any:
    """A bounded, encodable stand-in for a bad input value."""
    if value is None or isinstance(value, bool | int) and abs(value) < 10 ** 18:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return safe_text(value)
    try:
        dumped = json.dumps(value, default=str, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        dumped = repr(value)
    return safe_text(dumped)


def _walk(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    """(location, problem, value) for every string or number a JSON body cannot carry on."""
    if isinstance(value, str):
        if problem := text_problem(value):
            yield loc, problem, value
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield loc, "must be a finite number", value
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := text_problem(key):
                yield (*loc, safe_text(key, 40)), f"field name {problem}", key
            yield from _walk(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*loc, index))


def _reject_constant(name: str) -> float:
    return float(name)      # NaN, Infinity, -Infinity: kept as floats so that _walk names where they are


def body_problems(body: bytes) -> list[dict[str, Any]]:
    """422 errors for a JSON body: not JSON at all, or values nobody downstream can carry."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:      # includes UnicodeDecodeError
        return [{"type": "json_invalid", "loc": ["body"], "msg": safe_text(f"not valid JSON: {exc}", MAX_MESSAGE),
                 "input": safe_text(body.decode("utf-8", "replace"))}]
    return [{"type": "value_error", "loc": ["body", *loc], "msg": problem, "input": excerpt(bad)}
            for loc, problem, bad in list(_walk(value, ()))[:MAX_ERRORS]]


def url_problems(scope: Scope) -> list[dict[str, Any]]:
    """422 errors for the path and the query string: percent-encoded NUL, invalid UTF-8, surrogates."""
    errors = []
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    for where, raw in [("path", raw_path), *(("query", part) for part in (scope.get("query_string") or b"").split(b"&"))]:
        if not raw:
            continue
        name, _, value = raw.partition(b"=") if where == "query" else (b"", b"", raw)
        try:
            text = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
            key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            errors.append({"type": "value_error", "loc": [where, safe_text(name.decode("latin-1"), 40)],
                           "msg": "must be valid UTF-8", "input": safe_text(value.decode("latin-1"))})
            continue
        problem = text_problem(text) or text_problem(key)
        if problem:
            errors.append({"type": "value_error", "loc": [where, safe_text(key, 40)] if where == "query" else [where],
                           "msg": problem, "input": safe_text(text)})
    return errors[:MAX_ERRORS]


# --- the ASGI guard ------------------------------------------------------------------------------

def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class RequestGuard:
    """Body size limit and the text checks above, before the app parses anything."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if errors := url_problems(scope):
            await _unprocessable(errors)(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large()(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":        # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        # FastAPI parses a body without a content type as JSON too.
        if body and _is_json(headers.get("content-type") or "application/json") and (errors := body_problems(body)):
            await _unprocessable(errors)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"detail": f"request body larger than {self.max_body_bytes} bytes"}, status_code=413,
                            headers={"Connection": "close"})


def _unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": errors}, status_code=422)


# --- exception handlers --------------------------------------------------------------------------

def _bounded(error: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": str(error.get("type", "value_error")),
        "loc": [part if isinstance(part, int) else safe_text(str(part), 60) for part in error.get("loc", ())],
        "msg": safe_text(str(error.get("msg", "")), MAX_MESSAGE),
    }
    if "input" in error:
        out["input"] = excerpt(error["input"])
    if isinstance(error.get("ctx"), dict):
        out["ctx"] = {str(k): excerpt(v) if isinstance(v, int | float | str | None) else safe_text(str(v))
                      for k, v in error["ctx"].items()}
    return out


async def validation_failed(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, but never echoing more than a bounded excerpt of the input (a 10 MB field
    must not come back), and always encodable (NaN, lone surrogates)."""
    errors = list(exc.errors())
    detail = [_bounded(e) for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        detail.append({"type": "too_many_errors", "loc": ["body"], "msg": f"{len(errors) - MAX_ERRORS} more errors"})
    return JSONResponse({"detail": detail}, status_code=422)


async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
    """FastAPI's answer, except that a 422 raised with a sentence is given the documented shape (a
    list of problems), and a 405's `Allow` lists the methods of every route on the path (Starlette
    names only those of the first route it matched)."""
    if exc.status_code == 422 and isinstance(exc.detail, str):
        return _unprocessable([{"type": "value_error", "loc": ["body"], "msg": safe_text(exc.detail, MAX_MESSAGE)}])
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    allowed = {method for route in request.app.router.routes if hasattr(route, "methods")
               and route.matches({**request.scope, "method": "GET"})[0] != Match.NONE for method in route.methods or ()}
    return JSONResponse({"detail": exc.detail}, status_code=405, headers={"Allow": ", ".join(sorted(allowed))})


async def out_of_range(request: Request, exc: asyncpg.DataError) -> JSONResponse:
    """A value the schema allowed but PostgreSQL cannot hold (a date or number out of its range): the
    request's fault, so a 422, never a 500."""
    log.info("%s %s answered 422: %s", request.method, request.url.path, type(exc).__name__)
    return _unprocessable([{"type": "value_error", "loc": ["query"],
                            "msg": "a value is out of the range the database can hold: "
                                   + safe_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 200)}])


async def dependency_down(request: Request, exc: Exception) -> JSONResponse:
    dependency = exc.dependency if isinstance(exc, DependencyUnavailable) else "database"
    log.warning("%s %s answered 503: %s unavailable (%s)", request.method, request.url.path, dependency,
                safe_text(str(exc) or type(exc).__name__, MAX_MESSAGE))
    return JSONResponse({"detail": f"{dependency} unavailable, retry later"}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# --- OpenAPI -------------------------------------------------------------------------------------

ERROR_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
PROBLEM_SCHEMA = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array", "items": {
    "type": "object", "required": ["loc", "msg", "type"],
    "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                   "msg": {"type": "string"}, "type": {"type": "string"}, "input": {}, "ctx": {"type": "object"}}}}}}


NO_NUL = "^[^\\x00]*$"


def _declare_no_nul(node: Any) -> None:
    """Say in the document what RequestGuard enforces: no text (value or field name) holds NUL."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"format", "enum", "pattern", "const"} & node.keys():
            node["pattern"] = NO_NUL
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            node.setdefault("propertyNames", {"pattern": NO_NUL})
        for value in node.values():
            _declare_no_nul(value)
    elif isinstance(node, list):
        for value in node:
            _declare_no_nul(value)


def document(app: FastAPI, max_body_bytes: int) -> None:
    """Every operation's 404/409/413/422/503 answers in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        _declare_no_nul(schema)
        schemas["Error"] = ERROR_SCHEMA
        schemas["ValidationProblem"] = PROBLEM_SCHEMA
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        retry_after = {"Retry-After": {"description": "Seconds after which to try again",
                                       "schema": {"type": "integer"}}}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "{" in path:
                    responses.setdefault("404", {"description": "Not found", "content": error})
                if "409" in responses:
                    responses["409"].setdefault("content", error)
                responses.setdefault("413", {"description": f"Request body larger than {max_body_bytes} bytes",
                                             "content": error})
                # FastAPI's own 422 entry points at its schema; ours (a superset) covers the guard's answers too.
                responses["422"] = {"description": responses.get("422", {}).get("description")
                                    or "Invalid request; `detail` names each bad field (input excerpts only)",
                                    "content": {"application/json": {
                                        "schema": {"$ref": "#/components/schemas/ValidationProblem"}}}}
                responses.setdefault("503", {"description": "A dependency (the database) is unavailable; retry "
                                                            "after `Retry-After` seconds",
                                             "headers": retry_after, "content": error})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI, *, max_body_bytes: int) -> None:
    """Call before the authentication middleware is added (it must stay the outer one)."""
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_failed)   # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)          # type: ignore[arg-type]
    app.add_exception_handler(asyncpg.DataError, out_of_range)             # type: ignore[arg-type]
    for kind in (DependencyUnavailable, *DATABASE_DOWN):
        app.add_exception_handler(kind, dependency_down)
    document(app, max_body_bytes)
