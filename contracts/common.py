"""Value types shared by several messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
UnitCost = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]   # per unit, in the base currency
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
BASE_CURRENCY = "EUR"    # the company's books; money in a message without a currency is in it
Quantity = Annotated[int, Field(gt=0, le=1_000_000)]


class OrderType(StrEnum):
    STANDARD = "standard"
    SAMPLE = "sample"
    PREPAID_AT_ORDER = "prepaid_at_order"
    PREPAID_BEFORE_SHIPMENT = "prepaid_before_shipment"


class FulfilmentPolicy(StrEnum):
    SHIP_COMPLETE = "ship_complete"   # wait until every line is in stock, ship once
    SHIP_PARTIAL = "ship_partial"     # ship what is reserved now, backorder the rest (one invoice per shipment)


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


class LineCost(BaseModel):
    """What goods cost the company (moving average at the time, base currency) for one SKU."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    quantity: Quantity
    unit_cost: UnitCost


class ReturnReason(StrEnum):
    WRONG_ITEM = "wrong_item"            # an order accuracy failure
    WRONG_QUANTITY = "wrong_quantity"    # an order accuracy failure
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    NOT_NEEDED = "not_needed"
    OTHER = "other"


class StockLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    quantity: Quantity


class ChangeProposal(BaseModel):
    """A customer's change to an order, as every reviewing department sees it. `lines` is the
    order's complete new set of lines (a removed line is absent)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    change_id: str
    order_id: str
    revision: int = Field(ge=2, description="The order's revision once the change is applied")
    lines: list[PricedLine]
    previous_lines: list[PricedLine]
    address: Address | None = Field(default=None, description="New delivery address, if it changes")
    requested_delivery_date: dt.date | None = Field(default=None, description="New date, if it changes")
    new_total: Money
    previous_total: Money

    def quantity_deltas(self) -> dict[str, int]:
        """Per SKU: new quantity minus old quantity (only SKUs that change)."""
        old = {line.sku: line.quantity for line in self.previous_lines}
        new = {line.sku: line.quantity for line in self.lines}
        return {sku: new.get(sku, 0) - old.get(sku, 0) for sku in sorted(old | new)
                if new.get(sku, 0) != old.get(sku, 0)}


class OrderUnderReview(BaseModel):
    """An order as each reviewing department sees it before anything is reserved: a joint review
    of a major or special order (finance, warehouse, logistics, then a sales manager), or the
    destination check every order gets from logistics."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    review_id: str
    order_id: str
    order_number: str
    customer_id: str
    order_type: OrderType
    payment_method: PaymentMethod
    payment_terms_days: int | None = Field(default=None, description="Requested terms; None: the agreed terms")
    lines: list[PricedLine]
    total: Money
    address: Address
    requested_delivery_date: dt.date | None = None
    joint: bool = Field(default=True, description="False: only the destination is checked (logistics)")
    reasons: list[str] = Field(default_factory=list, description="Why the order needs a joint review")
