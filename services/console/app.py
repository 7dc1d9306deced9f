"""Wiring of the console: settings, session cookie, sign-in, the department APIs, live events, lag
sampling, templates, page routes. `python -m services.console` (ORDERFLOW_CONSOLE_PORT, 8080)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from services.console import __version__, access, signin, swimlanes
from services.console.api import ApiError, Departments
from services.console.capabilities import CapabilityCache
from services.console.lag import LagHistory
from services.console.live import EventFollower, LiveHub
from services.console.session import SignInRequired, User, check_routes, csrf_token, current_user, sign_in_url
from services.console.settings import ConsoleSettings
from services.runtime import logging_setup
from services.runtime.tokens import AuthSettings, TokenVerifier

log = logging.getLogger("orderflow.console")
HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    # Everything the pages load comes from the console itself; inline scripts are not used.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Pure ASGI (streams such as /live pass straight through): the headers every answer gets."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = {**SECURITY_HEADERS, **({} if cacheable else {"Cache-Control": "no-store"})}
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items() if k.lower().encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class Console:
    """What every page needs: the APIs, what they offer, the live hub, lag history, templates."""

    def __init__(self, settings: ConsoleSettings, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.verifier = verifier
        self.departments = Departments(settings)
        self.capabilities = CapabilityCache(self.departments)
        self.hub = LiveHub(settings.console_live_settle_seconds)
        self.follower = EventFollower(settings, self.hub)
        self.lag = LagHistory(settings)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(version=__version__, swimlanes=swimlanes)

    def render(self, request: Request, name: str, context: dict[str, Any] | None = None, *,
               user: User | None = None, status_code: int = 200) -> HTMLResponse:
        user = user or current_user(request)
        base = {"user": user, "nav": access.pages_for(user.roles) if user else [], "csrf": csrf_token(request),
                "flash": request.session.pop("flash", None), "path": request.url.path, "access": access}
        return self.templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code)


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message for the next page (after a POST-redirect-GET)."""
    request.session["flash"] = {"kind": kind, "text": text}


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    verifier = TokenVerifier(AuthSettings())
    console = Console(settings, verifier)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        verifier.check_keys()
        tasks = [asyncio.create_task(console.follower.run(), name="live-events"),
                 asyncio.create_task(console.lag.run(), name="lag-sampler")]
        log.info("console %s on http://%s:%s (sign-in: %s; APIs: %s)", __version__, settings.http_host,
                 settings.port(), signin.signin_mode(settings),
                 ", ".join(f"{k}={v}" for k, v in console.departments.urls.items()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await console.departments.close()

    app = FastAPI(title="orderflow console", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.console = console
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret(), session_cookie="orderflow_console",
                       max_age=int(settings.console_session_hours * 3600), same_site="lax",
                       https_only=settings.console_cookie_secure)

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        target = sign_in_url(exc.next_url, exc.reason)
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.headers.get("HX-Request") or request.url.path == "/live":
            return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")
        return console.render(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                              status_code=exc.status_code)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if request.headers.get("HX-Request"):
            return console.render(request, "_api_error.html", {"error": exc}, status_code=200)
        return console.render(request, "error.html", {"status": exc.status, "detail": exc.detail,
                                                      "service": exc.service}, status_code=exc.status)

    @app.get("/health/live")
    async def live() -> dict[str, Any]:
        return {"status": "live", "component": "console", "version": __version__}

    @app.get("/health/ready")
    async def ready() -> Response:
        checks = {"live_events": "ok" if console.follower.assigned else (console.follower.error or "joining")}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from services.console.routes import kpis, operations, orders, stream
    app.include_router(signin.router(settings, verifier, console.render))
    app.include_router(orders.router(console))
    app.include_router(operations.router(console))
    app.include_router(kpis.router(console))
    app.include_router(stream.router(console))
    check_routes(app)
    return app


def run() -> None:
    logging_setup.setup("console")                              # JSON lines like every other process
    logging.getLogger("httpx").setLevel(logging.WARNING)        # one line per API call is noise
    settings = ConsoleSettings()
    # No uvicorn access log: an OIDC callback's query carries the authorization code. What people do
    # is in the departments' audit trails, under their own names.
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.port(), log_level="warning",
                log_config=None, proxy_headers=False)
