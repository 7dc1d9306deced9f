"""Order intake (services/sales/intake.py): request validation and pricing against master data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts.common import OrderType
from services.sales.intake import IntakeError, OrderRequest, new_traceparent, price_lines

PRICES = {"SKU-A": Decimal("2.50"), "SKU-B": Decimal("100.00")}


def request(**overrides) -> OrderRequest:
    body = {"customer_id": "CUST-ACME", "lines": [{"sku": "SKU-A", "quantity": 10}, {"sku": "SKU-B", "quantity": 2}]}
    body.update(overrides)
    return OrderRequest.model_validate(body)


def error_locs(exc: ValidationError) -> list[tuple]:
    return [e["loc"] for e in exc.errors()]


def test_valid_request_defaults():
    r = request()
    assert r.order_type == OrderType.STANDARD
    assert r.payment_method == "invoice"
    assert r.requested_delivery_date is None and r.delivery_address is None


def test_example_in_schema_is_valid():
    example = OrderRequest.model_json_schema()["example"]
    OrderRequest.model_validate({**example, "requested_delivery_date": None})


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantity_must_be_positive(quantity):
    with pytest.raises(ValidationError) as exc:
        request(lines=[{"sku": "SKU-A", "quantity": quantity}])
    assert error_locs(exc.value) == [("lines", 0, "quantity")]


def test_empty_lines_rejected():
    with pytest.raises(ValidationError) as exc:
        request(lines=[])
    assert error_locs(exc.value) == [("lines",)]


def test_duplicate_skus_rejected():
    with pytest.raises(ValidationError) as exc:
        request(lines=[{"sku": "SKU-A", "quantity": 1}, {"sku": "SKU-B", "quantity": 1},
                       {"sku": "SKU-A", "quantity": 2}])
    [error] = exc.value.errors()
    assert error["loc"] == ("lines",)
    assert "repeated: SKU-A" in error["msg"]


def test_past_delivery_date_rejected():
    with pytest.raises(ValidationError) as exc:
        request(requested_delivery_date=(dt.date.today() - dt.timedelta(days=1)).isoformat())
    [error] = exc.value.errors()
    assert error["loc"] == ("requested_delivery_date",) and "past" in error["msg"]


def test_today_and_future_delivery_dates_accepted():
    assert request(requested_delivery_date=dt.date.today().isoformat()).requested_delivery_date == dt.date.today()
    request(requested_delivery_date=(dt.date.today() + dt.timedelta(days=30)).isoformat())


def test_extra_fields_forbidden_on_request_and_lines():
    with pytest.raises(ValidationError) as exc:
        request(priority="high")
    assert error_locs(exc.value) == [("priority",)]
    with pytest.raises(ValidationError) as exc:
        request(lines=[{"sku": "SKU-A", "quantity": 1, "colour": "red"}])
    assert error_locs(exc.value) == [("lines", 0, "colour")]


def test_unknown_customer_and_sku_reported_together_with_fastapi_locs():
    r = request(lines=[{"sku": "SKU-A", "quantity": 1}, {"sku": "SKU-NOPE", "quantity": 1}])
    with pytest.raises(IntakeError) as exc:
        price_lines(r, PRICES, customer_known=False)
    errors = exc.value.errors
    assert [e["loc"] for e in errors] == [["body", "customer_id"], ["body", "lines", 1, "sku"]]
    assert all(e["type"] == "value_error" for e in errors)
    assert "CUST-ACME" in errors[0]["msg"] and "SKU-NOPE" in errors[1]["msg"]
    assert "body.customer_id" in str(exc.value) and "body.lines.1.sku" in str(exc.value)


def test_list_price_by_default_and_agreed_price_kept():
    r = request(lines=[{"sku": "SKU-A", "quantity": 10}, {"sku": "SKU-B", "quantity": 2, "unit_price": "90.00"}])
    priced = price_lines(r, PRICES, customer_known=True)
    assert [(p.sku, p.quantity, p.unit_price) for p in priced] == [
        ("SKU-A", 10, Decimal("2.50")), ("SKU-B", 2, Decimal("90.00"))]


def test_agreed_price_of_zero_is_kept():
    r = request(lines=[{"sku": "SKU-A", "quantity": 1, "unit_price": "0"}])
    assert price_lines(r, PRICES, customer_known=True)[0].unit_price == Decimal("0")


def test_samples_priced_at_zero_even_with_agreed_price():
    r = request(order_type="sample", lines=[{"sku": "SKU-A", "quantity": 1},
                                            {"sku": "SKU-B", "quantity": 1, "unit_price": "50.00"}])
    assert [p.unit_price for p in price_lines(r, PRICES, customer_known=True)] == [Decimal("0.00")] * 2


def test_new_traceparent_is_w3c():
    parts = new_traceparent()["traceparent"].split("-")
    assert [len(p) for p in parts] == [2, 32, 16, 2] and parts[0] == "00" and parts[3] == "01"
