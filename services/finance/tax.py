"""Tax, the rules (pure): the rate of a line by destination country and product tax class, an
invoice's net, tax and gross, and the net/tax split of a credit note.

Rates come from finance's `tax_rates` table (country, tax class -> percent); a product without a
tax class is `standard`; a destination with no rate configured is taxed at 0 % (an export outside
the tax area). Tax is computed per line and rounded half-up to the cent, so an invoice's tax is the
sum of its lines' taxes and gross = net + tax, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from contracts.common import PricedLine

CENT = Decimal("0.01")
DEFAULT_CLASS = "standard"
Rates = dict[tuple[str, str], Decimal]      # (country, tax class) -> percent


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxedLine:
    sku: str
    quantity: int
    unit_price: Decimal
    tax_class: str
    rate_pct: Decimal
    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Taxed:
    lines: tuple[TaxedLine, ...]

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal("0.00"))

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax

    def as_json(self) -> list[dict]:
        return [{"sku": line.sku, "quantity": line.quantity, "unit_price": str(line.unit_price),
                 "tax_class": line.tax_class, "rate_pct": str(line.rate_pct), "net": str(line.net),
                 "tax": str(line.tax)} for line in self.lines]


def rate(rates: Rates, country: str | None, tax_class: str) -> Decimal:
    if not country:
        return Decimal("0")
    return rates.get((country.upper(), tax_class), Decimal("0"))


def tax_lines(lines: list[PricedLine], *, country: str | None, classes: dict[str, str], rates: Rates) -> Taxed:
    taxed = []
    for line in lines:
        tax_class = classes.get(line.sku, DEFAULT_CLASS)
        pct = rate(rates, country, tax_class)
        net = cents(line.unit_price * line.quantity)
        taxed.append(TaxedLine(line.sku, line.quantity, line.unit_price, tax_class, pct, net, cents(net * pct / 100)))
    return Taxed(tuple(taxed))


def split_credit(amount: Decimal, invoice_net: Decimal, invoice_tax: Decimal) -> tuple[Decimal, Decimal]:
    """(net, tax) of a credit note of `amount` (gross) on an invoice, in the invoice's proportion; the
    tax part is rounded, the net part is the rest, so that net + tax = amount."""
    gross = invoice_net + invoice_tax
    if gross <= 0 or invoice_tax == 0:
        return amount, Decimal("0.00")
    tax_part = cents(amount * invoice_tax / gross)
    return amount - tax_part, tax_part


def gross_for(net: Decimal, known_net: Decimal | None, known_gross: Decimal | None) -> Decimal:
    """A new net total (a change of the order) as gross, at the order's own tax proportion."""
    if not known_net or known_gross is None or known_net <= 0:
        return net
    return cents(net * known_gross / known_net)
