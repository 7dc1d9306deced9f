"""Finance: credit review, invoicing, payments, dunning and credit hold, bank reconciliation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from contracts.common import ChangeProposal, Currency, Money, OrderType, OrderUnderReview, PaymentMethod, PricedLine
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
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR (the base currency)")
    country: str | None = Field(default=None, description="Destination country (tax); absent: none known")


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
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR (the base currency)")
    country: str | None = Field(default=None, description="Destination country: the tax rate depends on it")


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
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR (the base currency)")


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
    kind: str | None = Field(default=None, description="shipment | prepayment | charge (dunning fees and interest); "
                                                       "absent in messages from before charges existed: shipment")
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR (the base currency)")
    net: Money | None = Field(default=None, description="Before tax; amount (gross) = net + tax")
    tax: Money | None = None


class PaymentReceived(Message):
    TYPE: ClassVar[str] = "finance.payment_received"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    invoice_number: str
    payment_ref: str
    amount: Money
    order_paid_in_full: bool
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR (the base currency)")


class CreditNoteIssued(Message):
    TYPE: ClassVar[str] = "finance.credit_note_issued"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    invoice_number: str
    credit_note_number: str
    amount: Money
    reason: str
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR (the base currency)")
    net: Money | None = Field(default=None, description="amount = net + tax, in the invoice's proportion")
    tax: Money | None = None
    kind: str | None = Field(default=None, description="cancellation (compensation) | return (RMA) | manual "
                                                       "(a person's correction); absent: cancellation")
    rma: str | None = None


class PaymentRefunded(Message):
    TYPE: ClassVar[str] = "finance.payment_refunded"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    payment_ref: str
    refund_ref: str
    amount: Money
    currency: Currency | None = Field(default=None, description="ISO 4217; absent: EUR (the base currency)")


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


# --- dunning and credit hold ------------------------------------------------------------------

class PaymentReminderIssued(Message):
    """An overdue invoice reached a dunning level (reminder, second reminder, final notice, ...).
    Fees and interest, when the level charges any, are billed on a charge invoice."""

    TYPE: ClassVar[str] = "finance.payment_reminder_issued"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    customer_id: str
    invoice_number: str
    level: int = Field(ge=1, description="1 = first reminder")
    level_name: str
    outstanding: Money = Field(description="What the invoice still owes")
    due_date: dt.date
    overdue_days: int = Field(ge=0)
    fee: Money = Decimal("0.00")
    interest: Money = Decimal("0.00")
    charge_invoice: str | None = Field(default=None, description="The invoice billing fee + interest, if any")


class CustomerCreditHoldPlaced(Message):
    """A customer is past the overdue threshold: new standard orders wait for finance or are rejected
    (per customer policy) until the hold lifts. Keyed and correlated by customer id."""

    TYPE: ClassVar[str] = "finance.customer_credit_hold_placed"
    TOPIC: ClassVar[str] = EVENTS

    customer_id: str
    reason: str
    overdue_invoices: list[str]
    overdue_amount: Money
    policy: str = Field(description="wait | reject: what happens to new standard orders")


class CustomerCreditHoldLifted(Message):
    TYPE: ClassVar[str] = "finance.customer_credit_hold_lifted"
    TOPIC: ClassVar[str] = EVENTS

    customer_id: str
    reason: str


class CreditCheckPending(Message):
    """Reply to CheckCredit while the customer is on credit hold (policy `wait`): the order waits for
    finance; CreditApproved or CreditRejected follows when the hold lifts or a person decides."""

    TYPE: ClassVar[str] = "finance.credit_check_pending"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    customer_id: str
    reason: str


# --- bank reconciliation ----------------------------------------------------------------------

class BankStatementImported(Message):
    """A bank statement was imported (once per statement id); counts per outcome."""

    TYPE: ClassVar[str] = "finance.bank_statement_imported"
    TOPIC: ClassVar[str] = EVENTS

    statement_id: str
    format: str
    lines: int
    matched: int
    partial: int
    overpaid: int
    unmatched: int
    ignored: int


class BankPaymentMatched(Message):
    """(Part of) an incoming bank payment was applied to an invoice. PaymentReceived follows."""

    TYPE: ClassVar[str] = "finance.bank_payment_matched"
    TOPIC: ClassVar[str] = EVENTS

    order_id: str
    customer_id: str
    invoice_number: str
    statement_id: str
    bank_ref: str
    amount: Money = Field(description="Applied to this invoice")
    line_amount: Money
    basis: str = Field(description="reference | amount_and_customer | manual")
    payment_ref: str


class BankLineUnmatched(Message):
    """An incoming bank payment (or what is left of it) could not be applied: listed for a person."""

    TYPE: ClassVar[str] = "finance.bank_line_unmatched"
    TOPIC: ClassVar[str] = EVENTS

    statement_id: str
    bank_ref: str
    amount: Money = Field(description="Not applied")
    reason: str


# --- returns after delivery -------------------------------------------------------------------

class SettleReturn(Message):
    """Returned goods were inspected: credit-note their value (net + tax, as invoiced) and refund what
    the customer paid beyond what it now owes. Once per RMA."""

    TYPE: ClassVar[str] = "finance.settle_return"
    TOPIC: ClassVar[str] = COMMANDS

    rma: str
    order_id: str
    lines: list[PricedLine] = Field(description="The returned goods at the order's prices (net)")
    reason: str
    country: str | None = Field(default=None, description="Destination country of the order (tax)")


class ReturnSettled(Message):
    TYPE: ClassVar[str] = "finance.return_settled"
    TOPIC: ClassVar[str] = EVENTS

    rma: str
    order_id: str
    credited: Money = Field(description="Gross, on credit notes")
    credited_net: Money
    refunded: Money = Field(description="Asked back from the provider for the customer")
    credit_notes: list[str]
    currency: Currency | None = None
