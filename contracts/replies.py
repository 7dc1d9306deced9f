"""Reply shapes every department uses alike. Each department declares its own subclass (own
TYPE on its own events topic), because a department writes only its own topic."""

from __future__ import annotations

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
