"""Finance: credit review, invoicing, payments."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from contracts.common import Money, OrderType, PaymentMethod, PricedLine
from contracts.envelope import Message

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
    shipment_ref: str = Field(description="What is being billed (a shipment id); one invoice per shipment")
    lines: list[PricedLine]
    total: Money


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
