"""Sign-in against the same identity as the APIs, and sign-out.

- **dev** (local stack): the page offers the dev issuer's named users (services/runtime/dev_issuer.py);
  choosing one mints that user's token with the dev key, exactly as `orderflow token --user` does.
  Only possible where the services trust the dev issuer: with ORDERFLOW_AUTH_JWKS_URL set the dev
  issuer refuses, and `auto` picks OIDC.
- **oidc** (production): the authorization-code flow with PKCE against the identity provider
  (Authlib's Starlette client: discovery, state, nonce, code exchange, ID-token check). Settings
  ORDERFLOW_AUTH_ISSUER (discovery at <issuer>/.well-known/openid-configuration unless
  ORDERFLOW_AUTH_DISCOVERY_URL), ORDERFLOW_AUTH_CLIENT_ID, ORDERFLOW_AUTH_CLIENT_SECRET or
  ORDERFLOW_AUTH_CLIENT_SECRET_FILE, ORDERFLOW_AUTH_SCOPES; the redirect URI is
  ORDERFLOW_CONSOLE_PUBLIC_URL + /auth/callback. The access token is what the console forwards.

Either way the token is verified with the services' own TokenVerifier (issuer, audience, signature,
expiry) and the session takes the user's name and roles from it, so the console and the APIs
agree on who the user is.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.console import session
from services.console.settings import ConsoleSettings
from services.runtime import dev_issuer
from services.runtime.config import read_secret
from services.runtime.tokens import AuthSettings, TokenError, TokenVerifier

log = logging.getLogger(__name__)


class OidcSettings(BaseSettings):
    """The console's OIDC client (ORDERFLOW_AUTH_*, beside the issuer/audience the services check)."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_AUTH_", extra="ignore")

    issuer: str = "urn:orderflow:dev-issuer"
    discovery_url: str | None = None
    client_id: str = "orderflow-console"
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    scopes: str = "openid profile"

    def metadata_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def secret(self) -> str | None:
        if self.client_secret is not None:
            return self.client_secret.get_secret_value()
        if self.client_secret_file is not None:
            return read_secret(self.client_secret_file, "OIDC client secret")
        return None       # a public client: PKCE only


def signin_mode(settings: ConsoleSettings) -> str:
    if settings.console_signin != "auto":
        return settings.console_signin
    return "oidc" if AuthSettings().jwks_url else "dev"


def oidc_client(settings: ConsoleSettings) -> Any:
    """The registered Authlib client (its metadata is fetched on first use)."""
    from authlib.integrations.starlette_client import OAuth     # only needed when OIDC is configured

    oidc = OidcSettings()
    oauth = OAuth()
    oauth.register("idp", client_id=oidc.client_id, client_secret=oidc.secret(),
                   server_metadata_url=oidc.metadata_url(),
                   client_kwargs={"scope": oidc.scopes, "code_challenge_method": "S256"})
    return oauth.create_client("idp")


def safe_next(value: str | None) -> str:
    """Only a path on this console (no open redirect to another site)."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def router(settings: ConsoleSettings, verifier: TokenVerifier, render: Any) -> APIRouter:
    """`render(request, template, context, status_code=)` is the console's page renderer."""
    api = APIRouter(tags=["sign-in"])
    mode = signin_mode(settings)
    client = oidc_client(settings) if mode == "oidc" else None

    def page(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
        return render(request, "login.html", {"mode": mode, "users": dev_issuer.DEV_USERS, **context},
                      status_code=status_code)

    async def begin(request: Request, token: str, next_url: str) -> Response:
        try:
            principal = await verifier.verify(token)
        except TokenError as exc:
            log.warning("sign-in refused: %s", exc.description)
            return page(request, {
                "next": next_url,
                "error": f"Sign-in refused: {exc.description}"}, status_code=401)
        expires = float(jwt.decode(token, options={"verify_signature": False}).get("exp", 0))
        session.start_session(request, subject=principal.subject, name=principal.name, roles=principal.roles,
                              token=token, expires_at=min(expires, time.time() + settings.console_session_hours * 3600))
        log.info("signed in: %s (%s)", principal.subject, ", ".join(sorted(principal.roles)))
        return RedirectResponse(safe_next(next_url), status_code=303)

    @api.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/", reason: str | None = None) -> Response:
        if mode == "oidc" and not reason:
            request.session["next"] = safe_next(next)
            redirect_uri = (settings.console_public_url.rstrip("/") + "/auth/callback" if settings.console_public_url
                            else str(request.url_for("auth_callback")))
            return await client.authorize_redirect(request, redirect_uri)
        return page(request, {
            "next": safe_next(next), "error": session.REASONS.get(reason or "")})

    @api.post("/login/dev")
    async def dev_sign_in(request: Request, username: str = Form(...), next: str = Form("/")) -> Response:
        await session.check_csrf(request)
        user = dev_issuer.dev_user(username)
        if mode != "dev" or user is None:
            return page(request, {
                "next": safe_next(next), "error": "dev sign-in is not available here" if mode != "dev" else f"no dev user {username!r}"},
                status_code=400)
        try:
            token = dev_issuer.issue_token(user.username, list(user.roles),
                                           ttl_seconds=settings.console_session_hours * 3600)
        except RuntimeError as exc:         # the services trust an identity provider
            return page(request, {
                "next": safe_next(next), "error": str(exc)},
                status_code=400)
        return await begin(request, token, next)

    @api.get("/auth/callback", name="auth_callback")
    async def auth_callback(request: Request) -> Response:
        if client is None:
            return RedirectResponse("/login", status_code=303)
        from authlib.integrations.starlette_client import OAuthError
        try:
            answer = await client.authorize_access_token(request)
        except OAuthError as exc:
            log.warning("OIDC sign-in failed: %s", exc.error)
            return RedirectResponse(session.sign_in_url("/", "failed"), status_code=303)
        return await begin(request, answer["access_token"], request.session.pop("next", "/"))

    @api.post("/logout")
    async def logout(request: Request) -> Response:
        await session.check_csrf(request)
        session.end_session(request)
        return RedirectResponse(session.sign_in_url("/", "signed-out"), status_code=303)

    return api
