"""Settlement after delivery: a returned RMA is credited (its goods at the order's prices, with the
invoice's tax) and what the customer has paid beyond what it now owes is refunded; and a person
(finance) credits an invoice by hand with a reason, refunding the same way. Runs in the caller's
transaction; credit notes and refunds are recorded like the cancellation's (handlers.py), with a
kind (return | manual) and the RMA.

    overpaid(order) = paid - refunded - (invoiced - credited)        (gross, all of the order's invoices)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts import finance, integrations
from services.finance import rules, store, tax
from services.runtime.consumer import Consumer
from services.runtime.outbox import Tx

CENT = Decimal("0.01")


async def credit(tx: Tx, order_id: str, parts: list[tuple[str, Decimal]], *, reason: str, kind: str,
                 rma: str | None = None) -> list[dict[str, Any]]:
    """Credit notes for (invoice, gross amount) parts; each split net/tax in its invoice's proportion."""
    notes = []
    for invoice_number, amount in parts:
        invoice = await store.invoice(tx.conn, invoice_number)
        net, tax_part = tax.split_credit(amount, invoice["net"], invoice["tax"])
        number = await store.insert_credit_note(tx.conn, invoice_number=invoice_number, order_id=order_id,
                                                amount=amount, net=net, tax=tax_part, reason=reason, kind=kind,
                                                rma=rma, by=tx.initiator.model_dump() if tx.initiator else None)
        await store.refresh_invoice(tx.conn, invoice_number, rules.invoice_status)
        await tx.emit(finance.CreditNoteIssued(
            order_id=order_id, invoice_number=invoice_number, credit_note_number=number, amount=amount,
            reason=reason, currency=invoice["currency"], net=net, tax=tax_part, kind=kind, rma=rma),
            key=order_id, correlation_id=order_id)
        notes.append({"credit_note_number": number, "invoice_number": invoice_number, "amount": amount,
                      "net": net, "tax": tax_part})
    return notes


async def refund_overpayment(tx: Tx, order_id: str, *, reason: str, rma: str | None = None) -> Decimal:
    """Ask the provider to give back what the customer paid beyond what the order now owes."""
    b = await store.order_money(tx.conn, order_id)
    over = b["paid"] - b["refunded"] - (b["invoiced"] - b["credited"])
    if over <= 0:
        return Decimal("0.00")
    payments = await store.refundable_payments(tx.conn, order_id)
    invoice_of = {p["payment_ref"]: p["invoice_number"] for p in payments}
    total = Decimal("0.00")
    for payment_ref, amount in rules.allocate([(p["payment_ref"], p["refundable"]) for p in payments], over):
        await store.insert_refund(tx.conn, payment_ref=payment_ref, order_id=order_id, amount=amount, reason=reason,
                                  rma=rma, by=tx.initiator.model_dump() if tx.initiator else None)
        await store.refresh_invoice(tx.conn, invoice_of[payment_ref], rules.invoice_status)
        await tx.emit(integrations.RefundRequested(payment_ref=payment_ref, order_id=order_id, amount=amount),
                      key=order_id, correlation_id=order_id)
        total += amount
    return total


async def settle_return(tx: Tx, cmd: finance.SettleReturn) -> None:
    done = await store.return_settlement(tx.conn, cmd.rma)
    if done is None:
        invoices = await store.lock_order_invoices(tx.conn, cmd.order_id)
        country = cmd.country or next((i["country"] for i in invoices if i["country"]), None)
        returned = await store.taxed(tx.conn, cmd.lines, country)
        billed = [(i["invoice_number"], i["amount"] - i["credited"]) for i in invoices if i["kind"] != "charge"]
        parts = rules.allocate(billed, returned.gross)
        notes = await credit(tx, cmd.order_id, parts, reason=f"{cmd.rma}: {cmd.reason}", kind="return", rma=cmd.rma)
        refunded = await refund_overpayment(tx, cmd.order_id, reason=f"{cmd.rma}: {cmd.reason}", rma=cmd.rma)
        done = await store.insert_return_settlement(
            tx.conn, rma=cmd.rma, order_id=cmd.order_id, credited=sum((n["amount"] for n in notes), Decimal("0.00")),
            credited_net=sum((n["net"] for n in notes), Decimal("0.00")), refunded=refunded,
            credit_notes=[n["credit_note_number"] for n in notes])
    currency = await tx.conn.fetchval("SELECT currency FROM invoices WHERE order_id = $1 LIMIT 1", cmd.order_id)
    await tx.emit(finance.ReturnSettled(
        rma=cmd.rma, order_id=cmd.order_id, credited=done["credited"], credited_net=done["credited_net"],
        refunded=done["refunded"], credit_notes=list(done["credit_notes"]), currency=currency), key=cmd.order_id)


class CreditRefused(Exception):
    """Why a manual credit note cannot be issued (HTTP 409)."""


async def manual_credit_note(tx: Tx, invoice_number: str, amount: Decimal, reason: str,
                             refund: bool) -> dict[str, Any]:
    invoice = await store.lock_invoice(tx.conn, invoice_number)
    if invoice is None:
        raise LookupError(f"no invoice {invoice_number}")
    room = Decimal(invoice["amount"]) - Decimal(invoice["credited"])
    if amount > room:
        raise CreditRefused(f"{invoice_number} has {room} left to credit (amount {invoice['amount']}, "
                            f"credited {invoice['credited']}); asked {amount}")
    notes = await credit(tx, invoice["order_id"], [(invoice_number, amount)], reason=reason, kind="manual")
    refunded = (await refund_overpayment(tx, invoice["order_id"], reason=f"credit note: {reason}")
                if refund else Decimal("0.00"))
    return {**notes[0], "order_id": invoice["order_id"], "refunded": refunded}


def register(consumer: Consumer) -> None:
    consumer.on(finance.SettleReturn)(settle_return)
