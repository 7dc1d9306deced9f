"""Edge hardening (services/runtime/http_hardening.py) on a small in-process app: every bad input of
issue 10 gets a 4xx with a bounded, encodable body, a database outage a 503 with Retry-After, and
the OpenAPI document lists those answers. The real services are fuzzed in tests/e2e/test_zy_api_fuzzing.py."""

from __future__ import annotations

import json
from decimal import Decimal

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from contracts.common import Money
from services.runtime import http_hardening
from services.runtime.http_hardening import DependencyUnavailable, IsoDate, IsoDateTime, StrictCount

LIMIT = 4096


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    quantity: StrictCount
    unit_price: Money | None = None


class Body(BaseModel):
    customer_id: str = Field(max_length=5000)
    lines: list[Line]
    deliver_on: IsoDate | None = None


def make_app() -> FastAPI:
    app = FastAPI()
    http_hardening.install(app, max_body_bytes=LIMIT)

    @app.post("/orders")
    async def place(body: Body) -> dict:
        return {"customer_id": body.customer_id, "total": str(sum((l.unit_price or Decimal(1)) * l.quantity
                                                                  for l in body.lines))}

    @app.get("/orders")
    async def listing(limit: int = Query(default=10, ge=1, le=100), since: IsoDateTime | None = None,
                      status: str | None = None) -> dict:
        return {"limit": limit, "since": since.isoformat() if since else None, "status": status}

    @app.get("/orders/{order_id}")
    async def show(order_id: str) -> dict:
        if order_id == "db-down":
            raise ConnectionRefusedError(111, "Connect call failed")
        if order_id == "db-gone":
            raise asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")
        if order_id == "not-yet":
            raise DependencyUnavailable("database", "waiting (attempt 3)")
        return {"order_id": order_id}

    return app


@pytest.fixture
def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://test")


def line(**overrides) -> dict:
    return {"sku": "SKU-A", "quantity": 1, **overrides}


async def post(client: httpx.AsyncClient, raw: bytes) -> httpx.Response:
    return await client.post("/orders", content=raw, headers={"content-type": "application/json"})


async def test_a_valid_request_passes_untouched(client):
    ok = await client.post("/orders", json={"customer_id": "C", "lines": [line(unit_price="2.50", quantity=2)]})
    assert ok.status_code == 200 and ok.json() == {"customer_id": "C", "total": "5.00"}


@pytest.mark.parametrize("raw, where, message", [
    (b'{"customer_id": "C", "lines": [{"sku": "SKU-A", "quantity": 1, "unit_price": NaN}]}',
     ["body", "lines", 0, "unit_price"], "must be a finite number"),
    (b'{"customer_id": "C", "lines": [{"sku": "SKU-A", "quantity": 1, "unit_price": Infinity}]}',
     ["body", "lines", 0, "unit_price"], "must be a finite number"),
    (b'{"customer_id": "C", "lines": [{"sku": "SKU-A", "quantity": 1, "unit_price": 1e400}]}',
     ["body", "lines", 0, "unit_price"], "must be a finite number"),
    (b'{"customer_id": "\\ud800", "lines": []}', ["body", "customer_id"], "no lone surrogates"),
    (b'{"customer_id": "a\\u0000b", "lines": []}', ["body", "customer_id"], "must not contain NUL"),
    (b'{"customer_id": "C", "lines": [], "\\u0000": 1}', ["body", "\\x00"], "field name must not contain NUL"),
    (b'{"customer_id": "C", "lines": [', ["body"], "not valid JSON"),
    (b'\xff\xfe{}', ["body"], "not valid JSON"),
])
async def test_text_and_numbers_nobody_can_carry_are_a_422(client, raw, where, message):
    response = await post(client, raw)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == where and message in error["msg"]


@pytest.mark.parametrize("quantity", ["1", True, 1.0])
async def test_a_quantity_is_a_json_integer(client, quantity):
    response = await client.post("/orders", json={"customer_id": "C", "lines": [line(quantity=quantity)]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "lines", 0, "quantity"]


async def test_dates_are_iso_text_only(client):
    assert (await client.post("/orders", json={"customer_id": "C", "lines": [], "deliver_on": 0})).status_code == 422
    assert (await client.post("/orders", json={"customer_id": "C", "lines": [],
                                               "deliver_on": "2031-01-15"})).status_code == 200
    assert (await client.get("/orders", params={"since": "0.5"})).status_code == 422
    assert (await client.get("/orders", params={"since": "0001-01-01T00:00:00+05:00"})).status_code == 422
    naive = await client.get("/orders", params={"since": "2031-01-01T09:00:00"})
    assert naive.json()["since"] == "2031-01-01T09:00:00+00:00"


@pytest.mark.parametrize("query", ["status=a%00b", "status=%ED%A0%80", "status=%ff", "limit=-1", "limit=1e9"])
async def test_bad_query_values_are_a_422(client, query):
    response = await client.get(f"/orders?{query}")
    assert response.status_code == 422, response.text
    json.dumps(response.json(), ensure_ascii=False).encode("utf-8")      # always encodable


async def test_a_nul_in_the_path_is_a_422(client):
    response = await client.get("/orders/a%00b")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["path"]


async def test_a_body_over_the_limit_is_a_413_by_header_or_by_size(client):
    big = json.dumps({"customer_id": "x" * LIMIT, "lines": []}).encode()
    assert (await post(client, big)).status_code == 413

    async def chunks():                                  # no Content-Length: counted while read
        for _ in range(8):
            yield b" " * 1024
    streamed = await client.post("/orders", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "larger than 4096 bytes" in streamed.json()["detail"]


async def test_a_422_echoes_only_an_excerpt(client):
    response = await client.post("/orders", json={"customer_id": "y" * 3000, "lines": "not a list"})
    detail = response.json()["detail"]
    assert response.status_code == 422 and len(response.content) < 1000
    assert any(d["loc"] == ["body", "lines"] for d in detail)
    too_long = [d for d in detail if d["loc"] == ["body", "customer_id"]]
    assert not too_long or len(too_long[0]["input"]) < 200


@pytest.mark.parametrize("order_id", ["db-down", "db-gone", "not-yet"])
async def test_a_database_outage_is_a_503_with_retry_after(client, order_id):
    response = await client.get(f"/orders/{order_id}")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json() == {"detail": "database unavailable, retry later"}


async def test_405_lists_every_method_of_the_path(client):
    response = await client.request("DELETE", "/orders")
    assert response.status_code == 405 and set(response.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_openapi_documents_the_answers_and_the_text_rule():
    schema = make_app().openapi()
    post_orders = schema["paths"]["/orders"]["post"]["responses"]
    assert {"413", "422", "503"} <= set(post_orders)
    assert post_orders["503"]["headers"]["Retry-After"]
    assert "404" in schema["paths"]["/orders/{order_id}"]["get"]["responses"]
    assert "404" not in schema["paths"]["/orders"]["get"]["responses"]
    sku = schema["components"]["schemas"]["Line"]["properties"]["sku"]
    assert sku["pattern"] == http_hardening.NO_NUL
