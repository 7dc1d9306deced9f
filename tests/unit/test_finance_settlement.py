"""Finance's settlement rules (services/finance/rules.py): what an invoice leaves held, credit
adjustment on a change, spreading credit notes / refunds over invoices / payments, invoice status,
the money balance, and the review of a change."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from contracts.common import Address, ChangeProposal, OrderType, PricedLine
from services.finance.rules import (
    Balance, CreditAccount, allocate, hold_after_invoice, hold_for_total, invoice_status, review_change,
)

LIST = {"SKU-A": D("10.00"), "SKU-B": D("100.00")}


def line(sku="SKU-A", quantity=1, price="10.00") -> PricedLine:
    return PricedLine(sku=sku, quantity=quantity, unit_price=D(price))


def proposal(lines, previous, **extra) -> ChangeProposal:
    tot = lambda ls: sum((l.unit_price * l.quantity for l in ls), D("0.00"))  # noqa: E731
    return ChangeProposal(change_id="CH-1", order_id="O-1", revision=2, lines=lines, previous_lines=previous,
                          new_total=tot(lines), previous_total=tot(previous), **extra)


# --- hold arithmetic --------------------------------------------------------------------------

def test_single_shipment_invoice_converts_the_whole_hold():
    assert hold_after_invoice(D("100.00"), D("100.00"), "shipment") == 0


def test_partial_shipment_invoice_takes_only_its_amount_off_the_hold():
    left = hold_after_invoice(D("100.00"), D("60.00"), "shipment")
    assert left == D("40.00")
    assert hold_after_invoice(left, D("40.00"), "shipment") == 0


def test_invoice_larger_than_hold_never_goes_negative():
    assert hold_after_invoice(D("30.00"), D("50.00"), "shipment") == 0


def test_prepayment_invoice_converts_the_whole_hold():
    assert hold_after_invoice(D("100.00"), D("10.00"), "prepayment") == 0


def test_adjusted_hold_is_new_total_minus_billed_for_standard_orders():
    assert hold_for_total(OrderType.STANDARD, D("150.00"), D("60.00")) == D("90.00")
    assert hold_for_total("standard", D("50.00"), D("60.00")) == 0
    assert hold_for_total(None, D("80.00"), D("0")) == D("80.00")


@pytest.mark.parametrize("order_type", [OrderType.SAMPLE, OrderType.PREPAID_AT_ORDER,
                                        OrderType.PREPAID_BEFORE_SHIPMENT])
def test_adjusted_hold_is_zero_for_other_order_types(order_type):
    assert hold_for_total(order_type, D("150.00"), D("0")) == 0


# --- allocation ---------------------------------------------------------------------------------

def test_allocate_everything_when_no_amount():
    assert allocate([("INV-2", D("40")), ("INV-1", D("60"))], None) == [("INV-2", D("40")), ("INV-1", D("60"))]


def test_allocate_newest_first_up_to_amount():
    assert allocate([("INV-2", D("40")), ("INV-1", D("60"))], D("50")) == [("INV-2", D("40")), ("INV-1", D("10"))]
    assert allocate([("INV-2", D("40")), ("INV-1", D("60"))], D("30")) == [("INV-2", D("30"))]


def test_allocate_skips_exhausted_and_caps_at_what_exists():
    assert allocate([("INV-3", D("0")), ("INV-2", D("40"))], D("500")) == [("INV-2", D("40"))]
    assert allocate([], None) == []
    assert allocate([("INV-1", D("40"))], D("0")) == []


# --- invoice status and balance -----------------------------------------------------------------

def test_invoice_status():
    assert invoice_status(D("100"), D("0"), D("0"), D("0")) == "open"
    assert invoice_status(D("100"), D("0"), D("100"), D("0")) == "paid"
    assert invoice_status(D("100"), D("20"), D("80"), D("0")) == "paid"
    assert invoice_status(D("100"), D("100"), D("100"), D("0")) == "credited"
    assert invoice_status(D("100"), D("100"), D("0"), D("0")) == "credited"
    assert invoice_status(D("100"), D("0"), D("100"), D("100")) == "open"     # refunded without a credit note


def test_balance_invariant():
    assert Balance(D("100"), D("0"), D("0"), D("0"), D("100")).ok            # invoiced, unpaid
    assert Balance(D("100"), D("100"), D("100"), D("100"), D("0")).ok        # cancelled: credited and refunded
    assert Balance(D("100"), D("20"), D("100"), D("20"), D("0")).ok          # cut by 20 after payment
    assert not Balance(D("100"), D("100"), D("100"), D("0"), D("0")).ok      # credited, refund still due


# --- change review --------------------------------------------------------------------------------

ACCOUNT = CreditAccount(credit_limit=D("1000.00"), exposure=D("900.00"), max_discount_pct=D("10"))


def test_approves_decrease_even_over_limit():
    assert review_change(OrderType.STANDARD, proposal([line(quantity=1)], [line(quantity=5)]), ACCOUNT, LIST) is None


def test_approves_increase_within_limit():
    assert review_change(OrderType.STANDARD, proposal([line(quantity=15)], [line(quantity=5)]), ACCOUNT, LIST) is None


def test_refuses_increase_over_limit():
    reason = review_change(OrderType.STANDARD, proposal([line(quantity=16)], [line(quantity=5)]), ACCOUNT, LIST)
    assert reason and "credit limit exceeded" in reason and "increase 110.00" in reason


@pytest.mark.parametrize("order_type", [OrderType.SAMPLE, OrderType.PREPAID_AT_ORDER])
def test_increase_not_credit_checked_for_other_types(order_type):
    assert review_change(order_type, proposal([line(quantity=500)], [line(quantity=5)]), ACCOUNT, LIST) is None


def test_refuses_new_line_below_discount_floor():
    reason = review_change(OrderType.STANDARD, proposal([line(), line("SKU-B", price="89.99")], [line()]),
                           CreditAccount(D("100000"), D("0"), D("10")), LIST)
    assert reason and reason.startswith("SKU-B: price 89.99 below the allowed minimum 90.00")


def test_existing_line_keeps_its_agreed_price():
    old = line(price="8.00")    # below today's floor, but agreed at order time
    assert review_change(OrderType.STANDARD, proposal([line(quantity=2, price="8.00")], [old]),
                         CreditAccount(D("100000"), D("0"), D("10")), LIST) is None


def test_address_only_change_is_approved():
    address = Address(name="A", street="S", city="C", postal_code="1", country="DE")
    assert review_change(OrderType.STANDARD, proposal([line()], [line()], address=address), ACCOUNT, LIST) is None
