"""Logistics' review of a change (services/logistics/rules.py): what is already with a carrier."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from contracts.common import Address, ChangeProposal, PricedLine
from services.logistics.rules import Carrier, ShipmentView, carrier_serves, remaining, review_change

ADDRESS = Address(name="A", street="S", city="C", postal_code="1", country="FR")
DAY = dt.date(2025, 3, 4)


def line(sku="SKU-A", quantity=10) -> PricedLine:
    return PricedLine(sku=sku, quantity=quantity, unit_price=D("1.00"))


def proposal(lines=None, previous=None, **extra) -> ChangeProposal:
    previous = previous or [line()]
    lines = lines or previous
    total = lambda ls: sum((l.unit_price * l.quantity for l in ls), D("0.00"))  # noqa: E731
    return ChangeProposal(change_id="CH-1", order_id="O-1", revision=2, lines=lines, previous_lines=previous,
                          new_total=total(lines), previous_total=total(previous), **extra)


def shipment(status="booked", lines=None, sid="SHP-1", on=DAY) -> ShipmentView:
    dispatched = status in ("in_transit", "delivered")
    return ShipmentView(sid, status, "SWIFT", "SW123", on if dispatched else None, lines)


def test_address_change_approved_before_dispatch():
    assert review_change(proposal(address=ADDRESS), []) is None
    assert review_change(proposal(address=ADDRESS), [shipment("booked")]) is None
    assert review_change(proposal(address=ADDRESS), [shipment("cancelled")]) is None


def test_address_change_refused_after_dispatch_naming_carrier_tracking_date():
    reason = review_change(proposal(address=ADDRESS), [shipment("in_transit", {"SKU-A": 10})])
    assert reason == "cannot change the address: already dispatched with SWIFT (tracking SW123) on 2025-03-04"


def test_date_change_refused_after_delivery():
    reason = review_change(proposal(requested_delivery_date=DAY), [shipment("delivered")])
    assert reason and "delivery date" in reason and "SWIFT" in reason


def test_address_change_refused_when_any_shipment_dispatched():
    ships = [shipment("in_transit", {"SKU-A": 4}), shipment("booked", sid="SHP-2")]
    assert review_change(proposal(address=ADDRESS), ships) is not None


def test_quantity_change_approved_while_something_remains():
    cut = proposal([line(quantity=8)])
    assert review_change(cut, []) is None
    assert review_change(cut, [shipment("booked")]) is None
    assert review_change(cut, [shipment("in_transit", {"SKU-A": 4})]) is None          # 6 still to ship
    assert review_change(cut, [shipment("in_transit", {"SKU-A": 10}), shipment("booked", sid="SHP-2")]) is None


def test_quantity_change_refused_when_everything_dispatched():
    reason = review_change(proposal([line(quantity=8)]), [shipment("delivered", {"SKU-A": 10})])
    assert reason and reason.startswith("cannot change quantities") and "SW123" in reason
    # unknown contents of a dispatched shipment: taken as the whole order
    assert review_change(proposal([line(quantity=8)]), [shipment("in_transit")]) is not None


def test_remaining_per_sku():
    prev = [line("SKU-A", 10), line("SKU-B", 5)]
    ships = [shipment("in_transit", {"SKU-A": 10, "SKU-B": 2}), shipment("cancelled", {"SKU-B": 3})]
    assert remaining(prev, ships) == {"SKU-B": 3}


def test_carrier_serves():
    carriers = [Carrier("SWIFT", frozenset({"DE", "FR"}), D("1"), D("1"), 1, 10)]
    assert carrier_serves(carriers, "SWIFT", "FR")
    assert not carrier_serves(carriers, "SWIFT", "JP")
    assert not carrier_serves(carriers, "OTHER", "FR")
