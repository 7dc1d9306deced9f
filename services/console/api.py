"""The departments' public HTTP APIs as the console calls them: always with the signed-in user's
own token, so that each department checks that user's roles and its audit trail names them.

Errors become `ApiError` with what a person should read: the API's `detail` (a 409's reason, a
403's missing roles), a 422's field errors keyed by field path, or "sales is unreachable". A 401
(the token expired or was revoked) ends the session: `SignInRequired`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from services.console.session import SignInRequired, User
from services.console.settings import DEPARTMENTS, ConsoleSettings

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, service: str, status: int, detail: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.service = service
        self.status = status
        self.detail = detail
        self.fields = fields or {}


def field_errors(detail: Any) -> dict[str, str]:
    """FastAPI's 422 `detail` list as {"lines.0.quantity": "message"} (body/query prefix dropped)."""
    if not isinstance(detail, list):
        return {}
    errors: dict[str, str] = {}
    for error in detail:
        if not isinstance(error, dict):
            continue
        loc = [str(p) for p in error.get("loc", []) if p not in ("body", "query")]
        key = ".".join(loc) or "(request)"
        message = str(error.get("msg", error)).removeprefix("Value error, ")
        errors[key] = f"{errors[key]}; {message}" if key in errors else message
    return errors


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    return body.get("detail", body) if isinstance(body, dict) else body


class Departments:
    """One pooled HTTP client for all five APIs (URLs from settings, like the CLI's)."""

    def __init__(self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.urls = {name: settings.service_url(name) for name in DEPARTMENTS}
        self.client = httpx.AsyncClient(timeout=settings.console_api_timeout_seconds, transport=transport)

    async def close(self) -> None:
        await self.client.aclose()

    async def request(self, user: User, service: str, method: str, path: str, *, params: Any = None,
                      json: Any = None) -> httpx.Response:
        try:
            response = await self.client.request(method, self.urls[service] + path, params=params, json=json,
                                                 headers={"Authorization": f"Bearer {user.token}"})
        except httpx.TimeoutException:
            raise ApiError(service, 504, f"{service} did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("%s unreachable: %s %s: %s", service, method, path, type(exc).__name__)
            raise ApiError(service, 503, f"{service} is unreachable ({self.urls[service]})") from None
        if response.status_code == 401:
            log.info("%s refused the session's token: %s", service, str(_detail(response))[:200])
            raise SignInRequired("/", "refused")
        if response.is_success:
            return response
        detail = _detail(response)
        fields = field_errors(detail) if response.status_code == 422 else {}
        text = detail if isinstance(detail, str) else "; ".join(f"{k}: {v}" for k, v in fields.items()) or str(detail)
        raise ApiError(service, response.status_code, text, fields)

    async def get(self, user: User, service: str, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v not in (None, "", [])}
        return (await self.request(user, service, "GET", path, params=clean)).json()

    async def post(self, user: User, service: str, path: str, body: Any = None) -> Any:
        return (await self.request(user, service, "POST", path, json=body)).json()

    async def page(self, user: User, service: str, path: str, **params: Any) -> tuple[Any, str | None]:
        """A list and the next page's cursor (the `X-Next-Cursor` header, when the API pages)."""
        clean = {k: v for k, v in params.items() if v not in (None, "", [])}
        response = await self.request(user, service, "GET", path, params=clean)
        return response.json(), response.headers.get("x-next-cursor")
