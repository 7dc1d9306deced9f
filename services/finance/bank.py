"""Bank statements in: import (once per statement id, each bank line once), apply every incoming
payment as reconciliation.py decides, and let a person assign what could not be applied. Runs in
the caller's transaction (`Tx` of the HTTP request: every effect names who imported or assigned).

Each part applied to an invoice is a payment (source 'bank', ref BANK-<line>-<invoice>) announced as
BankPaymentMatched and PaymentReceived (the saga learns the order is paid); what is left over is
announced as BankLineUnmatched. A payment may lift the customer's credit hold (credit_control.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contracts import finance
from services.finance import credit_control, reconciliation, rules, store
from services.runtime.outbox import Tx

OUTCOMES = ("matched", "partial", "overpaid", "unmatched", "ignored")


@dataclass
class ImportResult:
    statement_id: str
    format: str
    already_imported: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    lines: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"statement_id": self.statement_id, "format": self.format, "already_imported": self.already_imported,
                **self.counts, "lines": self.lines}


async def import_statement(tx: Tx, body: bytes, *, format: str | None, content_type: str | None,
                           statement_id: str | None, config: credit_control.CreditConfig,
                           review: credit_control.Review) -> ImportResult:
    """Raises reconciliation.StatementError for a file that cannot be read (nothing is recorded)."""
    statement = reconciliation.parse(body, format=format, content_type=content_type, statement_id=statement_id)
    by = tx.initiator.model_dump() if tx.initiator else None
    result = ImportResult(statement.statement_id, statement.format, already_imported=False)
    if not await store.insert_statement(tx.conn, statement, hashlib.sha256(body).hexdigest(), by):
        result.already_imported = True
        for line in await store.bank_lines_of(tx.conn, statement.statement_id):
            result.counts[line["status"]] += 1
            result.lines.append(line)
        return result
    customers: set[str] = set()
    for line in statement.lines:
        earlier = await store.known_bank_ref(tx.conn, line.bank_ref)
        if earlier is not None:
            result.lines.append({"bank_ref": line.bank_ref, "status": "duplicate",
                                 "reason": f"already imported with statement {earlier}"})
            continue
        outcome = await _apply_line(tx, statement.statement_id, line, by)
        result.counts[outcome["status"]] += 1
        result.lines.append(outcome)
        if outcome.get("customer_id") and outcome["applied"] > 0:
            customers.add(outcome["customer_id"])
    await tx.emit(finance.BankStatementImported(statement_id=statement.statement_id, format=statement.format,
                                                lines=len(statement.lines), **result.counts),
                  key=statement.statement_id, correlation_id=statement.statement_id)
    for customer_id in sorted(customers):
        await credit_control.evaluate_hold(tx, customer_id, config, review)
    return result


async def _apply_line(tx: Tx, statement_id: str, line: reconciliation.BankLine, by: dict | None) -> dict[str, Any]:
    invoices_named, orders_named = reconciliation.references(line.reference)
    payer = await store.customer_of_account(tx.conn, line.counterparty_iban)
    referenced = (await store.lock_invoices_by_reference(tx.conn, invoices_named, orders_named)
                  if invoices_named or orders_named else [])
    if orders_named and not invoices_named:
        referenced = [i for i in referenced if i.outstanding > 0] or referenced
    own = await store.lock_customer_open_invoices(tx.conn, payer) if payer and not referenced else []
    decision = reconciliation.match(line, referenced=referenced, named=[*invoices_named, *orders_named],
                                    payer_customer=payer, customer_invoices=own)
    by_number = {i.invoice_number: i for i in [*referenced, *own]}
    customer = (by_number[decision.allocations[0].invoice_number].customer_id if decision.allocations else payer)
    line_id = await store.insert_line(tx.conn, statement_id, line, customer, decision)
    for part in decision.allocations:
        await _pay(tx, line_id, statement_id, line, by_number[part.invoice_number], part.amount,
                   decision.basis or "reference", by)
    if decision.unapplied > 0:
        await tx.emit(finance.BankLineUnmatched(statement_id=statement_id, bank_ref=line.bank_ref,
                                                amount=decision.unapplied, reason=decision.reason or "not applied"),
                      key=statement_id, correlation_id=statement_id)
    return {"line_id": line_id, "bank_ref": line.bank_ref, "amount": line.amount, "currency": line.currency,
            "status": decision.status, "basis": decision.basis, "customer_id": customer,
            "applied": decision.applied, "unapplied": decision.unapplied, "reason": decision.reason,
            "invoices": [{"invoice_number": a.invoice_number, "amount": a.amount} for a in decision.allocations]}


async def _pay(tx: Tx, line_id: int, statement_id: str, line: reconciliation.BankLine,
               invoice: reconciliation.OpenInvoice, amount: Decimal, basis: str, by: dict | None) -> None:
    payment_ref = await store.record_bank_payment(tx.conn, line_id=line_id, invoice=invoice, amount=amount,
                                                  basis=basis, by=by)
    await store.refresh_invoice(tx.conn, invoice.invoice_number, rules.invoice_status)
    owed = await store.order_outstanding(tx.conn, invoice.order_id)
    key = invoice.order_id
    await tx.emit(finance.BankPaymentMatched(
        order_id=invoice.order_id, customer_id=invoice.customer_id, invoice_number=invoice.invoice_number,
        statement_id=statement_id, bank_ref=line.bank_ref, amount=amount, line_amount=line.amount, basis=basis,
        payment_ref=payment_ref), key=key, correlation_id=key)
    await tx.emit(finance.PaymentReceived(
        order_id=invoice.order_id, invoice_number=invoice.invoice_number, payment_ref=payment_ref, amount=amount,
        order_paid_in_full=owed == 0, currency=invoice.currency), key=key, correlation_id=key)


class AssignRefused(Exception):
    """Why a person's assignment cannot be applied (HTTP 409/404 with the reason)."""


async def assign(tx: Tx, line_id: int, invoice_number: str, amount: Decimal | None, *,
                 config: credit_control.CreditConfig, review: credit_control.Review) -> dict[str, Any]:
    """A person applies (part of) what is left on a bank line to an invoice."""
    line = await store.lock_line(tx.conn, line_id)
    if line is None:
        raise LookupError(f"no bank line {line_id}")
    invoices = await store.lock_invoices_by_reference(tx.conn, [invoice_number], [])
    if not invoices:
        raise LookupError(f"no invoice {invoice_number}")
    invoice = invoices[0]
    left = Decimal(line["unapplied"])
    if left <= 0:
        raise AssignRefused(f"bank line {line_id} has nothing left to assign")
    if invoice.currency != line["currency"]:
        raise AssignRefused(f"bank line {line_id} is in {line['currency']}, {invoice_number} in {invoice.currency}")
    if invoice.outstanding <= 0:
        raise AssignRefused(f"{invoice_number} owes nothing")
    take = min(left, invoice.outstanding, amount if amount is not None else left)
    if take <= 0:
        raise AssignRefused("the amount must be positive")
    after = left - take
    status = "matched" if after == 0 else line["status"]     # nothing left on the line: fully reconciled
    await store.apply_to_line(tx.conn, line_id, take, status)
    by = tx.initiator.model_dump() if tx.initiator else None
    bank_line = reconciliation.BankLine(bank_ref=line["bank_ref"], amount=Decimal(line["amount"]),
                                        currency=line["currency"], booking_date=line["booking_date"],
                                        reference=line["reference"])
    await _pay(tx, line_id, line["statement_id"], bank_line, invoice, take, "manual", by)
    await credit_control.evaluate_hold(tx, invoice.customer_id, config, review)
    return {"line_id": line_id, "invoice_number": invoice_number, "applied": take, "unapplied": after,
            "status": status}
