"""Supplier selection (services/procurement/rules.py)."""

from __future__ import annotations

from services.procurement.rules import SupplierOption, choose_supplier

PRIMARY = SupplierOption("SUP-P", rank=1, lead_time_days=10)
BACKUP = SupplierOption("SUP-B", rank=2, lead_time_days=3)
LAST = SupplierOption("SUP-L", rank=3, lead_time_days=1)


def test_primary_first_regardless_of_order_or_lead_time():
    assert choose_supplier([LAST, BACKUP, PRIMARY]) == PRIMARY


def test_backup_when_primary_excluded():
    assert choose_supplier([PRIMARY, BACKUP, LAST], exclude={"SUP-P"}) == BACKUP
    assert choose_supplier([PRIMARY, BACKUP, LAST], exclude={"SUP-P", "SUP-B"}) == LAST


def test_none_when_exhausted():
    assert choose_supplier([PRIMARY, BACKUP], exclude={"SUP-P", "SUP-B"}) is None
    assert choose_supplier([]) is None


def test_same_rank_is_deterministic():
    a, b = SupplierOption("SUP-A", 1, 5), SupplierOption("SUP-Z", 1, 1)
    assert choose_supplier([b, a]) == a
