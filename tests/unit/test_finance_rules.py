"""Finance's price and credit review (services/finance/rules.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.common import OrderType, PricedLine
from services.finance.rules import CreditAccount, held_amount, review

LIST = {"SKU-A": Decimal("10.00"), "SKU-B": Decimal("99.99")}
ACCOUNT = CreditAccount(credit_limit=Decimal("1000.00"), exposure=Decimal("200.00"), max_discount_pct=Decimal("10"))


def line(sku="SKU-A", quantity=1, price="10.00") -> PricedLine:
    return PricedLine(sku=sku, quantity=quantity, unit_price=Decimal(price))


def total(lines) -> Decimal:
    return sum((l.unit_price * l.quantity for l in lines), Decimal("0.00"))


def run(lines, order_type=OrderType.STANDARD, account=ACCOUNT, amount=None):
    return review(order_type, lines, total(lines) if amount is None else amount, account, LIST)


def test_approves_within_limit():
    assert run([line(quantity=80)]) == []          # 200 + 800 == 1000: exactly at the limit


def test_rejects_over_limit_naming_exposure_and_limit():
    reasons = run([line(quantity=81)])
    assert len(reasons) == 1
    assert "credit limit exceeded" in reasons[0]
    assert "exposure 200.00" in reasons[0] and "limit 1000.00" in reasons[0] and "810.00" in reasons[0]


def test_price_below_discount_floor_rejected():
    reasons = run([line(price="8.99")])
    assert len(reasons) == 1
    assert reasons[0].startswith("SKU-A: price 8.99 below the allowed minimum 9.00")
    assert "max discount 10%" in reasons[0]


def test_price_exactly_at_floor_accepted():
    assert run([line(price="9.00")]) == []


def test_floor_is_rounded_up_to_cents():
    # 99.99 * 0.9 = 89.991 -> floor 90.00 (rounding down would allow more than the maximum discount)
    assert run([line("SKU-B", price="90.00")]) == []
    assert run([line("SKU-B", price="89.99")]) != []


def test_price_above_list_accepted():
    assert run([line(price="12.00")]) == []


def test_price_and_credit_reasons_reported_together():
    reasons = run([line(quantity=100, price="1.00"), line("SKU-B", quantity=10, price="99.99")])
    assert len(reasons) == 2
    assert reasons[0].startswith("SKU-A:") and "credit limit exceeded" in reasons[1]


@pytest.mark.parametrize("order_type", [OrderType.SAMPLE])
def test_samples_skip_price_and_credit_checks(order_type):
    broke = CreditAccount(credit_limit=Decimal("0"), exposure=Decimal("5000"), max_discount_pct=Decimal("0"))
    assert run([line(price="0.00", quantity=5)], order_type=order_type, account=broke) == []


@pytest.mark.parametrize("order_type", [OrderType.PREPAID_AT_ORDER, OrderType.PREPAID_BEFORE_SHIPMENT])
def test_prepaid_orders_skip_credit_but_not_price(order_type):
    broke = CreditAccount(credit_limit=Decimal("0"), exposure=Decimal("5000"), max_discount_pct=Decimal("10"))
    assert run([line(quantity=5)], order_type=order_type, account=broke) == []
    assert len(run([line(price="1.00")], order_type=order_type, account=broke)) == 1


@pytest.mark.parametrize("order_type", list(OrderType))
def test_unknown_sku_rejected_for_every_order_type(order_type):
    reasons = run([line("SKU-NOPE", price="0.00")], order_type=order_type,
                  account=CreditAccount(Decimal("1000"), Decimal("0"), Decimal("10")))
    assert reasons == ["SKU-NOPE: not on the price list"]


def test_held_amount():
    assert held_amount(OrderType.STANDARD, Decimal("123.45")) == Decimal("123.45")
    for order_type in (OrderType.SAMPLE, OrderType.PREPAID_AT_ORDER, OrderType.PREPAID_BEFORE_SHIPMENT):
        assert held_amount(order_type, Decimal("123.45")) == Decimal("0.00")
