"""The HTTP side of authentication (services/runtime/http_auth.py) on a small in-process app, and the
audit excerpt (services/runtime/audit.py). The real services are tested in tests/e2e/test_http_auth.py."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from services.runtime import audit, dev_issuer, http_auth
from services.runtime.http_auth import Caller, requires
from services.runtime.roles import AUDITOR, CLERK, SALES_MANAGER
from services.runtime.tokens import AuthSettings, TokenVerifier


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_app(tmp_path, key) -> FastAPI:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(dev_issuer.public_jwks(key)))
    verifier = TokenVerifier(AuthSettings(issuer="iss", audience="aud", jwks_file=jwks))
    app = FastAPI()
    is_public = lambda path: path.startswith("/health/")   # noqa: E731
    http_auth.install(app, verifier=verifier, is_public=is_public, pool=lambda: None)

    @app.get("/health/live")
    def live() -> dict:
        return {"ok": True}

    @app.post("/orders/{order_id}/approve")
    def approve(order_id: str, caller: Caller = requires(SALES_MANAGER, CLERK)) -> dict:
        return {"by": caller.subject, "as": caller.role, "initiator": caller.initiator().model_dump()}

    @app.get("/things", dependencies=[requires(AUDITOR)])
    def things() -> list:
        return []

    return app


def client_of(app: FastAPI) -> httpx.AsyncClient:
    """In-process: requests go straight to the ASGI app, no socket."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def bearer(key, **claims) -> dict[str, str]:
    now = int(time.time())
    body = {"iss": "iss", "aud": "aud", "sub": "maria", "name": "Maria", "roles": ["sales_manager", "clerk"],
            "iat": now, "exp": now + 60, **claims}
    kid = dev_issuer.public_jwks(key)["keys"][0]["kid"]
    return {"Authorization": f"Bearer {jwt.encode(body, key, algorithm='ES256', headers={'kid': kid})}"}


async def test_tokens_and_roles(tmp_path, key):
    client = client_of(make_app(tmp_path, key))
    assert (await client.get("/health/live")).status_code == 200
    missing = await client.get("/things")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, 'Bearer realm="orderflow"')
    expired = await client.get("/things", headers=bearer(key, exp=int(time.time()) - 600))
    assert expired.status_code == 401 and expired.json() == {"detail": "token expired"}
    assert expired.headers["www-authenticate"] == \
        'Bearer realm="orderflow", error="invalid_token", error_description="token expired"'
    assert (await client.get("/openapi.json")).status_code == 401 and (await client.get("/docs")).status_code == 401

    ok = await client.post("/orders/o-1/approve", headers=bearer(key))
    assert ok.status_code == 200
    assert ok.json() == {"by": "maria", "as": "sales_manager",        # the first allowed role held
                         "initiator": {"subject": "maria", "name": "Maria", "role": "sales_manager"}}
    forbidden = await client.get("/things", headers=bearer(key))
    assert forbidden.status_code == 403
    assert forbidden.json()["detail"] == "GET /things needs one of the roles auditor; maria has clerk, sales_manager"


async def test_openapi_documents_the_scheme_roles_and_refusals(tmp_path, key):
    app = make_app(tmp_path, key)
    schema = (await client_of(app).get("/openapi.json", headers=bearer(key))).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operation = schema["paths"]["/orders/{order_id}/approve"]["post"]
    assert operation["security"] == [{"bearerAuth": ["sales_manager", "clerk"]}]
    assert {"401", "403"} <= set(operation["responses"]) and "Roles: sales_manager, clerk." in operation["description"]
    assert "security" not in schema["paths"]["/health/live"]["get"]
    assert http_auth.route_roles(app)[("GET", "/things")] == ("auditor",)


def test_a_route_without_roles_stops_the_service(tmp_path, key):
    app = make_app(tmp_path, key)

    @app.get("/forgotten")
    def forgotten() -> dict:
        return {}

    with pytest.raises(RuntimeError, match="GET /forgotten"):
        http_auth.check_routes(app, lambda path: path.startswith("/health/"))


def test_unknown_roles_are_a_programming_error():
    with pytest.raises(ValueError):
        requires("admin")


# --- the audit excerpt ----------------------------------------------------------------------

def test_audit_excerpt_masks_secrets_and_is_bounded():
    asked = json.dumps({"reason": "x", "password": "hunter2", "nested": {"api_key": "k", "note": "eyJa.eyJb.sig"}})
    assert audit.excerpt(asked.encode()) == {"reason": "x", "password": "***",
                                              "nested": {"api_key": "***", "note": "***"}}
    cut = audit.excerpt(b'{"reason": "' + b"y" * 9000 + b'", "token": "abc"', complete=False)
    assert cut["truncated"] and len(cut["excerpt"]) == audit.MAX_EXCERPT
    assert audit.mask_text('{"token": "abc", "client_secret": "s3"}&password=pw') == \
        '{"token": ***, "client_secret": ***}&password=***'
    big = audit.excerpt(json.dumps({"lines": [{"sku": "S", "quantity": n} for n in range(500)]}).encode())
    assert big["truncated"] and len(big["excerpt"]) == audit.MAX_EXCERPT
    assert audit.excerpt(b"") is None


def test_audit_finds_the_order_and_the_outcome():
    order = "0b5c7a8e-2f41-4e0e-9a57-0c1c9d3f1a22"
    assert audit.order_id_of(f"/orders/{order}/cancel", None, b"") == order
    assert audit.order_id_of("/orders", {"customer_id": "C"}, json.dumps({"order_id": order}).encode()) == order
    assert audit.outcome_of(403, b'{"detail": "needs sales_manager"}') == "needs sales_manager"
    assert audit.outcome_of(422, json.dumps({"detail": [{"loc": ["body", "lines", 0], "msg": "bad"}]}).encode()) \
        == "lines.0: bad"
    assert audit.outcome_of(202, b'{"status": "cancelling", "note": "cancel requested"}') == \
        "status cancelling, note cancel requested"


def test_metrics_need_an_operator_or_auditor_when_not_public(tmp_path):
    from pathlib import Path

    from contracts.topics import topics_read_by
    from services.runtime.config import Settings
    from services.runtime.service import Service

    closed = Service("sales", settings=Settings(metrics_public=False), migrations=Path(tmp_path),
                     subscribe=topics_read_by("sales"))
    assert not closed.is_public("/metrics") and closed.is_public("/health/ready")
    assert http_auth.route_roles(closed.http)[("GET", "/metrics")] == ("operator", "auditor")
    open_ = Service("sales", settings=Settings(), migrations=Path(tmp_path), subscribe=topics_read_by("sales"))
    assert open_.is_public("/metrics") and http_auth.route_roles(open_.http)[("GET", "/metrics")] is None
