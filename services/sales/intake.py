"""Order intake rules (sales' completeness/plausibility review), shared by the HTTP API and the
`sales.place_order` command topic."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Annotated

import iso3166
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
    payment_terms_days: int | None = Field(default=None, ge=0, le=365,
                                           description="Requested payment terms in days; default: the agreed terms "
                                                       "(longer ones go to a joint review)")
    special: bool = Field(default=False, description="A special order: reviewed jointly before anything is reserved")
    special_reason: str | None = Field(default=None, max_length=500, description="Why it is special (also flags it)")

    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$",
                                 description="ISO 4217; must be the customer's (default: the customer's)")

    @field_validator("delivery_address")
    @classmethod
    def a_real_country(cls, value: Address | None) -> Address | None:
        if value is not None:
            country_error(value.country)
        return value

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


def country_error(code: str) -> None:
    """Refuse what is not an ISO 3166-1 alpha-2 country (e.g. 'ZZ', 'de'): raises ValueError."""
    if code not in iso3166.countries_by_alpha2:
        raise ValueError(f"country {code!r} is not an ISO 3166-1 alpha-2 country code")


class IntakeError(Exception):
    """The order refers to things sales does not know. `errors` uses FastAPI's 422 format."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def price_lines(request: OrderRequest, price_list: dict[str, Decimal], customer_known: bool,
                currency: str | None = None) -> list[PricedLine]:
    """Check the request against master data and price each line (agreed price, else list price) in
    the customer's `currency` (an order in another currency is refused: the customer is billed in one)."""
    errors = []
    if not customer_known:
        errors.append({"loc": ["body", "customer_id"], "msg": f"unknown customer {request.customer_id!r}",
                       "type": "value_error"})
    elif currency and request.currency and request.currency != currency:
        errors.append({"loc": ["body", "currency"], "msg": f"{request.customer_id} is billed in {currency}, "
                       f"not {request.currency}", "type": "value_error"})
    priced = []
    for index, line in enumerate(request.lines):
        if line.sku not in price_list:
            why = f"unknown or inactive SKU {line.sku!r}" + (f", or no {currency} price for it"
                                                             if currency and currency != "EUR" else "")
            errors.append({"loc": ["body", "lines", index, "sku"], "msg": why, "type": "value_error"})
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


def price_change_lines(order_type: OrderType, current: list[PricedLine], wanted: dict[str, int],
                       price_list: dict[str, Decimal]) -> tuple[PricedLine, ...]:
    """The order's lines after a change: kept lines keep their price, new ones get the list price,
    except on a sample, which stays free of charge (a change must not make it a paid order)."""
    prices = {line.sku: line.unit_price for line in current}
    quantities = {line.sku: line.quantity for line in current}
    quantities.update(wanted)

    def price(sku: str) -> Decimal:
        if order_type == OrderType.SAMPLE:
            return Decimal("0.00")
        return prices[sku] if sku in prices else price_list[sku]
    return tuple(PricedLine(sku=sku, quantity=qty, unit_price=price(sku)) for sku, qty in quantities.items() if qty > 0)
