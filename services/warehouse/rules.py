"""Warehouse business rules, pure: allocation of stock to order lines, and packing."""

from __future__ import annotations

import math

from contracts.common import StockLine
from contracts.warehouse import ReservedLine

MAX_PARCEL_KG = 20.0


def allocate(lines: list[StockLine], available: dict[str, int]) -> list[ReservedLine]:
    """Reserve what is on the shelf for each line; the rest is the line's shortfall."""
    result = []
    left = dict(available)
    for line in lines:
        take = max(0, min(line.quantity, left.get(line.sku, 0)))
        left[line.sku] = left.get(line.sku, 0) - take
        result.append(ReservedLine(sku=line.sku, requested=line.quantity, reserved=take))
    return result


def pack(weights_kg: list[float]) -> tuple[int, float]:
    """(parcels, total weight) for the picked items: parcels of at most MAX_PARCEL_KG."""
    total = round(sum(weights_kg), 3) or 0.1
    return max(1, math.ceil(total / MAX_PARCEL_KG)), total
