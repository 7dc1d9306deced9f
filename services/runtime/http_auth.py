"""HTTP authentication, roles and audit for every service's FastAPI app (applied by service.py).

- `AuthMiddleware` authenticates every request except `/health/*` (and `/metrics` while
  ORDERFLOW_METRICS_PUBLIC): no valid bearer token -> 401 with the reason in the body and a
  `WWW-Authenticate: Bearer ...` header. It then audits actions and refusals (audit.py).
- `requires(role, ...)` is the one place an endpoint says who may call it:
      @api.post("/orders/{order_id}/approve")
      async def approve(order_id: UUID, caller: Caller = requires(SALES_MANAGER)) -> ...
  Authenticated without one of those roles -> 403 naming them. Every non-public route must have
  it: a service refuses to start otherwise (`check_routes`).
- The OpenAPI document gets the bearer scheme, each operation's roles and its 401/403 answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.envelope import Initiator
from services.runtime import audit, roles
from services.runtime.tokens import Principal, TokenError, TokenVerifier, bearer_token

log = logging.getLogger(__name__)

PRINCIPAL = "orderflow.principal"   # ASGI scope keys set here and read by `requires`
ROLE = "orderflow.role"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
REALM = "orderflow"
SCHEME = "bearerAuth"


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of an endpoint and the role it is called in."""

    principal: Principal
    role: str

    @property
    def subject(self) -> str:
        return self.principal.subject

    def initiator(self) -> Initiator:
        return self.principal.initiator(self.role)


# Only here to document the scheme in OpenAPI; AuthMiddleware does the authenticating.
_bearer = HTTPBearer(scheme_name=SCHEME, bearerFormat="JWT", auto_error=False,
                     description="An OIDC access token (local stack: `orderflow token --user NAME --role ROLE`)")


def _caller(request: Request, security_scopes: SecurityScopes,
            _: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
    principal: Principal | None = request.scope.get(PRINCIPAL)
    if principal is None:                # only a route wrongly declared public gets here
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    allowed = security_scopes.scopes
    role = next((r for r in allowed if r in principal.roles), None)
    if role is None:
        held = ", ".join(sorted(principal.roles)) or "no role"
        raise HTTPException(403, f"{request.method} {request.url.path} needs one of the roles {', '.join(allowed)}; "
                                 f"{principal.subject} has {held}")
    request.scope[ROLE] = role
    return Caller(principal, role)


def requires(*allowed: str) -> Any:
    """Dependency: the caller must hold one of `allowed` (the first one held is the role acted in).
    The roles are the operation's security requirement in OpenAPI (3.1 allows role names there),
    which is where `route_roles` reads them back."""
    unknown = set(allowed) - set(roles.ALL)
    if unknown or not allowed:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {roles.ALL}")
    return Security(_caller, scopes=list(allowed))


def route_roles(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...] | None]:
    """(METHOD, path) -> the roles its `requires` allows (None: none declared), from the OpenAPI document."""
    table: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for path, operations in app.openapi().get("paths", {}).items():
        for method, operation in operations.items():
            needed = [r for requirement in operation.get("security", []) for r in requirement.get(SCHEME, [])]
            table[(method.upper(), path)] = tuple(needed) or None
    return table


def check_routes(app: FastAPI, is_public: Callable[[str], bool]) -> None:
    """Refuse to run with an API route nobody decided the roles of."""
    missing = [f"{m} {p}" for (m, p), allowed in route_roles(app).items() if allowed is None and not is_public(p)]
    if missing:
        raise RuntimeError(f"routes without requires(...): {', '.join(missing)}")


def _www_authenticate(exc: TokenError) -> str:
    if exc.error is None:            # no credentials at all: RFC 6750 says no error code
        return f'Bearer realm="{REALM}"'
    description = exc.description.replace('"', "'").replace("\\", "")
    return f'Bearer realm="{REALM}", error="{exc.error}", error_description="{description}"'


class AuthMiddleware:
    """Pure ASGI: authenticates, then audits actions (non-GET) and refusals (401/403)."""

    def __init__(self, app: ASGIApp, *, verifier: TokenVerifier, is_public: Callable[[str], bool],
                 pool: Callable[[], asyncpg.Pool | None]) -> None:
        self.app = app
        self.verifier = verifier
        self.is_public = is_public
        self.pool = pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.verifier.verify(bearer_token(Headers(scope=scope).get("authorization")))
        except TokenError as exc:
            await self._audit(scope, None, exc.status, b"", True, exc.description)
            headers = {"WWW-Authenticate": _www_authenticate(exc)} if exc.status == 401 else {"Retry-After": "5"}
            await JSONResponse({"detail": exc.description}, status_code=exc.status, headers=headers)(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        await self._call_audited(scope, receive, send, principal)

    async def _call_audited(self, scope: Scope, receive: Receive, send: Send, principal: Principal) -> None:
        """Run the app; an action, or a refusal, is recorded before its answer is sent."""
        action = scope["method"] not in SAFE_METHODS
        asked = bytearray()
        complete = True
        held: list[Message] = []
        status = 500
        recorded = False

        async def capture_request(*_: Any) -> Message:
            nonlocal complete
            message = await receive()
            if action and message["type"] == "http.request":
                room = audit.MAX_CAPTURE - len(asked)
                chunk = message.get("body", b"")
                asked.extend(chunk[:room])
                complete = complete and len(chunk) <= room
            return message

        async def hold_answer(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = message["status"]
                if not (action or status in (401, 403)):
                    await send(message)      # a plain read: no audit, nothing held
                    return
            if message["type"] == "http.response.start" or held:
                held.append(message)
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    answer = b"".join(m.get("body", b"") for m in held[1:])
                    recorded = True
                    await self._audit(scope, principal, status, bytes(asked), complete, None, answer)
                    for m in held:
                        await send(m)
                    held.clear()
                return
            await send(message)

        try:
            await self.app(scope, capture_request, hold_answer)
        except Exception:
            if action and not recorded:
                await self._audit(scope, principal, 500, bytes(asked), complete, "internal error")
            raise

    async def _audit(self, scope: Scope, principal: Principal | None, status: int, asked: bytes, complete: bool,
                     outcome: str | None, answer: bytes = b"") -> None:
        pool = self.pool()
        if pool is None:
            return
        request = audit.excerpt(asked, complete)
        client = scope.get("client")
        entry = audit.Entry(
            method=scope["method"], path=scope["path"], status=status, source=client[0] if client else None,
            query=scope.get("query_string", b"").decode("latin-1") or None, principal=principal,
            role=scope.get(ROLE), request=request, order_id=audit.order_id_of(scope["path"], request, answer),
            outcome=outcome or audit.outcome_of(status, answer))
        try:
            await audit.record(pool, entry)
        except Exception as exc:  # noqa: BLE001 - the answer still goes out; the failure is logged
            log.error("audit entry for %s %s (status %s) not recorded: %s", entry.method, entry.path, status,
                      type(exc).__name__)


def document(app: FastAPI) -> None:
    """Each protected operation's roles and its 401/403 answers in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["AuthError"] = {
            "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/AuthError"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                needed = [r for requirement in operation.get("security", []) for r in requirement.get(SCHEME, [])]
                if not needed:
                    continue
                operation["description"] = (operation.get("description", "") + f"\n\nRoles: {', '.join(needed)}.").strip()
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"description": "No token, or an invalid one (expired, wrong audience or "
                                                            "issuer, bad signature); `WWW-Authenticate` says why",
                                             "content": error})
                responses.setdefault("403", {"description": f"Authenticated without any of the roles {', '.join(needed)}",
                                             "content": error})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI, *, verifier: TokenVerifier, is_public: Callable[[str], bool],
            pool: Callable[[], asyncpg.Pool | None]) -> None:
    app.add_middleware(AuthMiddleware, verifier=verifier, is_public=is_public, pool=pool)
    document(app)

