"""Logistics' recall of shipments (services/logistics/rules.py): the compensation of a cancellation
after dispatch — bring back what is in transit, refuse once anything is delivered."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from contracts.common import ChangeProposal, PricedLine
from services.logistics.rules import (RecallPlan, ShipmentView, dispatched_note, plan_recall, recall_finished,
                                      remaining, review_change)

DAY = dt.date(2025, 3, 4)


def shipment(status: str, sid: str = "SHP-1", lines=None, delivered_on=None) -> ShipmentView:
    dispatched = status not in ("requested", "booked", "cancelled", "failed")
    return ShipmentView(sid, status, "SWIFT", "SW123", DAY if dispatched else None, lines, delivered_on)


def test_nothing_shipped_answers_done_at_once():
    assert plan_recall([]) == RecallPlan(done="nothing in transit")
    assert plan_recall([shipment("booked"), shipment("cancelled", "SHP-2")]) == RecallPlan(done="nothing in transit")


def test_in_transit_shipments_are_recalled_nothing_answered_yet():
    plan = plan_recall([shipment("in_transit", "SHP-2"), shipment("in_transit", "SHP-1"), shipment("booked", "SHP-3")])
    assert plan == RecallPlan(recall=("SHP-1", "SHP-2"))


def test_delivered_refuses_the_whole_recall_naming_shipment_and_date():
    plan = plan_recall([shipment("in_transit", "SHP-1"), shipment("delivered", "SHP-2", delivered_on=DAY)])
    assert plan == RecallPlan(failed="already delivered: SHP-2 on 2025-03-04")
    assert plan.recall == () and plan.done is None


def test_repeat_while_returning_sends_nothing_new():
    assert plan_recall([shipment("returning")]) == RecallPlan()
    assert plan_recall([shipment("returning"), shipment("returned", "SHP-2")]) == RecallPlan()


def test_repeat_after_a_refusal_recalls_the_shipment_back_in_transit_only():
    plan = plan_recall([shipment("returning", "SHP-1"), shipment("in_transit", "SHP-2")])
    assert plan == RecallPlan(recall=("SHP-2",))


def test_repeat_once_all_returned_answers_done_again():
    plan = plan_recall([shipment("returned", "SHP-2"), shipment("returned", "SHP-1"), shipment("cancelled", "SHP-3")])
    assert plan == RecallPlan(done="returned: SHP-1, SHP-2")


def test_recall_finished_only_when_nothing_is_on_the_road():
    assert recall_finished([shipment("returned", "SHP-1"), shipment("returning", "SHP-2")]) is None
    assert recall_finished([shipment("returned", "SHP-1"), shipment("returned", "SHP-2")]) == "returned: SHP-1, SHP-2"
    # one was delivered or refused (RecallFailed already answered): no CompensationDone
    assert recall_finished([shipment("returned", "SHP-1"), shipment("delivered", "SHP-2")]) is None
    assert recall_finished([shipment("returned", "SHP-1"), shipment("in_transit", "SHP-2")]) is None


def test_returning_and_returned_in_change_review():
    line = PricedLine(sku="SKU-A", quantity=10, unit_price=D("1.00"))
    cut = ChangeProposal(change_id="CH-1", order_id="O-1", revision=2,
                         lines=[line.model_copy(update={"quantity": 8})], previous_lines=[line],
                         new_total=D("8.00"), previous_total=D("10.00"))
    # a returning shipment is still with the carrier: the whole order is dispatched
    reason = review_change(cut, [shipment("returning", lines={"SKU-A": 10})])
    assert reason and "being returned" in reason
    # a returned one is back: neither open nor delivered, its goods count as not shipped
    assert review_change(cut, [shipment("returned", lines={"SKU-A": 10})]) is None
    assert remaining([line], [shipment("returned", lines={"SKU-A": 10})]) == {"SKU-A": 10}
    assert remaining([line], [shipment("returning", lines={"SKU-A": 4})]) == {"SKU-A": 6}
    assert dispatched_note(shipment("in_transit")) == "already dispatched with SWIFT (tracking SW123) on 2025-03-04"
    assert dispatched_note(shipment("returned")) == "returned by SWIFT (tracking SW123)"
