"""The console's pure parts and its HTTP surface in-process (no Kafka, no departments): route
roles against the departments' own, sign-in and session cookie, CSRF, redirects, the swimlane
picture, OpenAPI capabilities, 422 field mapping. The browser tests are tests/e2e/test_console.py."""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import httpx
import pytest

from services.cli.stack import SERVICES
from services.console import access, swimlanes
from services.console.api import field_errors
from services.console.capabilities import from_openapi
from services.console.routes.orders import actions_for, form_errors, order_body
from services.console.session import User
from services.console.signin import safe_next
from services.runtime import http_auth, roles

CONSOLE = Path(__file__).resolve().parents[2] / "services" / "console"


@functools.cache
def api_roles() -> dict[tuple[str, str, str], frozenset[str]]:
    table = {}
    for service in SERVICES:
        app = importlib.import_module(f"services.{service}.app").service.http
        for (method, path), allowed in http_auth.route_roles(app).items():
            table[(service, method, path)] = frozenset(allowed or ())
    return table


# Each console role set -> the department endpoints behind it; the console may offer a page only
# to roles every one of those endpoints admits.
BEHIND = {
    access.ORDER_READERS: [("sales", "GET", "/orders"), ("sales", "GET", "/orders/{order_id}")],
    access.ORDER_PLACERS: [("sales", "POST", "/orders")],
    access.ORDER_CHANGERS: [("sales", "POST", "/orders/{order_id}/changes"), ("sales", "POST", "/orders/{order_id}/cancel")],
    access.APPROVERS: [("sales", "POST", "/orders/{order_id}/approve"), ("sales", "POST", "/orders/{order_id}/review")],
    access.REVIEW_READERS: [("sales", "GET", "/reviews"), ("sales", "GET", "/orders")],
    access.DECIDERS: [("sales", "POST", "/orders/{order_id}/decision")],
    access.DECISION_READERS: [("sales", "GET", "/decisions")],
    access.ALERT_READERS: [("sales", "GET", "/alerts")],
    access.RETRIERS: [("sales", "POST", "/orders/{order_id}/compensations/retry")],
    access.DEAD_LETTER_READERS: [(s, "GET", "/dead-letters") for s in SERVICES],
    access.RISK_READERS: [("sales", "GET", "/risks")],
    access.SHIPMENT_READERS: [("logistics", "GET", "/shipments")],
    access.MONEY_READERS: [("finance", "GET", "/invoices"), ("finance", "GET", "/payments")],
    access.STOCK_READERS: [("warehouse", "GET", "/stock")],
    access.KPI_READERS: [("sales", "GET", "/kpis")],
}


@pytest.mark.parametrize("console_roles", list(BEHIND), ids=lambda r: ",".join(r))
def test_console_roles_are_what_the_apis_admit(console_roles: tuple[str, ...]) -> None:
    for endpoint in BEHIND[console_roles]:
        assert endpoint in api_roles(), f"{endpoint} is not an API route any more"
        assert set(console_roles) <= api_roles()[endpoint], (endpoint, console_roles, api_roles()[endpoint])


def test_operator_pages_are_not_for_clerks() -> None:
    clerk_pages = {p.path for p in access.pages_for(frozenset({roles.CLERK}))}
    assert clerk_pages == {"/orders", "/orders/new"}
    operator_pages = {p.path for p in access.pages_for(frozenset({roles.OPERATOR}))}
    assert {"/dead-letters", "/lag", "/alerts"} <= operator_pages and "/orders/new" not in operator_pages


def test_the_vendored_scripts_the_template_names_exist() -> None:
    base = (CONSOLE / "templates" / "base.html").read_text()
    scripts = re.findall(r'src="/static/([^"]+)"', base)
    assert scripts and all((CONSOLE / "static" / s).is_file() for s in scripts), scripts


# --- the swimlane picture ---------------------------------------------------------------------------

TIMELINE = [
    {"at": "2026-01-05T10:00:00.000+00:00", "department": "sales", "kind": "action", "type": "place",
     "detail": {"user": "clara", "name": "Clara Clerk"}},
    {"at": "2026-01-05T10:00:00.010+00:00", "department": "finance", "kind": "command", "type": "finance.check_credit"},
    {"at": "2026-01-05T10:00:00.300+00:00", "department": "finance", "kind": "event", "type": "finance.credit_approved"},
    {"at": "2026-01-05T10:05:00.300+00:00", "department": "sales", "kind": "status", "type": "cancelling"},
    {"at": "2026-01-05T10:05:00.310+00:00", "department": "finance", "kind": "command", "type": "finance.release_credit"},
    {"at": "2026-01-05T10:05:01.000+00:00", "department": "finance", "kind": "event", "type": "finance.credit_released"},
    {"at": "2026-01-05T10:05:01.000+00:00", "department": "sales", "kind": "status", "type": "<script>x</script>"},
]


def test_swimlanes_draw_lanes_time_and_compensations() -> None:
    svg = swimlanes.render(TIMELINE, title="SO-000001 timeline")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for lane in swimlanes.LANES:
        assert f">{lane}</text>" in svg
    assert svg.count('class="entry command compensation"') == 1          # release_credit: a red arrow
    assert svg.count("compensation") >= 3                                 # + cancelling, credit_released
    assert "marker-end=\"url(#arrow)\"" in svg                              # check_credit from the saga
    assert "≈ 5.0 min" in svg                                              # the quiet gap is marked
    assert "<script>" not in svg and "&lt;script&gt;" in svg              # every text is escaped
    xs = [p.x for p in swimlanes.place(TIMELINE)]
    assert xs == sorted(xs) and min(b - a for a, b in zip(xs, xs[1:])) >= swimlanes.COLUMN


def test_elapsed_labels() -> None:
    assert [swimlanes.elapsed(s) for s in (0.25, 4.2, 150, 7200, 3 * 86400)] == \
        ["+250 ms", "+4.2 s", "+2.5 min", "+2.0 h", "+3.0 d"]


# --- what the APIs offer, and their errors -------------------------------------------------------------

def test_capabilities_from_openapi() -> None:
    caps = from_openapi({"paths": {
        "/orders": {"get": {"parameters": [{"name": "status", "in": "query"}, {"name": "limit", "in": "query"}]},
                    "post": {}},
        "/dead-letters/{letter_id}/skip": {"post": {"parameters": [{"name": "letter_id", "in": "path"}]}}}})
    assert caps.query("GET", "/orders") == {"status", "limit"}
    assert caps.has("POST", "/dead-letters/{letter_id}/skip") and not caps.has("POST", "/dead-letters/{letter_id}/replay")


def test_a_422_becomes_form_field_errors() -> None:
    detail = [{"loc": ["body", "lines", 1, "quantity"], "msg": "Input should be a valid integer"},
              {"loc": ["body", "customer_id"], "msg": "Value error, unknown customer 'X'"},
              {"loc": ["body", "delivery_address", "country"], "msg": "bad country"}]
    fields = field_errors(detail)
    assert fields == {"lines.1.quantity": "Input should be a valid integer", "customer_id": "unknown customer 'X'",
                      "delivery_address.country": "bad country"}
    body, rows = order_body({"customer_id": " X ", "sku_0": "SKU-A", "quantity_0": "2", "sku_2": "SKU-B",
                             "quantity_2": "two", "address_country": "ZZ"})
    assert body["lines"] == [{"sku": "SKU-A", "quantity": 2}, {"sku": "SKU-B", "quantity": "two"}] and rows == [0, 2]
    assert body["customer_id"] == "X" and body["delivery_address"]["country"] == "ZZ"
    assert form_errors(fields, rows) == {"quantity_2": "Input should be a valid integer",
                                         "customer_id": "unknown customer 'X'", "address_country": "bad country"}


def test_actions_offered_follow_role_status_and_ownership() -> None:
    clara = User("clara", "Clara", frozenset({roles.CLERK}), "t", 0)
    maria = User("maria", "Maria", frozenset({roles.SALES_MANAGER}), "t", 0)
    sample = {"status": "awaiting_approval", "placed_by": "colin", "compensations": []}
    assert actions_for(maria, sample)["approve"] and not actions_for(clara, sample)["approve"]
    assert not actions_for(clara, sample)["cancel"] and actions_for(clara, {**sample, "placed_by": "clara"})["cancel"]
    decision = {"status": "decision_needed", "decision": {"owner_roles": ["logistics"], "options": ["cancel"]}}
    assert not actions_for(maria, decision)["decision"]
    assert not actions_for(maria, {"status": "completed"})["cancel"]


def test_sign_in_redirects_only_within_the_console() -> None:
    assert safe_next("/orders?status=x") == "/orders?status=x"
    for hostile in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "", None):
        assert safe_next(hostile) == "/"


# --- the HTTP surface in-process ----------------------------------------------------------------------

@pytest.fixture
def console_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ORDERFLOW_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("ORDERFLOW_AUTH_JWKS_URL", raising=False)
    from services.console.app import create_app
    from services.runtime import dev_issuer
    dev_issuer.ensure_keys()
    return create_app()


def _csrf(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


async def test_pages_need_a_session_and_actions_a_csrf_token(console_app) -> None:
    transport = httpx.ASGITransport(app=console_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        page = await client.get("/orders?status=completed")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Forders%3Fstatus%3Dcompleted"
        login = await client.get("/login")
        assert login.status_code == 200 and 'data-testid="dev-user-oscar"' in login.text
        assert "default-src 'self'" in login.headers["content-security-policy"]
        refused = await client.post("/login/dev", data={"username": "clara", "csrf_token": "forged"})
        assert refused.status_code == 403
        signed = await client.post("/login/dev", data={"username": "clara", "csrf_token": _csrf(login.text),
                                                       "next": "/orders"})
        assert signed.status_code == 303 and signed.headers["location"] == "/orders"
        cookie = signed.headers["set-cookie"].lower()
        assert "orderflow_console=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert client.cookies.get("orderflow_console")
        # A clerk is turned away from the operators' pages by the console itself.
        forbidden = await client.get("/dead-letters")
        assert forbidden.status_code == 403 and "operator, auditor" in forbidden.text
        # An action without the session's CSRF token is refused before any API is called.
        forged = await client.post("/orders/new", data={"customer_id": "CUST-ACME", "csrf_token": "nope"})
        assert forged.status_code == 403 and "CSRF" in forged.text
        signed_out = await client.post("/logout", data={"csrf_token": "nope"})
        assert signed_out.status_code == 403
        # The sign-in page shows only its own messages, never text from the link.
        planted = await client.get("/login?reason=Call+555-0100+to+verify+your+account")
        assert "555-0100" not in planted.text
        assert "Signed out." in (await client.get("/login?reason=signed-out")).text


async def test_a_tampered_session_cookie_is_not_a_session(console_app) -> None:
    transport = httpx.ASGITransport(app=console_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        client.cookies.set("orderflow_console", "eyJ0b2tlbiI6ICJ4In0=.forged.signature")
        assert (await client.get("/orders")).status_code == 303


def test_an_undeclared_console_route_stops_the_console(console_app) -> None:
    from services.console.session import check_routes

    @console_app.get("/forgotten")
    async def forgotten() -> dict:
        return {}

    with pytest.raises(RuntimeError, match="GET /forgotten"):
        check_routes(console_app)


def test_kpi_bars_escape_and_mark_missing_periods() -> None:
    from services.console import charts
    svg = charts.bars([("2026-01-01", 0.5), ("2026-01-02", None), ("<b>", 1.0)], title="On-time", unit="%", top=1.0)
    assert svg.count("<rect") == 3 and "–" in svg and "50%" in svg and "<b>" not in svg and "&lt;b&gt;" in svg
    assert charts.shown(None, "%") == "–" and charts.shown(90.0, "s") == "90.0 s" and charts.number("1.50") == 1.5


# --- sign-in modes, live hub ---------------------------------------------------------------------

def test_oidc_is_chosen_with_an_identity_provider_and_configured_from_settings(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from services.console.settings import ConsoleSettings
    from services.console.signin import OidcSettings, oidc_client, signin_mode
    monkeypatch.delenv("ORDERFLOW_AUTH_JWKS_URL", raising=False)
    assert signin_mode(ConsoleSettings()) == "dev"
    monkeypatch.setenv("ORDERFLOW_AUTH_JWKS_URL", "https://idp.example/realms/acme/protocol/openid-connect/certs")
    monkeypatch.setenv("ORDERFLOW_AUTH_ISSUER", "https://idp.example/realms/acme")
    secret = tmp_path / "client.secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("ORDERFLOW_AUTH_CLIENT_SECRET_FILE", str(secret))
    settings = ConsoleSettings()
    assert signin_mode(settings) == "oidc"
    assert OidcSettings().metadata_url() == "https://idp.example/realms/acme/.well-known/openid-configuration"
    client = oidc_client(settings)          # registered only: no identity provider is reachable here
    assert client.client_id == "orderflow-console" and client.client_secret == "s3cret"
    assert client.client_kwargs["code_challenge_method"] == "S256"
    assert client._server_metadata_url == OidcSettings().metadata_url()


async def test_the_live_hub_fans_out_and_announces_a_quiet_order_again() -> None:
    import asyncio
    from services.console.live import Change, LiveHub, change_of
    hub = LiveHub(settle_seconds=0.05)
    async with hub.subscribe() as first, hub.subscribe() as second:
        hub.publish(Change("finance.events.v1", "finance.credit_approved", "order-1"))
        assert (await first.get()).type == "finance.credit_approved" == (await second.get()).type
        settled = await asyncio.wait_for(first.get(), 1)
        assert settled == Change("finance.events.v1", "settled", "order-1")
    assert hub.subscribers == 0
    assert change_of("risk.events.v1", b'{"type": "risk.raised", "correlation_id": "c"}').kinds() == \
        {"orders", "risks", "alerts"}
    assert change_of("sales.events.v1", b"not json") is None
