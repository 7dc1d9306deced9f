"""Order search (services/sales/search.py): cursors, unknown query parameters, bad filter values.
The queries themselves run against PostgreSQL in tests/e2e/test_order_search.py."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from types import SimpleNamespace

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from services.runtime import dev_issuer, http_auth
from services.runtime.tokens import AuthSettings, TokenVerifier
from services.sales import search


def test_a_cursor_round_trips_and_garbage_is_refused():
    at = dt.datetime(2026, 3, 1, 12, 30, 1, 123456, tzinfo=dt.timezone.utc)
    order_id = str(uuid.uuid4())
    assert search.decode_cursor(search.encode_cursor(at, order_id)) == (at, uuid.UUID(order_id))
    for bad in ("", "not-base64!!", "eyJ4IjogMX0", search.encode_cursor(at, order_id)[:-6]):
        with pytest.raises(ValueError):
            search.decode_cursor(bad)


def test_unknown_parameters_are_named():
    errors = search.unknown_parameters(["customer_id", "customer", "stauts", "limit"])
    assert [e["loc"] for e in errors] == [["query", "customer"], ["query", "stauts"]]
    assert "unknown query parameter 'customer'" in errors[0]["msg"]
    assert search.unknown_parameters(sorted(search.SEARCH_PARAMETERS)) == []


def test_a_date_bound_covers_its_whole_day():
    day = dt.date(2026, 1, 31)
    assert search._as_bound(day, end=False) == dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc)
    assert search._as_bound(day, end=True) == dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def client(tmp_path) -> httpx.AsyncClient:
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(dev_issuer.public_jwks(key)))
    app = FastAPI()
    http_auth.install(app, verifier=TokenVerifier(AuthSettings(issuer="iss", audience="aud", jwks_file=jwks)),
                      is_public=lambda path: False, pool=lambda: None)
    app.include_router(search.router(SimpleNamespace(pool=None)))   # 422s answer before any query
    now = int(time.time())
    token = jwt.encode({"iss": "iss", "aud": "aud", "sub": "clara", "roles": ["clerk"], "iat": now, "exp": now + 60},
                       key, algorithm="ES256", headers={"kid": dev_issuer.public_jwks(key)["keys"][0]["kid"]})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                             headers={"Authorization": f"Bearer {token}"})


async def test_an_unknown_query_parameter_is_a_422_naming_it(client):
    response = await client.get("/orders", params={"customer": "CUST-ACME", "status": "completed"})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", "customer"]]


async def test_bad_values_and_a_forged_cursor_are_422(client):
    response = await client.get("/orders", params={"status": "done", "created_from": "yesterday"})
    assert response.status_code == 422
    assert {tuple(e["loc"][:2]) for e in response.json()["detail"]} == {("query", "status"), ("query", "created_from")}
    response = await client.get("/orders", params={"cursor": "abc"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_plain_date_parameter_is_read_as_a_day_not_as_midnight():
    from pydantic import TypeAdapter
    adapter = TypeAdapter(dt.date | dt.datetime)          # the parameters' type in search.router
    assert type(adapter.validate_python("2026-01-31")) is dt.date
    assert isinstance(adapter.validate_python("2026-01-31T10:00:00Z"), dt.datetime)
