"""Finance's business rules, pure: the price and credit review of an order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from contracts.common import OrderType, PricedLine

CREDIT_CHECKED_TYPES = {OrderType.STANDARD}   # samples are free; prepaid orders are paid before risk arises


@dataclass(frozen=True)
class CreditAccount:
    credit_limit: Decimal
    exposure: Decimal            # credit held for open orders + unpaid invoices
    max_discount_pct: Decimal


def review(order_type: OrderType, lines: list[PricedLine], total: Decimal, account: CreditAccount,
           list_prices: dict[str, Decimal]) -> list[str]:
    """Reasons to reject the order; empty means approved."""
    reasons = []
    for line in lines:
        list_price = list_prices.get(line.sku)
        if list_price is None:
            reasons.append(f"{line.sku}: not on the price list")
            continue
        if order_type == OrderType.SAMPLE:
            continue
        floor = (list_price * (1 - account.max_discount_pct / 100)).quantize(Decimal("0.01"), rounding=ROUND_UP)
        if line.unit_price < floor:
            reasons.append(f"{line.sku}: price {line.unit_price} below the allowed minimum {floor} "
                           f"(list {list_price}, max discount {account.max_discount_pct}%)")
    if order_type in CREDIT_CHECKED_TYPES and account.exposure + total > account.credit_limit:
        reasons.append(f"credit limit exceeded: exposure {account.exposure} + order {total} "
                       f"> limit {account.credit_limit}")
    return reasons


def held_amount(order_type: OrderType, total: Decimal) -> Decimal:
    """What the order holds against the credit limit until it is invoiced or released."""
    return total if order_type in CREDIT_CHECKED_TYPES else Decimal("0.00")
