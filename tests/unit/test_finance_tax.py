"""Tax rules (services/finance/tax.py): rate by destination country and product tax class, per-line
rounding, net + tax = gross, and the split of a credit note."""

from __future__ import annotations

from decimal import Decimal

from contracts.common import PricedLine
from services.finance import tax

D = Decimal
RATES = {("SE", "standard"): D("25"), ("SE", "reduced"): D("12"), ("DE", "standard"): D("19")}


def test_rate_by_country_and_class_with_standard_as_default_and_zero_outside():
    lines = [PricedLine(sku="A", quantity=2, unit_price=D("500.00")),
             PricedLine(sku="B", quantity=3, unit_price=D("100.00"))]
    taxed = tax.tax_lines(lines, country="SE", classes={"B": "reduced"}, rates=RATES)
    assert [(l.tax_class, l.rate_pct, l.net, l.tax) for l in taxed.lines] == [
        ("standard", D("25"), D("1000.00"), D("250.00")), ("reduced", D("12"), D("300.00"), D("36.00"))]
    assert (taxed.net, taxed.tax, taxed.gross) == (D("1300.00"), D("286.00"), D("1586.00"))
    assert tax.tax_lines(lines, country="US", classes={}, rates=RATES).tax == 0
    assert tax.tax_lines(lines, country=None, classes={}, rates=RATES).gross == D("1300.00")


def test_each_line_is_rounded_half_up_and_gross_is_exactly_net_plus_tax():
    lines = [PricedLine(sku="A", quantity=1, unit_price=D("0.05")) for _ in range(3)]
    taxed = tax.tax_lines(lines, country="DE", classes={}, rates=RATES)      # 0.0095 -> 0.01 each
    assert taxed.tax == D("0.03") and taxed.gross == taxed.net + taxed.tax


def test_a_credit_note_splits_like_its_invoice_and_adds_up():
    net, part = tax.split_credit(D("100.00"), D("1300.00"), D("286.00"))
    assert net + part == D("100.00") and part == D("18.03")
    assert tax.split_credit(D("10.00"), D("10.00"), D("0.00")) == (D("10.00"), D("0.00"))


def test_a_changed_total_is_held_at_the_orders_own_tax_proportion():
    assert tax.gross_for(D("650.00"), D("1300.00"), D("1586.00")) == D("793.00")
    assert tax.gross_for(D("650.00"), None, None) == D("650.00")
