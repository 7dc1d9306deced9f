"""Who is signed in, what they may see, and CSRF protection: the one place console routes declare
their roles.

The session is Starlette's SessionMiddleware: a cookie signed with the console's session secret
(itsdangerous), HttpOnly, SameSite=Lax, Secure behind HTTPS. It holds the user's access token (their
own, forwarded to the APIs so the audit names them), their name and roles as the token says, and a
CSRF token. A session ends when the cookie expires or when the token does.

Every page route declares who may use it with `needs(role, ...)`; an action (any POST) also needs
the CSRF token (form field `csrf_token` or header `X-CSRF-Token`). `check_routes` refuses to start
the console with a page route that declares nothing. The departments' APIs check the token again:
the console's role checks decide what is shown, the APIs decide what is allowed.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute

from services.runtime import roles as role_names

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
ANY_ROLE = role_names.ALL
PUBLIC_PREFIXES = ("/health/", "/static/", "/login", "/auth/", "/logout")


@dataclass(frozen=True)
class User:
    subject: str
    name: str
    roles: frozenset[str]
    token: str
    expires_at: float

    def has(self, *allowed: str) -> bool:
        return bool(self.roles & set(allowed))

    @property
    def role_text(self) -> str:
        return ", ".join(sorted(self.roles)) or "no role"


# Why the sign-in page is shown again: a code in its URL, never free text (no message can be planted
# on the sign-in page through a link).
REASONS = {
    "expired": "Your session has ended; please sign in again.",
    "refused": "A department no longer accepts your sign-in; please sign in again.",
    "signed-out": "Signed out.",
    "failed": "Sign-in at the identity provider did not succeed; please try again.",
}


class SignInRequired(Exception):
    """Not signed in, or the session's token expired: the handler redirects to the sign-in page."""

    def __init__(self, next_url: str, reason: str | None = None) -> None:
        assert reason is None or reason in REASONS, reason
        self.next_url = next_url
        self.reason = reason


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use, also before sign-in: the sign-in form has one)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "the form has expired or did not come from this console (CSRF check failed); "
                                 "reload the page and try again")


def start_session(request: Request, *, subject: str, name: str, roles: frozenset[str], token: str,
                  expires_at: float) -> None:
    request.session.clear()                     # a new session id for the new user: no fixation
    request.session.update({"sub": subject, "name": name, "roles": sorted(roles), "token": token,
                            "exp": expires_at, "csrf": secrets.token_urlsafe(32)})


def end_session(request: Request) -> None:
    request.session.clear()


def current_user(request: Request) -> User | None:
    data = request.session
    if not data.get("token"):
        return None
    if float(data.get("exp", 0)) <= time.time():
        return None
    return User(subject=data["sub"], name=data.get("name") or data["sub"], roles=frozenset(data.get("roles", [])),
                token=data["token"], expires_at=float(data["exp"]))


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


class Needs:
    """Dependency: a signed-in user holding one of `roles`; for a POST also a valid CSRF token."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        unknown = set(roles) - set(role_names.ALL)
        if unknown or not roles:
            raise ValueError(f"unknown roles {sorted(unknown)}; roles are {role_names.ALL}")
        self.roles = roles

    async def __call__(self, request: Request) -> User:
        user = current_user(request)
        if user is None:
            expired = bool(request.session.get("token"))
            if expired:
                request.session.clear()
            raise SignInRequired(_here(request) if request.method == "GET" else "/", "expired" if expired else None)
        if not user.has(*self.roles):
            raise HTTPException(403, f"this page is for {', '.join(self.roles)}; {user.name} has {user.role_text}")
        if request.method not in ("GET", "HEAD"):
            await check_csrf(request)
        return user


def needs(*roles: str) -> Any:
    """`user: User = needs(OPERATOR, AUDITOR)` beside each console route."""
    return Depends(Needs(tuple(roles)))


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (newer FastAPI keeps those as one entry each).
    The console includes its routers without a prefix."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (inner := getattr(route, "original_router", None)) is not None:
            found += _api_routes(list(inner.routes))
    return found


def route_roles(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...] | None]:
    """(METHOD, path) -> the roles its `needs` allows (None: none declared)."""
    table: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for route in _api_routes(list(app.routes)):
        declared = next((d.call.roles for d in route.dependant.dependencies if isinstance(d.call, Needs)), None)
        for method in route.methods:
            table[(method, route.path)] = declared
    return table


def is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) or path == "/favicon.ico"


def check_routes(app: FastAPI) -> None:
    missing = [f"{m} {p}" for (m, p), declared in route_roles(app).items() if declared is None and not is_public(p)]
    if missing:
        raise RuntimeError(f"console routes without needs(...): {', '.join(sorted(missing))}")


def sign_in_url(next_url: str, reason: str | None = None) -> str:
    return f"/login?next={quote(next_url, safe='')}" + (f"&reason={reason}" if reason in REASONS else "")
