"""Reply shapes every department uses alike. Each department declares its own subclass (own
TYPE on its own events topic), because a department writes only its own topic."""

from __future__ import annotations

from pydantic import Field

from contracts.envelope import Message


class ChangeReviewedReply(Message):
    """A department's verdict on a proposed order change."""

    order_id: str
    change_id: str
    approved: bool
    reason: str | None = None


class CompensationDoneReply(Message):
    """Answer to every compensation command, also when there was nothing to undo, so that the
    saga knows the compensation is finished (it retries until it sees this)."""

    order_id: str
    command_type: str
    summary: str


class OrderReviewedReply(Message):
    """A department's opinion on an order under review: approved or not, with the reasons (why
    not) and the conditions it approves under (e.g. 'ships after a purchase', 'net 60 instead of
    the agreed 30')."""

    order_id: str
    review_id: str
    approved: bool
    reasons: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
