"""Finance: credit review, invoicing, payments."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from contracts.common import ChangeProposal, Money, OrderType, OrderUnderReview, PaymentMethod, PricedLine
from contracts.envelope import Message
from contracts.replies import ChangeReviewedReply, CompensationDoneReply, OrderReviewedReply
from contracts.risk import RiskClosedShape, RiskRaisedShape

COMMANDS = "finance.commands.v1"
EVENTS = "finance.events.v1"


# --- commands ---------------------------------------------------------------------------------

class CheckCredit(Message):
    """Review price, terms and credit for an order; on approval the amount is held against the
    customer's credit limit until invoiced or released."""

    TYPE: ClassVar[str] = "finance.check_credit"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    order_number: str
    customer_id: str
    order_type: OrderType
    payment_method: PaymentMethod
    lines: list[PricedLine]
    total: Money
    payment_terms_days: int | None = Field(default=None, description="Requested terms; None: the agreed terms")
    terms_approved_by: str | None = Field(default=None, description="The sales manager whose joint review "
                                                                    "approved terms outside the agreement")


class ReleaseCredit(Message):
    """Compensation of CheckCredit: drop the credit hold."""

    TYPE: ClassVar[str] = "finance.release_credit"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    reason: str


class IssueInvoice(Message):
    TYPE: ClassVar[str] = "finance.issue_invoice"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    order_number: str
    customer_id: str
    payment_method: PaymentMethod
    shipment_ref: str = Field(description="What is being billed (a shipment id, or 'prepayment'); one invoice each")
    lines: list[PricedLine]
    total: Money
    kind: str = Field(default="shipment", description="shipment | prepayment (billed before delivery)")
    payment_terms_days: int | None = Field(default=None, description="The order's approved terms; None: the agreed")


class CreditInvoices(Message):
    """Compensation of invoicing: credit-note what was billed (all of it, or `amount`)."""

    TYPE: ClassVar[str] = "finance.credit_invoices"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    amount: Money | None = Field(default=None, description="None: everything billed and not yet credited")
    reason: str


class RefundPayments(Message):
    """Compensation of payment: refund what was paid (all of it, or `amount`)."""

    TYPE: ClassVar[str] = "finance.refund_payments"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    amount: Money | None = None
    reason: str


class AdjustCredit(Message):
    """A reviewed change moved the order total: hold the new amount."""

    TYPE: ClassVar[str] = "finance.adjust_credit"
    TOPIC: ClassVar[str] = COMMANDS

    order_id: str
    change_id: str
    new_total: Money


class ReviewChange(Message):
    """Can finance accept this change? (credit for an increase)"""

    TYPE: ClassVar[str] = "finance.review_change"
    TOPIC: ClassVar[str] = COMMANDS

    proposal: ChangeProposal
    customer_id: str
    order_type: OrderType


class ReviewOrder(Message):
    """Joint review: credit, price and payment terms of an order, before anything is held."""

    TYPE: ClassVar[str] = "finance.review_order"
    TOPIC: ClassVar[str] = COMMANDS

    order: OrderUnderReview


# --- events -----------------------------------------------------------------------------------

class CreditApproved(Message):
    TYPE: ClassVar[str] = "finance.credit_approved"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    customer_id: str
    amount: Money
    credit_limit: Money
    exposure_after: Money


class CreditRejected(Message):
    TYPE: ClassVar[str] = "finance.credit_rejected"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    customer_id: str
    reasons: list[str]


class CreditReleased(Message):
    TYPE: ClassVar[str] = "finance.credit_released"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    amount: Money


class InvoiceIssued(Message):
    TYPE: ClassVar[str] = "finance.invoice_issued"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    invoice_number: str
    shipment_ref: str
    amount: Money
    due_date: dt.date


class PaymentReceived(Message):
    TYPE: ClassVar[str] = "finance.payment_received"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    invoice_number: str
    payment_ref: str
    amount: Money
    order_paid_in_full: bool


class CreditNoteIssued(Message):
    TYPE: ClassVar[str] = "finance.credit_note_issued"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    invoice_number: str
    credit_note_number: str
    amount: Money
    reason: str


class PaymentRefunded(Message):
    TYPE: ClassVar[str] = "finance.payment_refunded"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    payment_ref: str
    refund_ref: str
    amount: Money


class CreditAdjusted(Message):
    TYPE: ClassVar[str] = "finance.credit_adjusted"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    change_id: str
    amount: Money


class ChangeReviewed(ChangeReviewedReply):
    TYPE: ClassVar[str] = "finance.change_reviewed"
    TOPIC: ClassVar[str] = EVENTS


class CompensationDone(CompensationDoneReply):
    TYPE: ClassVar[str] = "finance.compensation_done"
    TOPIC: ClassVar[str] = EVENTS


class OrderReviewed(OrderReviewedReply):
    TYPE: ClassVar[str] = "finance.order_reviewed"
    TOPIC: ClassVar[str] = EVENTS


class RiskRaised(RiskRaisedShape):
    TYPE: ClassVar[str] = "finance.risk_raised"
    TOPIC: ClassVar[str] = EVENTS


class RiskClosed(RiskClosedShape):
    TYPE: ClassVar[str] = "finance.risk_closed"
    TOPIC: ClassVar[str] = EVENTS
