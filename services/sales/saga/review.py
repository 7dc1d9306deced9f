"""Review before anything is reserved.

Every order's destination is checked by logistics (is it served?). A *major or special* order
(`joint_review_reasons`: over the amount threshold of its currency, flagged special, a new
customer, a flagged product, a requested date sooner than a product's lead time, payment terms
outside the customer's agreement) gets a joint review instead: finance (credit, price, terms),
warehouse (stock and its date) and logistics (carrier, destination, date) give their opinion in
parallel, each approving (possibly under conditions) or rejecting with reasons; then a sales
manager approves or rejects with a comment (`decide_review`, POST /orders/{id}/review).

- One department rejects -> the order is rejected with its reasons at once (nothing was reserved,
  so nothing is undone); later opinions still land on the timeline.
- A department that does not answer is asked again every `step_timeout`; after `max_attempts`
  the review is rejected ("no answer").
- The sales manager is reminded (an alert) at half of `review_timeout`; at `review_timeout` the
  documented default applies: `review_default` (`reject` unless configured `approve`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from contracts import finance, logistics, sales, warehouse
from contracts.common import OrderUnderReview
from contracts.envelope import Message
from services.sales.saga.compensation import cancel
from services.sales.saga.state import (Decision, Opinion, Order, Refused, Review, Status, Timings, join_notes,
                                       recorded_alert, updated)
from services.sales.saga.steps import advance

JOINT_REVIEWERS = ("finance", "warehouse", "logistics")
DESTINATION_CHECK = ("logistics",)
REVIEW_COMMANDS: dict[str, type[Message]] = {"finance": finance.ReviewOrder, "warehouse": warehouse.ReviewOrder,
                                             "logistics": logistics.ReviewOrder}
OPINIONS = (finance.OrderReviewed, warehouse.OrderReviewed, logistics.OrderReviewed)
DEFAULT_THRESHOLD = Decimal("25000.00")


# --- what makes an order major or special (pure rules, fed by sales' master data) -------------

@dataclass(frozen=True)
class ReviewPolicy:
    """ORDERFLOW_REVIEW_THRESHOLDS (JSON, per currency), ORDERFLOW_REVIEW_DEFAULT_THRESHOLD,
    ORDERFLOW_REVIEW_NEW_CUSTOMER_DAYS."""

    thresholds: dict[str, Decimal] = field(default_factory=dict)
    default_threshold: Decimal = DEFAULT_THRESHOLD
    new_customer_days: int = 90

    def threshold(self, currency: str) -> Decimal:
        return self.thresholds.get(currency.upper(), self.default_threshold)


@dataclass(frozen=True)
class Candidate:
    """What sales knows of a new order when it decides whether it needs a joint review."""

    total: Decimal
    currency: str
    today: dt.date
    special: bool = False
    special_reason: str | None = None
    customer_since: dt.date | None = None            # None: not known, so not "new"
    flagged: dict[str, str] = field(default_factory=dict)     # SKU -> why it needs a review
    lead_days: dict[str, int] = field(default_factory=dict)   # SKU -> quoted lead time (days)
    requested_delivery_date: dt.date | None = None
    requested_terms: int | None = None
    agreed_terms: int | None = None


def joint_review_reasons(c: Candidate, policy: ReviewPolicy) -> list[str]:
    """Why the order needs a joint review (empty: it does not)."""
    reasons = []
    limit = policy.threshold(c.currency)
    if c.total > limit:
        reasons.append(f"amount {c.total} {c.currency} over the review threshold {limit} {c.currency}")
    if c.special or c.special_reason:
        reasons.append("flagged special" + (f": {c.special_reason}" if c.special_reason else ""))
    if c.customer_since is not None and (c.today - c.customer_since).days < policy.new_customer_days:
        reasons.append(f"new customer (since {c.customer_since.isoformat()})")
    for sku, why in sorted(c.flagged.items()):
        reasons.append(f"{sku} is flagged for review" + (f": {why}" if why else ""))
    if c.requested_delivery_date is not None:
        for sku, days in sorted(c.lead_days.items()):
            earliest = c.today + dt.timedelta(days=days)
            if days > 0 and c.requested_delivery_date < earliest:
                reasons.append(f"requested {c.requested_delivery_date.isoformat()}, sooner than {sku}'s lead time "
                               f"of {days} days ({earliest.isoformat()})")
    if c.requested_terms is not None and c.agreed_terms is not None and c.requested_terms > c.agreed_terms:
        reasons.append(f"payment terms net {c.requested_terms} outside the agreed net {c.agreed_terms}")
    return reasons


def plan(reasons: list[str]) -> Review:
    """The review a new order gets: joint when there are reasons, else the destination check."""
    joint = bool(reasons)
    return Review(review_id=str(uuid.uuid4()), joint=joint, reasons=tuple(reasons),
                  reviewers=JOINT_REVIEWERS if joint else DESTINATION_CHECK)


# --- the review in the saga -------------------------------------------------------------------

def pending(order: Order) -> bool:
    return order.review is not None and order.review.verdict is None


def under_review(order: Order, review: Review) -> OrderUnderReview:
    return OrderUnderReview(
        review_id=review.review_id, order_id=order.order_id, order_number=order.number,
        customer_id=order.customer_id, order_type=order.order_type, payment_method=order.payment_method,
        payment_terms_days=order.payment_terms_days, lines=list(order.lines), total=order.total,
        address=order.address, requested_delivery_date=order.requested_delivery_date, joint=review.joint,
        reasons=list(review.reasons))


def review_commands(order: Order, review: Review, departments: list[str] | tuple[str, ...]) -> list[Message]:
    body = under_review(order, review)
    return [REVIEW_COMMANDS[d](order=body) for d in departments]


def begin_review(order: Order, now: dt.datetime) -> Decision:
    assert order.review is not None
    review = order.review.model_copy(update={"requested_at": now, "attempts": 1})
    what = ("joint review by finance, warehouse and logistics, then a sales manager: " + "; ".join(review.reasons)
            if review.joint else "destination check by logistics")
    return Decision(updated(order, status=Status.IN_REVIEW, review=review),
                    review_commands(order, review, review.reviewers), note=what)


def department_of(m: Message) -> str:
    return m.TYPE.split(".")[0]


def on_opinion(order: Order, m: Message, now: dt.datetime, timings: Timings) -> Decision | None:
    review = order.review
    if review is None or review.verdict is not None or m.review_id != review.review_id:
        return None                                   # a late or repeated opinion: on the timeline only
    department = department_of(m)
    if department in review.opinions or department not in review.reviewers:
        return None
    opinion = Opinion(approved=m.approved, reasons=tuple(m.reasons), conditions=tuple(m.conditions), at=now)
    review = review.model_copy(update={"opinions": {**review.opinions, department: opinion}})
    order = updated(order, review=review)
    if not m.approved:
        why = "; ".join(m.reasons) or "no reason given"
        return conclude(order, False, now, timings, by=department, comment=None,
                        reasons=[f"{department}: {why}"])
    if review.missing:
        said = "approves" + (f" under conditions: {'; '.join(m.conditions)}" if m.conditions else "")
        return Decision(order, note=f"{department} {said}; waiting for {', '.join(review.missing)}")
    if not review.joint:
        return conclude(order, True, now, timings, by=None, comment=None)
    asked = review.model_copy(update={"manager_asked_at": now})
    due = now + timings.review_timeout
    return Decision(updated(order, review=asked),
                    note=f"{department} approves; every department approves"
                         f"{' under conditions: ' + '; '.join(conditions(asked)) if conditions(asked) else ''}"
                         f"; waiting for a sales manager (by {due:%Y-%m-%d %H:%M:%S}Z)")


def conditions(review: Review) -> list[str]:
    return [f"{d}: {c}" for d, o in review.opinions.items() for c in o.conditions]


def decide_review(order: Order, approve: bool, by: str, comment: str | None, now: dt.datetime,
                  timings: Timings) -> Decision:
    """A sales manager's verdict (POST /orders/{id}/review)."""
    review = order.review
    if order.status != Status.IN_REVIEW or review is None or review.verdict is not None:
        raise Refused(f"order is {order.status.value}, not under review")
    if not review.joint:
        raise Refused("only logistics checks this order's destination; no joint review to decide")
    if approve and review.missing:
        raise Refused(f"waiting for the opinion of {', '.join(review.missing)}; a sales manager decides after them")
    return conclude(order, approve, now, timings, by=by, comment=comment,
                    reasons=[f"sales manager {by}: {comment or 'rejected'}"] if not approve else None)


def conclude(order: Order, approved: bool, now: dt.datetime, timings: Timings, *, by: str | None,
             comment: str | None, reasons: list[str] | None = None) -> Decision:
    review = order.review
    assert review is not None
    review = review.model_copy(update={"verdict": "approved" if approved else "rejected", "decided_by": by,
                                       "comment": comment})
    event = sales.OrderReviewConcluded(
        order_id=order.order_id, order_number=order.number, review_id=review.review_id, approved=approved,
        joint=review.joint, decided_by=by, comment=comment, reasons=reasons or [], conditions=conditions(review))
    order = updated(order, review=review)
    if not approved:
        why = "; ".join(reasons or ["rejected"])
        decision = cancel(order, f"rejected in review: {why}", now, rejected=True)
        decision.events.insert(0, event)
        return decision
    if review.joint:
        order = updated(order, approved_by=order.approved_by or by)   # a sample needs no second approval
    if order.payment_due_at is None and order.order_type.value.startswith("prepaid"):
        order = updated(order, payment_due_at=now + timings.payment_deadline)
    what = (f"joint review approved by {by}" + (f" ({comment})" if comment else "")
            + (f"; conditions: {'; '.join(conditions(review))}" if conditions(review) else "")
            if review.joint else "destination served")
    decision = advance(order, now, what)
    decision.events.insert(0, event)
    return decision


def review_tick(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    """Departments asked again (then: rejected for want of an answer); the manager reminded, then
    the default verdict."""
    review = order.review
    assert review is not None and review.requested_at is not None
    if review.missing and now >= review.requested_at + timings.step_timeout * review.attempts:
        if review.attempts >= timings.max_attempts:
            return conclude(order, False, now, timings, by="default", comment=None,
                            reasons=[f"{d}: no answer to the review" for d in review.missing])
        again = review.model_copy(update={"attempts": review.attempts + 1})
        return Decision(updated(order, review=again), review_commands(order, review, review.missing),
                        note=f"no opinion from {', '.join(review.missing)}; asked again (attempt {again.attempts})")
    if review.joint and review.manager_asked_at is not None:
        due = review.manager_asked_at + timings.review_timeout
        if now >= due:
            approve = timings.review_default == "approve"
            why = f"no sales manager decided by {due:%Y-%m-%d %H:%M:%S}Z: the default ({timings.review_default}) applies"
            return conclude(order, approve, now, timings, by="default", comment=why,
                            reasons=None if approve else [why])
        if not review.reminded and now >= review.manager_asked_at + timings.review_timeout / 2:
            reminded, events = recorded_alert(
                order, f"review_reminder:{review.review_id}:waiting for a sales manager's review decision "
                       f"(due {due:%Y-%m-%d %H:%M:%S}Z)",
                f"{order.number} waits for a sales manager's review decision (due {due:%Y-%m-%d %H:%M:%S}Z; "
                f"then: {timings.review_default})")
            return Decision(updated(reminded, review=review.model_copy(update={"reminded": True})), events=events,
                            note=join_notes("reminder: a sales manager's decision is due", f"{due:%Y-%m-%d %H:%M:%S}Z"))
    return None


def review_next_check(order: Order, timings: Timings) -> dt.datetime | None:
    review = order.review
    if review is None or review.verdict is not None or review.requested_at is None:
        return None
    if review.missing:
        return review.requested_at + timings.step_timeout * review.attempts
    if review.joint and review.manager_asked_at is not None:
        due = review.manager_asked_at + timings.review_timeout
        return due if review.reminded else review.manager_asked_at + timings.review_timeout / 2
    return None
