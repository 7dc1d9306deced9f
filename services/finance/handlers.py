"""Finance message handling: credit review, credit release, invoicing, payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import asyncpg

from contracts import finance, integrations
from services.finance import rules
from services.runtime.consumer import Consumer, Unprocessable
from services.runtime.outbox import Tx


async def _account(conn: asyncpg.Connection, customer_id: str) -> tuple[asyncpg.Record | None, Decimal]:
    """The customer row (locked: reviews for one customer are serialised) and its exposure."""
    customer = await conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1 FOR UPDATE", customer_id)
    exposure = await conn.fetchval(
        "SELECT COALESCE((SELECT sum(amount) FROM credit_holds WHERE customer_id = $1 AND status = 'held'), 0)"
        " + COALESCE((SELECT sum(i.amount - COALESCE(p.paid, 0)) FROM invoices i"
        "   LEFT JOIN (SELECT invoice_number, sum(amount) paid FROM payments GROUP BY invoice_number) p"
        "   USING (invoice_number) WHERE i.customer_id = $1 AND i.status = 'open'), 0)",
        customer_id)
    return customer, exposure


def register(consumer: Consumer) -> None:
    @consumer.on(finance.CheckCredit)
    async def check_credit(tx: Tx, cmd: finance.CheckCredit) -> None:
        hold = await tx.conn.fetchrow("SELECT * FROM credit_holds WHERE order_id = $1", cmd.order_id)
        customer, exposure = await _account(tx.conn, cmd.customer_id)
        if hold is None:
            if customer is None:
                reasons = [f"unknown customer {cmd.customer_id}"]
            else:
                prices = {r["sku"]: r["list_price"] for r in await tx.conn.fetch("SELECT * FROM price_list")}
                account = rules.CreditAccount(customer["credit_limit"], exposure, customer["max_discount_pct"])
                reasons = rules.review(cmd.order_type, cmd.lines, cmd.total, account, prices)
            if reasons:
                await tx.emit(finance.CreditRejected(order_id=cmd.order_id, customer_id=cmd.customer_id,
                                                     reasons=reasons), key=cmd.order_id)
                return
            amount = rules.held_amount(cmd.order_type, cmd.total)
            await tx.conn.execute(
                "INSERT INTO credit_holds (order_id, customer_id, amount, status) VALUES ($1, $2, $3, 'held')",
                cmd.order_id, cmd.customer_id, amount)
            exposure += amount
        # Approved now, or asked again for an order already approved: answer the same way.
        await tx.emit(finance.CreditApproved(
            order_id=cmd.order_id, customer_id=cmd.customer_id, amount=cmd.total,
            credit_limit=customer["credit_limit"], exposure_after=exposure), key=cmd.order_id)

    @consumer.on(finance.ReleaseCredit)
    async def release_credit(tx: Tx, cmd: finance.ReleaseCredit) -> None:
        amount = await tx.conn.fetchval(
            "UPDATE credit_holds SET status = 'released', updated_at = now()"
            " WHERE order_id = $1 AND status = 'held' RETURNING amount", cmd.order_id)
        if amount is not None:
            await tx.emit(finance.CreditReleased(order_id=cmd.order_id, amount=amount), key=cmd.order_id)

    @consumer.on(finance.IssueInvoice)
    async def issue_invoice(tx: Tx, cmd: finance.IssueInvoice) -> None:
        existing = await tx.conn.fetchrow(
            "SELECT * FROM invoices WHERE order_id = $1 AND shipment_ref = $2", cmd.order_id, cmd.shipment_ref)
        if existing is None:
            terms = await tx.conn.fetchval("SELECT payment_terms_days FROM customers WHERE customer_id = $1",
                                           cmd.customer_id)
            if terms is None:
                raise Unprocessable(f"unknown customer {cmd.customer_id}")
            seq = await tx.conn.fetchval("SELECT nextval('invoice_number_seq')")
            number = f"INV-{seq:06d}"
            due = dt.date.today() + dt.timedelta(days=terms)
            existing = await tx.conn.fetchrow(
                "INSERT INTO invoices (invoice_number, order_id, shipment_ref, customer_id, amount, due_date, status)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'open') RETURNING *",
                number, cmd.order_id, cmd.shipment_ref, cmd.customer_id, cmd.total, due)
            # The invoice now carries the exposure the hold carried.
            await tx.conn.execute("UPDATE credit_holds SET status = 'invoiced', updated_at = now()"
                                  " WHERE order_id = $1 AND status = 'held'", cmd.order_id)
            await tx.emit(integrations.PaymentRequested(
                invoice_number=number, order_id=cmd.order_id, customer_id=cmd.customer_id, amount=cmd.total,
                method=cmd.payment_method.value, due_date=due), key=cmd.order_id)
        await tx.emit(finance.InvoiceIssued(
            order_id=cmd.order_id, invoice_number=existing["invoice_number"], shipment_ref=cmd.shipment_ref,
            amount=existing["amount"], due_date=existing["due_date"]), key=cmd.order_id)

    @consumer.on(integrations.PaymentSettled)
    async def payment_settled(tx: Tx, event: integrations.PaymentSettled) -> None:
        invoice = await tx.conn.fetchrow("SELECT * FROM invoices WHERE invoice_number = $1 FOR UPDATE",
                                         event.invoice_number)
        if invoice is None:
            raise Unprocessable(f"payment {event.payment_ref} for unknown invoice {event.invoice_number}")
        recorded = await tx.conn.fetchval(
            "INSERT INTO payments (payment_ref, invoice_number, order_id, amount) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING true",
            event.payment_ref, event.invoice_number, invoice["order_id"], event.amount)
        if not recorded:
            return  # the provider reported the same settlement twice
        paid = await tx.conn.fetchval("SELECT sum(amount) FROM payments WHERE invoice_number = $1",
                                      event.invoice_number)
        if paid >= invoice["amount"]:
            await tx.conn.execute("UPDATE invoices SET status = 'paid' WHERE invoice_number = $1",
                                  event.invoice_number)
        open_left = await tx.conn.fetchval(
            "SELECT count(*) FROM invoices WHERE order_id = $1 AND status = 'open'", invoice["order_id"])
        await tx.emit(finance.PaymentReceived(
            order_id=invoice["order_id"], invoice_number=event.invoice_number, payment_ref=event.payment_ref,
            amount=event.amount, order_paid_in_full=open_left == 0), key=invoice["order_id"],
            correlation_id=invoice["order_id"])
