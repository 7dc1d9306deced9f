"""Order intake rules (sales' completeness/plausibility review), shared by the HTTP API and the
`sales.place_order` command topic."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.common import Address, FulfilmentPolicy, OrderType, PaymentMethod, PricedLine
from contracts.sales import OrderLineRequest
from services.runtime.http_hardening import IsoDate


class OrderLineBody(OrderLineRequest):
    """An order line as the HTTP API takes it: unknown fields are an error a clerk should see, and a
    quantity is a JSON number, not "1" or true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: Annotated[int, Field(strict=True, gt=0, le=1_000_000)]


class OrderRequest(BaseModel):
    """Body of POST /orders."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "customer_id": "CUST-ACME", "order_type": "standard",
        "lines": [{"sku": "SKU-BOLT-M8", "quantity": 10}, {"sku": "SKU-GEAR-40", "quantity": 2}],
        "requested_delivery_date": "2026-12-15", "payment_method": "invoice"}})

    customer_id: str = Field(min_length=1, max_length=64)
    order_type: OrderType = OrderType.STANDARD
    lines: list[OrderLineBody] = Field(min_length=1, max_length=200)
    payment_method: PaymentMethod = PaymentMethod.INVOICE
    fulfilment_policy: FulfilmentPolicy = FulfilmentPolicy.SHIP_COMPLETE
    requested_delivery_date: IsoDate | None = None
    delivery_address: Address | None = Field(default=None, description="Defaults to the customer's address")
    external_ref: str | None = Field(default=None, min_length=1, max_length=100,
                                     description="Caller's reference; a repeated reference returns the same order")

    @field_validator("requested_delivery_date")
    @classmethod
    def not_in_the_past(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value < dt.date.today():
            raise ValueError("must not be in the past")
        return value

    @field_validator("lines")
    @classmethod
    def one_line_per_sku(cls, lines: list[OrderLineBody]) -> list[OrderLineBody]:
        skus = [line.sku for line in lines]
        duplicates = sorted({s for s in skus if skus.count(s) > 1})
        if duplicates:
            raise ValueError(f"each SKU may appear once; repeated: {', '.join(duplicates)}")
        return lines


class IntakeError(Exception):
    """The order refers to things sales does not know. `errors` uses FastAPI's 422 format."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def price_lines(request: OrderRequest, price_list: dict[str, Decimal], customer_known: bool) -> list[PricedLine]:
    """Check the request against master data and price each line (agreed price, else list price)."""
    errors = []
    if not customer_known:
        errors.append({"loc": ["body", "customer_id"], "msg": f"unknown customer {request.customer_id!r}",
                       "type": "value_error"})
    priced = []
    for index, line in enumerate(request.lines):
        if line.sku not in price_list:
            errors.append({"loc": ["body", "lines", index, "sku"], "msg": f"unknown or inactive SKU {line.sku!r}",
                           "type": "value_error"})
            continue
        unit_price = line.unit_price if line.unit_price is not None else price_list[line.sku]
        if request.order_type == OrderType.SAMPLE:
            unit_price = Decimal("0.00")   # samples are free of charge
        priced.append(PricedLine(sku=line.sku, quantity=line.quantity, unit_price=unit_price))
    if errors:
        raise IntakeError(errors)
    return priced


def new_traceparent() -> dict[str, str]:
    """W3C trace context for a new order; every message about the order carries it on."""
    return {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"}
