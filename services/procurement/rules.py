"""Procurement business rules, pure: which supplier gets a purchase order."""

from __future__ import annotations

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
