"""Procurement business rules, pure: which supplier gets a purchase order, whether a promise is in
time, and how a cancellation splits between cancelling at the supplier and keeping as stock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class SupplierOption:
    supplier_id: str
    rank: int            # 1 = primary, 2 = backup, ...
    lead_time_days: int


def choose_supplier(options: list[SupplierOption], exclude: set[str] = frozenset()) -> SupplierOption | None:
    """The best-ranked supplier not yet tried (primary first, then backups)."""
    candidates = sorted((o for o in options if o.supplier_id not in exclude), key=lambda o: (o.rank, o.supplier_id))
    return candidates[0] if candidates else None


def in_time(delivery_date: dt.date, needed_by: dt.date | None) -> bool:
    """A promise is in time when nothing is needed by a date, or it arrives on or before it."""
    return needed_by is None or delivery_date <= needed_by


def too_late_reason(delivery_date: dt.date, needed_by: dt.date) -> str:
    return f"promised {delivery_date.isoformat()}, needed by {needed_by.isoformat()}"


def failure_reason(sku: str, needed_by: dt.date | None, answers: list[tuple[str, str]]) -> str:
    """Why no supplier can deliver: what each supplier tried said (in the order they were tried)."""
    when = f"by {needed_by.isoformat()}" if needed_by else "at all"
    said = "; ".join(f"{supplier}: {reason}" for supplier, reason in answers) or "no supplier sells it"
    return f"no supplier can deliver {sku} {when}: {said}"


@dataclass(frozen=True)
class OpenPO:
    """A purchase order still on its way, as far as one order is concerned."""

    purchase_order_id: str
    confirmed: bool
    for_order: int           # units of this PO that are still the order's


@dataclass(frozen=True)
class CancelSplit:
    purchase_order_id: str
    cancel_at_supplier: int   # unconfirmed: the supplier is asked to drop these
    keep_as_stock: int        # confirmed: these still arrive, as stock for anyone

    @property
    def total(self) -> int:
        return self.cancel_at_supplier + self.keep_as_stock


def split_cancel(pos: list[OpenPO], quantity: int | None) -> list[CancelSplit]:
    """How an order's purchase is taken back: `quantity` units in all (None: everything).

    An unconfirmed PO is cancelled at the supplier, which costs nothing. A CONFIRMED PO is kept and
    the cancelled part re-labelled as stock: cancelling a confirmed supplier order usually costs a
    fee, and the goods are stock we sell anyway. Unconfirmed POs are cut first (free), then the
    confirmed ones, newest (last in `pos`) first."""
    order = [p for p in pos if not p.confirmed] + [p for p in reversed(pos) if p.confirmed]
    left = None if quantity is None else max(0, quantity)
    result = []
    for po in order:
        if left == 0:
            break
        cut = po.for_order if left is None else min(po.for_order, left)
        if cut <= 0:
            continue
        if left is not None:
            left -= cut
        result.append(CancelSplit(po.purchase_order_id, 0 if po.confirmed else cut, cut if po.confirmed else 0))
    return result


def receipt_split(delivered: int, for_order: int, has_order: bool) -> tuple[int, int]:
    """(units received for the order, units received as stock) of a delivery."""
    order_part = min(delivered, for_order) if has_order else 0
    return max(0, order_part), delivered - max(0, order_part)
