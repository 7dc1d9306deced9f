"""The CLI's side of the services' HTTP APIs, and how it prints what it gets: clear errors instead
of tracebacks, 422 field errors, order timelines. Every request carries the CLI's bearer token."""

from __future__ import annotations

import functools
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.table import Table

from services.runtime import dev_issuer
from services.runtime.config import DEFAULT_HTTP_PORTS

# Piped output (make up under CI, logs) gets a readable width instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

FINAL = ("completed", "rejected", "cancelled")
STATUS_STYLE = {"completed": "green", "rejected": "red", "cancelled": "yellow"}


def fail(message: str) -> typer.Exit:
    """Print an error and return the Exit to raise: `raise fail("...")`."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


def port(service: str) -> int:
    return int(os.environ.get(f"ORDERFLOW_{service.upper()}_PORT") or DEFAULT_HTTP_PORTS[service])


def ports() -> dict[str, int]:
    return {name: port(name) for name in DEFAULT_HTTP_PORTS}


# Base URLs given with --<service>-url for this invocation (see address_options).
_URL_FLAGS: dict[str, str] = {}


def remote_url(service: str) -> str | None:
    """The service's base URL when it runs elsewhere: the --<service>-url flag, else
    ORDERFLOW_<SERVICE>_URL (e.g. https://sales.orders.example.com, http://10.0.3.2:8081)."""
    explicit = _URL_FLAGS.get(service) or os.environ.get(f"ORDERFLOW_{service.upper()}_URL")
    return explicit.rstrip("/") if explicit else None


def url(service: str) -> str:
    """Where the CLI reaches a service: its remote URL if one is given, else the local process."""
    return remote_url(service) or f"http://127.0.0.1:{port(service)}"


def remote_urls() -> dict[str, str]:
    """The services given a remote URL (the local supervisor leaves these alone)."""
    return {name: remote for name in DEFAULT_HTTP_PORTS if (remote := remote_url(name))}


def _check_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{value!r} is not an http(s) URL, e.g. http://10.0.3.2:8081")
    return value


def address_options(
    sales_url: str | None = typer.Option(None, "--sales-url", callback=_check_url, metavar="URL",
                                         help="Base URL of sales [env ORDERFLOW_SALES_URL; default the local process]"),
    procurement_url: str | None = typer.Option(None, "--procurement-url", callback=_check_url, metavar="URL",
                                               help="Base URL of procurement [env ORDERFLOW_PROCUREMENT_URL]"),
    warehouse_url: str | None = typer.Option(None, "--warehouse-url", callback=_check_url, metavar="URL",
                                             help="Base URL of warehouse [env ORDERFLOW_WAREHOUSE_URL]"),
    logistics_url: str | None = typer.Option(None, "--logistics-url", callback=_check_url, metavar="URL",
                                             help="Base URL of logistics [env ORDERFLOW_LOGISTICS_URL]"),
    finance_url: str | None = typer.Option(None, "--finance-url", callback=_check_url, metavar="URL",
                                           help="Base URL of finance [env ORDERFLOW_FINANCE_URL]"),
) -> None:
    """Operate the orderflow stack: local processes, or remote services given by URL."""
    given = {"sales": sales_url, "procurement": procurement_url, "warehouse": warehouse_url,
             "logistics": logistics_url, "finance": finance_url}
    _URL_FLAGS.clear()
    _URL_FLAGS.update({name: value for name, value in given.items() if value})


class CliAuth(BaseSettings):
    """Who the CLI calls the services as. Production: a token from your identity provider in
    ORDERFLOW_TOKEN or ORDERFLOW_TOKEN_FILE. Local stack: a dev token minted for ORDERFLOW_CLI_USER
    (default: your login name) with ORDERFLOW_CLI_ROLES (comma separated)."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", extra="ignore")

    token: SecretStr | None = None
    token_file: Path | None = None
    cli_user: str = ""
    cli_roles: str = "clerk,operator"


def resolve_token(dev_user: str, dev_roles: list[str], **dev_claims: Any) -> str:
    """ORDERFLOW_TOKEN, else the file ORDERFLOW_TOKEN_FILE (production), else a dev token for
    `dev_user` with `dev_roles` (local stack). Shared by the CLI and the e2e harness."""
    auth = CliAuth()
    if auth.token:
        return auth.token.get_secret_value().strip()
    if auth.token_file:
        try:
            return auth.token_file.read_text().strip()
        except OSError as exc:
            raise fail(f"cannot read ORDERFLOW_TOKEN_FILE {auth.token_file}: {exc.strerror}") from None
    try:
        return dev_issuer.issue_token(dev_user, dev_roles, **dev_claims)
    except RuntimeError as exc:      # an identity provider is configured: no dev tokens
        raise fail(str(exc)) from None


@functools.cache
def bearer_token() -> str:
    """The CLI's token (one per process)."""
    auth = CliAuth()
    return resolve_token(auth.cli_user or getpass.getuser(), [r.strip() for r in auth.cli_roles.split(",") if r.strip()])


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer_token()}"}


def call(service: str, method: str, path: str, timeout: float = 5.0, **kwargs: Any) -> httpx.Response:
    """One HTTP request to a service, with the CLI's token; an unreachable service becomes a clear
    error, not a traceback."""
    kwargs["headers"] = {**auth_headers(), **kwargs.get("headers", {})}
    try:
        return httpx.request(method, url(service) + path, timeout=timeout, **kwargs)
    except httpx.ConnectError:
        raise fail(f"{service} is not running on {url(service)} (try `orderflow up`)") from None
    except httpx.TimeoutException:
        raise fail(f"{service} did not answer {method} {path} within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise fail(f"{service}: {method} {path} failed: {exc or type(exc).__name__}") from None


def json_or_fail(response: httpx.Response, what: str) -> Any:
    if response.is_success:
        return response.json()
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    raise fail(f"{what}: HTTP {response.status_code}: {detail}")


def validation_errors(response: httpx.Response) -> list[str]:
    """FastAPI 422 `detail` as readable 'field: message' lines."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        return [response.text]
    if not isinstance(detail, list):
        return [str(detail)]
    lines = []
    for error in detail:
        loc = [str(p) for p in error.get("loc", []) if p != "body"]
        lines.append(f"{'.'.join(loc) or '(body)'}: {error.get('msg', error)}")
    return lines


def place_order(body: dict[str, Any]) -> dict[str, Any]:
    """POST /orders; 422 -> the field errors, exit 1."""
    response = call("sales", "POST", "/orders", json=body)
    if response.status_code == 422:
        err_console.print("[bold red]order rejected by intake:[/]")
        for line in validation_errors(response):
            err_console.print(f"  • {line}", highlight=False)
        raise typer.Exit(1)
    return json_or_fail(response, "placing the order")


def get_order(order_id: str) -> dict[str, Any]:
    response = call("sales", "GET", f"/orders/{order_id}")
    if response.status_code in (404, 422):
        raise fail(f"no order {order_id!r}")
    return json_or_fail(response, f"reading order {order_id}")


def list_orders(status: str | None = None, limit: int = 100, **filters: Any) -> list[dict[str, Any]]:
    """GET /orders with filters (customer_id, created_from, created_to, order_number, external_ref,
    channel, cursor); the next page's cursor, if any, is printed by the caller from `last_cursor`."""
    global last_cursor
    params: dict[str, Any] = {"limit": limit, **{k: v for k, v in filters.items() if v}}
    if status:
        params["status"] = status
    response = call("sales", "GET", "/orders", params=params)
    if response.status_code == 422:
        raise fail("; ".join(validation_errors(response)))
    last_cursor = response.headers.get("x-next-cursor")
    return json_or_fail(response, "listing orders")


last_cursor: str | None = None


def wait_final(order_ids: list[str], timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Poll until every order is final (or the timeout); returns the last state of each."""
    orders: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with console.status("waiting for orders…") as status:
        while True:
            for order_id in order_ids:
                if orders.get(order_id, {}).get("status") not in FINAL:
                    orders[order_id] = get_order(order_id)
            status.update("waiting for orders: " + ", ".join(
                f"{o['order_number']} [bold]{o['status']}[/]" for o in orders.values()))
            if all(o["status"] in FINAL for o in orders.values()) or time.monotonic() > deadline:
                return orders
            time.sleep(0.5)


def short_detail(detail: dict[str, Any] | None, width: int = 90) -> str:
    """A one-line summary of a timeline entry's detail: its note, else its scalar fields."""
    if not detail:
        return ""
    if "note" in detail:
        text = str(detail["note"])
    else:
        parts = [f"by {detail['name']} ({detail['user']}, {detail['role']})"] if "user" in detail else []
        for key, value in detail.items():
            if key in ("order_id", "customer_id", "order_number", "user", "name", "role") or value is None:
                continue
            if isinstance(value, list):
                value = f"{len(value)} item(s)" if value and isinstance(value[0], dict) else ", ".join(map(str, value))
            elif isinstance(value, dict):
                continue
            parts.append(f"{key}={value}")
        text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status, "cyan")
    return f"[{style}]{status}[/]"


def timeline_table(order: dict[str, Any]) -> Table:
    """One line per timeline entry; the detail is cut to what fits the terminal."""
    entries = order.get("timeline", [])
    rows = [(str(e.get("at", ""))[11:23], e.get("department", ""), e.get("kind", ""), e.get("type", ""))
            for e in entries]
    headers = ("time", "department", "kind", "type")
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    room = max(12, console.width - sum(widths) - 3 * len(widths) - 4)   # borders and padding
    table = Table(title=f"{order['order_number']} timeline", title_justify="left")
    for header, width in zip(headers, widths):
        table.add_column(header, no_wrap=True, min_width=width)
    wrap = room < 40                                   # narrow terminal: wrap the detail instead
    table.add_column("detail", no_wrap=not wrap, overflow="fold" if wrap else "ellipsis")
    for row, entry in zip(rows, entries):
        table.add_row(*row, short_detail(entry.get("detail"), width=90 if wrap else room))
    return table


def print_order_result(order: dict[str, Any]) -> None:
    console.print(f"\n[bold]{order['order_number']}[/] {order['order_id']} ({order['customer_id']}): "
                  f"{status_text(order['status'])} — {order.get('status_reason') or ''}", highlight=False)
    console.print(timeline_table(order))
