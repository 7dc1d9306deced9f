"""Review before anything is reserved (services/sales/saga/review.py): what makes an order major or
special, the destination check, the joint review with its deadlines, reminder and default."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contracts import finance, logistics, sales, warehouse
from contracts.common import OrderType
from services.sales.saga import (Candidate, Refused, ReviewPolicy, Status, decide_review, joint_review_reasons,
                                 next_check, plan, react, request_cancel, start, tick)
from tests.unit.test_order_saga_kit import NOW, ORDER_ID, T, credit_approved, make_order, only, step, types

TODAY = NOW.date()
OPINION = {"finance": finance.OrderReviewed, "warehouse": warehouse.OrderReviewed,
           "logistics": logistics.OrderReviewed}


def opinion(department: str, review_id: str, approved: bool = True, reasons=(), conditions=()):
    return OPINION[department](order_id=ORDER_ID, review_id=review_id, approved=approved, reasons=list(reasons),
                               conditions=list(conditions))


def joint(**overrides):
    return start(make_order(review=plan(["amount over the threshold"]), **overrides), NOW, T)


def all_approve(order, now=NOW):
    rid = order.review.review_id
    for department in ("finance", "warehouse", "logistics"):
        order = step(order, opinion(department, rid), now).order
    return order


# --- the rules -------------------------------------------------------------------------------

def candidate(**kw) -> Candidate:
    return Candidate(**{"total": Decimal("100.00"), "currency": "EUR", "today": TODAY, **kw})


def test_a_small_plain_order_needs_no_joint_review():
    assert joint_review_reasons(candidate(), ReviewPolicy()) == []


def test_amount_over_the_threshold_of_its_currency():
    policy = ReviewPolicy(thresholds={"SEK": Decimal("250000.00")})
    assert joint_review_reasons(candidate(total=Decimal("25000.00")), policy) == []       # not *over*
    assert "over the review threshold 25000.00 EUR" in joint_review_reasons(candidate(total=Decimal("25000.01")),
                                                                             policy)[0]
    assert joint_review_reasons(candidate(total=Decimal("30000.00"), currency="SEK"), policy) == []


@pytest.mark.parametrize("kw, expected", [
    ({"special": True}, "flagged special"),
    ({"special_reason": "custom paint"}, "flagged special: custom paint"),
    ({"customer_since": TODAY - dt.timedelta(days=10)}, "new customer"),
    ({"flagged": {"SKU-X": "hazardous goods"}}, "SKU-X is flagged for review: hazardous goods"),
    ({"lead_days": {"SKU-X": 10}, "requested_delivery_date": TODAY + dt.timedelta(days=3)}, "sooner than SKU-X's lead time"),
    ({"requested_terms": 60, "agreed_terms": 30}, "payment terms net 60 outside the agreed net 30"),
])
def test_each_rule_alone_asks_for_a_joint_review(kw, expected):
    reasons = joint_review_reasons(candidate(**kw), ReviewPolicy())
    assert len(reasons) == 1 and expected in reasons[0], reasons


def test_an_old_customer_a_date_after_the_lead_time_and_agreed_terms_need_nothing():
    assert joint_review_reasons(candidate(customer_since=TODAY - dt.timedelta(days=400),
                                          lead_days={"SKU-X": 3}, requested_delivery_date=TODAY + dt.timedelta(days=3),
                                          requested_terms=30, agreed_terms=30), ReviewPolicy()) == []


# --- destination check (every order) ----------------------------------------------------------

def test_every_order_first_has_its_destination_checked_by_logistics_only():
    decision = start(make_order(review=plan([])), NOW, T)
    assert decision.order.status == Status.IN_REVIEW
    command = only(decision, logistics.ReviewOrder)
    assert command.order.joint is False and command.order.address.country == "DE"
    assert decision.order.review.reviewers == ("logistics",)


def test_a_served_destination_goes_on_to_the_credit_check():
    order = start(make_order(review=plan([])), NOW, T).order
    decision = step(order, opinion("logistics", order.review.review_id))
    assert decision.order.status == Status.CREDIT_CHECK
    assert types(decision) == [finance.CheckCredit.TYPE]
    assert [e.TYPE for e in decision.events] == [sales.OrderReviewConcluded.TYPE]


def test_an_unserved_destination_is_rejected_before_anything_is_reserved():
    order = start(make_order(review=plan([])), NOW, T).order
    decision = step(order, opinion("logistics", order.review.review_id, False, ["no carrier serves US"]))
    assert decision.order.status == Status.REJECTED
    assert decision.commands == [] and decision.order.compensations == ()
    assert "logistics: no carrier serves US" in decision.order.status_reason
    assert not decision.order.reservation_requested and not decision.order.credit_held


# --- joint review -------------------------------------------------------------------------------

def test_joint_review_asks_three_departments_in_parallel_and_nothing_else():
    decision = joint()
    assert decision.order.status == Status.IN_REVIEW
    assert sorted(types(decision)) == sorted([finance.ReviewOrder.TYPE, warehouse.ReviewOrder.TYPE,
                                              logistics.ReviewOrder.TYPE])
    assert all(c.order.joint and c.order.reasons == ["amount over the threshold"] for c in decision.commands)


def test_after_every_department_approves_a_manager_decides_then_credit_is_checked():
    order = all_approve(joint().order)
    assert order.status == Status.IN_REVIEW and order.review.manager_asked_at == NOW
    decision = decide_review(order, True, "maria", "good customer", NOW, T)
    assert decision.order.status == Status.CREDIT_CHECK
    assert decision.order.approved_by == "maria"
    concluded = decision.events[0]
    assert concluded.approved and concluded.decided_by == "maria" and concluded.comment == "good customer"


def test_conditions_are_kept_and_announced():
    order = joint().order
    rid = order.review.review_id
    order = step(order, opinion("warehouse", rid, conditions=["6x SKU-A must be bought"])).order
    order = step(order, opinion("finance", rid)).order
    order = step(order, opinion("logistics", rid)).order
    concluded = decide_review(order, True, "maria", None, NOW, T).events[0]
    assert concluded.conditions == ["warehouse: 6x SKU-A must be bought"]


def test_one_department_rejecting_rejects_at_once_with_its_reason():
    order = joint().order
    decision = step(order, opinion("finance", order.review.review_id, False, ["credit limit exceeded"]))
    assert decision.order.status == Status.REJECTED
    assert decision.commands == []
    assert "finance: credit limit exceeded" in decision.order.status_reason
    assert decision.events[0].approved is False and decision.events[0].reasons == ["finance: credit limit exceeded"]
    # a later opinion changes nothing (it is on the timeline)
    assert react(decision.order, opinion("warehouse", order.review.review_id), NOW, T) is None


def test_a_manager_cannot_approve_before_the_departments_but_may_reject():
    order = joint().order
    with pytest.raises(Refused, match="waiting for the opinion of"):
        decide_review(order, True, "maria", None, NOW, T)
    assert decide_review(order, False, "maria", "too risky", NOW, T).order.status == Status.REJECTED


def test_the_manager_decides_only_joint_reviews_under_review():
    with pytest.raises(Refused):
        decide_review(make_order(), True, "maria", None, NOW, T)
    with pytest.raises(Refused, match="destination"):
        decide_review(start(make_order(review=plan([])), NOW, T).order, True, "maria", None, NOW, T)


def test_an_opinion_for_another_review_is_ignored():
    order = joint().order
    assert react(order, opinion("finance", "some-other-review"), NOW, T) is None


def test_a_silent_department_is_asked_again_then_the_review_is_rejected():
    order = joint().order
    order = step(order, opinion("finance", order.review.review_id)).order
    assert next_check(order, T) == NOW + T.step_timeout
    assert tick(order, NOW + T.step_timeout - dt.timedelta(seconds=1), T) is None
    again = tick(order, NOW + T.step_timeout, T)
    assert sorted(types(again)) == [logistics.ReviewOrder.TYPE, warehouse.ReviewOrder.TYPE]
    order = again.order
    order = tick(order, NOW + 3 * T.step_timeout, T).order          # attempt 3 (max)
    final = tick(order, NOW + 6 * T.step_timeout, T)
    assert final.order.status == Status.REJECTED
    assert "no answer to the review" in final.order.status_reason


def test_a_silent_manager_is_reminded_then_the_default_rejects():
    order = all_approve(joint().order)
    half = NOW + T.review_timeout / 2
    assert next_check(order, T) == half
    reminded = tick(order, half, T)
    assert [e.TYPE for e in reminded.events] == [sales.SagaAlert.TYPE]
    assert any(a.startswith("review_reminder:") for a in reminded.order.alerts)
    assert tick(reminded.order, half + dt.timedelta(seconds=1), T) is None     # reminded once
    assert next_check(reminded.order, T) == NOW + T.review_timeout
    default = tick(reminded.order, NOW + T.review_timeout, T)
    assert default.order.status == Status.REJECTED
    assert "the default (reject) applies" in default.order.status_reason
    assert default.events[0].decided_by == "default"


def test_the_default_may_be_configured_to_approve():
    approving = T.__class__(**{**T.__dict__, "review_default": "approve"})
    order = all_approve(joint().order)
    decision = tick(order, NOW + approving.review_timeout, approving)
    assert decision.order.status == Status.CREDIT_CHECK


def test_cancel_during_review_cancels_at_once_with_nothing_to_undo():
    decision = request_cancel(joint().order, "customer withdrew", NOW)
    assert decision.order.status == Status.CANCELLED and decision.commands == []


def test_prepaid_payment_window_opens_when_the_review_approves():
    order = joint(order_type=OrderType.PREPAID_AT_ORDER).order
    assert order.payment_due_at is None
    later = NOW + dt.timedelta(hours=1)
    approved = decide_review(all_approve(order), True, "maria", None, later, T).order
    assert approved.payment_due_at == later + T.payment_deadline


def test_a_reviewed_sample_needs_no_second_approval():
    order = all_approve(joint(order_type=OrderType.SAMPLE).order)
    assert decide_review(order, True, "maria", None, NOW, T).order.status == Status.CREDIT_CHECK


def test_credit_approval_after_review_reserves():
    order = decide_review(all_approve(joint().order), True, "maria", None, NOW, T).order
    assert step(order, credit_approved()).order.status == Status.RESERVING
