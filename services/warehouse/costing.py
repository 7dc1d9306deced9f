"""What goods cost, the rules (pure): the moving average cost of a SKU, and the cost of what leaves or
comes back. Costs are per unit in the base currency (EUR), kept to four decimals; values to the cent.

- A goods receipt with a purchase price moves the average: (on hand x average + received x price)
  / (on hand + received). A receipt without a price (or a SKU with nothing on hand and no price)
  keeps the average (or the standard cost when there is no average yet).
- Goods leave at the average of the moment (cost of goods sold); returned goods that are restocked
  come back at the cost they left with, and move the average like a receipt at that price.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

UNIT = Decimal("0.0001")
CENT = Decimal("0.01")


def moving_average(on_hand: int, average: Decimal, received: int, price: Decimal | None) -> Decimal:
    """The average cost after `received` units at `price` join `on_hand` units at `average`."""
    if price is None or received <= 0:
        return average
    if on_hand <= 0 or average <= 0:          # nothing on hand, or no cost known yet: the price is the cost
        return price.quantize(UNIT, rounding=ROUND_HALF_UP)
    total = Decimal(on_hand) * average + Decimal(received) * price
    return (total / (on_hand + received)).quantize(UNIT, rounding=ROUND_HALF_UP)


def value(quantity: int, unit_cost: Decimal) -> Decimal:
    return (Decimal(quantity) * unit_cost).quantize(CENT, rounding=ROUND_HALF_UP)


def shipped_unit_cost(movements: list[tuple[int, Decimal | None]], fallback: Decimal) -> Decimal:
    """The average cost at which an order's units of a SKU left (from its shipped movements: quantity,
    unit cost); the fallback (today's average) when none is recorded."""
    known = [(q, c) for q, c in movements if c is not None and q > 0]
    units = sum(q for q, _ in known)
    if not units:
        return fallback
    return (sum((Decimal(q) * c for q, c in known), Decimal(0)) / units).quantize(UNIT, rounding=ROUND_HALF_UP)


class InspectionError(ValueError):
    """An inspection that does not add up to what was received."""


def check_inspection(received: dict[str, int], restock: dict[str, int], scrap: dict[str, int]) -> None:
    """Every received unit is either restocked or scrapped, nothing else."""
    problems = []
    for sku in sorted(set(received) | set(restock) | set(scrap)):
        r, s, got = restock.get(sku, 0), scrap.get(sku, 0), received.get(sku, 0)
        if r < 0 or s < 0:
            problems.append(f"{sku}: quantities cannot be negative")
        elif r + s != got:
            problems.append(f"{sku}: {got} received, but {r} restocked + {s} scrapped")
    if problems:
        raise InspectionError("; ".join(problems))
