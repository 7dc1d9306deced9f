"""Value types shared by several messages."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Quantity = Annotated[int, Field(gt=0, le=1_000_000)]


class OrderType(StrEnum):
    STANDARD = "standard"
    SAMPLE = "sample"
    PREPAID_AT_ORDER = "prepaid_at_order"
    PREPAID_BEFORE_SHIPMENT = "prepaid_before_shipment"


class PaymentMethod(StrEnum):
    INVOICE = "invoice"          # pay on terms after the invoice
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"


class Address(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")


class PricedLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    quantity: Quantity
    unit_price: Money


class StockLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    quantity: Quantity
