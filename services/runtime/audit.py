"""Audit trail of the HTTP API, in each service's own database (`audit_log`, runtime migration 0002).

http_auth's middleware records every action (any non-GET request) and every refusal (401/403):
who (token subject, name, roles, the role acted in), when, from which address, what was asked
(method, path, query and a bounded excerpt of the body with secrets masked) and the outcome.
Tokens never reach this module: the Authorization header is not part of an entry.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.runtime.tokens import Principal

MAX_CAPTURE = 8192    # request body bytes kept for the excerpt
MAX_EXCERPT = 2000    # characters stored
MASK = "***"
# A body is attacker-controlled: every pattern here runs in linear time (no nested or adjacent
# unbounded repetitions that could backtrack), and the masking scans words, not pattern matches.
SECRET_WORD = re.compile(r"pass|secret|token|authori[sz]ation|credential|api[-_]?key|private|cookie", re.IGNORECASE)
WORD = re.compile(r"[\w-]+")
RUN = re.compile(r"[\w.-]+")
VALUE_AFTER_KEY = re.compile(r"\"?[ \t]*[:=][ \t]*(\"[^\"]*\"?|[^\s&,}\]]*)")
ORDER_IN_PATH = re.compile(r"/orders/([0-9a-fA-F-]{36})(?:/|$)")


def _mask_jwts(text: str) -> str:
    return RUN.sub(lambda m: MASK if "eyJ" in m.group() and "." in m.group() else m.group(), text)


def _storable(text: str) -> str:
    """PostgreSQL text and jsonb hold neither NUL nor lone surrogates: a refusal of such input is
    recorded all the same, with them escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def mask(value: Any) -> Any:
    """A JSON value with secret-looking keys and token-looking strings masked."""
    if isinstance(value, dict):
        return {_storable(str(k)): MASK if SECRET_WORD.search(str(k)) else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return _mask_jwts(_storable(value))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)                # NaN/Infinity: not JSON, not storable as jsonb
    return value


def mask_text(text: str) -> str:
    """Text (a cut JSON body, a query string) with the value after every secret-looking key masked."""
    out, done = [], 0
    for word in WORD.finditer(text):
        if word.start() < done or not SECRET_WORD.search(word.group()):
            continue
        value = VALUE_AFTER_KEY.match(text, word.end())
        if value and value.group(1):
            out += [text[done:value.start(1)], MASK]
            done = value.end(1)
    return _mask_jwts("".join(out) + text[done:])


def excerpt(body: bytes, complete: bool = True) -> Any:
    """What was asked: the body as (masked) JSON when it fits, else a masked, cut text excerpt."""
    if not body:
        return None
    text = body.decode("utf-8", "replace")
    if complete:
        try:
            value = mask(json.loads(text))
        except ValueError:
            pass
        else:
            dumped = json.dumps(value, ensure_ascii=False)
            return value if len(dumped) <= MAX_EXCERPT else {"excerpt": dumped[:MAX_EXCERPT], "truncated": True}
    masked = _storable(mask_text(text))
    return {"excerpt": masked[:MAX_EXCERPT], "truncated": not complete or len(masked) > MAX_EXCERPT}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def order_id_of(path: str, request: Any, response_body: bytes) -> str | None:
    """The order a request was about: named in the path, the body, or the answer (a new order)."""
    if match := ORDER_IN_PATH.search(path):
        return match.group(1).lower()
    for source in (request, _json(response_body)):
        if isinstance(source, dict) and isinstance(source.get("order_id"), str):
            return source["order_id"][:64]
    return None


def outcome_of(status: int, response_body: bytes) -> str | None:
    """A short account of the answer: the error's detail, or the new state of what was acted on."""
    answer = _json(response_body)
    if not isinstance(answer, dict):
        return None
    if status >= 400:
        detail = answer.get("detail")
        if isinstance(detail, list):     # 422: 'field: message; ...'
            detail = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []) if p != 'body')}: {d.get('msg')}"
                               for d in detail if isinstance(d, dict))
        return mask_text(str(detail))[:500] if detail is not None else None
    parts = [f"{k} {answer[k]}" for k in ("order_number", "status", "note") if answer.get(k)]
    return mask_text(", ".join(parts))[:500] or None


@dataclass
class Entry:
    method: str
    path: str
    status: int
    source: str | None
    query: str | None = None
    principal: Principal | None = None
    role: str | None = None
    request: Any = None
    order_id: str | None = None
    outcome: str | None = None


async def record(pool: asyncpg.Pool, entry: Entry) -> None:
    who = entry.principal
    await pool.execute(
        "INSERT INTO audit_log (subject, name, roles, role, source, method, path, query, order_id, request,"
        " status, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        who.subject if who else None, who.name if who else None, sorted(who.roles) if who else [],
        entry.role, entry.source, entry.method, _storable(entry.path[:500]),
        _storable(mask_text(entry.query)[:1000]) if entry.query else None,
        entry.order_id, entry.request, entry.status, _storable(entry.outcome) if entry.outcome else None,
    )


async def search(pool: asyncpg.Pool, *, order_id: str | None = None, subject: str | None = None,
                 since: dt.datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first."""
    rows = await pool.fetch(
        "SELECT * FROM audit_log WHERE ($1::text IS NULL OR order_id = lower($1)) AND ($2::text IS NULL OR subject = $2)"
        " AND ($3::timestamptz IS NULL OR at >= $3) ORDER BY id DESC LIMIT $4", order_id, subject, since, limit)
    return [dict(r) for r in rows]
