"""Warehouse business rules, pure: allocation of stock to order lines, packing, what a change may
do to a reservation, what a returned shipment does to it, and when stock is low.

Vocabulary of one reservation line (one row per order and SKU):
  requested  what the order wants
  reserved   held on the shelf for the order (includes what is packed)
  packed     part of `reserved` that is packed and not yet shipped
  shipped    handed to a carrier (cumulative)
  secured  = reserved + shipped (what the order is sure to get); shortfall = requested - secured
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def merge_lines(lines: list[StockLine]) -> dict[str, int]:
    """Quantities per SKU (an order listing one SKU twice wants the sum), in SKU order."""
    total: dict[str, int] = {}
    for line in lines:
        total[line.sku] = total.get(line.sku, 0) + line.quantity
    return dict(sorted(total.items()))


def pack(weights_kg: list[float]) -> tuple[int, float]:
    """(parcels, total weight) for the picked items: parcels of at most MAX_PARCEL_KG."""
    total = round(sum(weights_kg), 3) or 0.1
    return max(1, math.ceil(total / MAX_PARCEL_KG)), total


@dataclass(frozen=True)
class Held:
    """One reservation line's quantities."""

    requested: int
    reserved: int = 0
    packed: int = 0
    shipped: int = 0

    @property
    def secured(self) -> int:
        return self.reserved + self.shipped

    @property
    def missing(self) -> int:
        return max(0, self.requested - self.secured)

    @property
    def to_pack(self) -> int:
        return self.reserved - self.packed

    @property
    def committed(self) -> int:
        """What no change can take away any more: packed or already shipped."""
        return self.packed + self.shipped


def to_pack(lines: dict[str, Held]) -> dict[str, int]:
    """What a pick & pack takes now: per SKU, reserved but not yet packed."""
    return {sku: h.to_pack for sku, h in sorted(lines.items()) if h.to_pack > 0}


def top_up(held: Held, free: int) -> int:
    """How much more to reserve for a line that is short, from `free` units on the shelf."""
    return max(0, min(held.missing, free))


class ChangeRefused(ValueError):
    """A change would take away goods that are already packed or shipped."""


def change_refusal(current: dict[str, Held], new_quantities: dict[str, int]) -> str | None:
    """Why the warehouse cannot accept these new quantities (a SKU missing from them goes to 0),
    or None when it can."""
    reasons = []
    for sku, held in sorted(current.items()):
        new = new_quantities.get(sku, 0)
        if new < held.committed:
            reasons.append(f"{sku}: {held.committed} already packed or shipped, cannot go to {new}")
    return "; ".join(reasons) or None


@dataclass(frozen=True)
class Adjustment:
    sku: str
    requested: int      # the new requested quantity
    release: int = 0    # units to give back to the shelf (always unpacked ones)
    reserve: int = 0    # units to take from the shelf


def plan_adjustment(sku: str, held: Held, new: int, free: int) -> Adjustment:
    """What a reviewed change does to one line: release the unpacked excess, or reserve the extra
    from `free` stock (as much as there is). Raises ChangeRefused below packed + shipped."""
    if new < held.committed:
        raise ChangeRefused(f"{sku}: {held.committed} already packed or shipped, cannot go to {new}")
    if new < held.secured:
        return Adjustment(sku, new, release=held.secured - new)   # <= reserved - packed, as new >= committed
    return Adjustment(sku, new, reserve=max(0, min(new - held.secured, free)))


def is_low(available: int, reorder_point: int) -> bool:
    """Stock is low when what is free to promise falls below the reorder point."""
    return reorder_point > 0 and available < reorder_point


def should_warn(available: int, reorder_point: int, replenishment_pending: bool) -> bool:
    """Raise a stock warning only once per replenishment cycle."""
    return is_low(available, reorder_point) and not replenishment_pending


def status_of(held: Held, released: bool = False) -> str:
    """open while anything is still to be reserved or shipped; closed once all is shipped."""
    if released:
        return "released"
    return "closed" if held.shipped >= held.requested and held.reserved == 0 else "open"


@dataclass(frozen=True)
class Return:
    """What goods a carrier brought back do to the order's reservation line of one SKU."""

    held: Held          # the line afterwards
    status: str         # its status afterwards
    unshipped: int      # taken off quantity_shipped (at most what was shipped)


def apply_return(held: Held, status: str, quantity: int) -> Return:
    """`quantity` units of the line came back (all of them go back on the shelf, see the handler):
    they are no longer shipped. The line is `released` once nothing is held or shipped for it any
    more (or it was released already, e.g. the reservation was released before the goods arrived);
    otherwise open or closed as usual (a closed line part of which came back is open again)."""
    unshipped = max(0, min(quantity, held.shipped))
    after = Held(held.requested, held.reserved, held.packed, held.shipped - unshipped)
    if status == "released" or (after.reserved == 0 and after.shipped == 0):
        return Return(after, "released", unshipped)
    return Return(after, status_of(after), unshipped)


def review_order(wanted: dict[str, int], free: dict[str, int]) -> tuple[list[str], list[str]]:
    """The warehouse's opinion in a joint review: (reasons to reject, conditions). What the shelf
    cannot cover now is a condition (it ships once bought), not a rejection: nothing is reserved
    before the review is approved, so the picture may still change."""
    conditions = []
    for sku, quantity in sorted(wanted.items()):
        available = max(0, free.get(sku, 0))
        if available < quantity:
            conditions.append(f"{sku}: {available} of {quantity} on the shelf now; {quantity - available} must be "
                              f"bought (ships after the purchase)")
    return [], conditions
