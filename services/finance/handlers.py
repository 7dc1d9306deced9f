"""Finance message handling: credit review and release, invoicing, payments, and the settlement
compensations (credit notes, refunds) and change handling (review, credit adjustment).

Money per order always reconciles as  invoiced - credited = paid - refunded + outstanding
(outstanding: the open balance of invoices not credited; see the `invoice_balances` view and
`balance`). It is false only while money is owed back to the customer (paid for something
credited, or paid twice) until it is refunded.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import asyncpg

from contracts import finance, integrations
from contracts.common import BASE_CURRENCY
from services.finance import credit_control, credit_risk, rules, store, tax
from services.runtime.consumer import Consumer, Unprocessable
from services.runtime.outbox import Tx

CENT = Decimal("0.01")


async def credit_account(conn: asyncpg.Connection, customer_id: str) -> tuple[asyncpg.Record | None, Decimal]:
    """The customer row (locked: reviews for one customer are serialised) and its exposure:
    credit held for open orders + the open balance of its invoices (a credited invoice owes nothing)."""
    customer = await conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1 FOR UPDATE", customer_id)
    exposure = await conn.fetchval(
        "SELECT COALESCE((SELECT sum(amount) FROM credit_holds WHERE customer_id = $1 AND status = 'held'), 0)"
        " + COALESCE((SELECT sum(outstanding) FROM invoice_balances WHERE customer_id = $1), 0)",
        customer_id)
    return customer, Decimal(exposure).quantize(CENT)


async def balance(conn: asyncpg.Connection, order_id: str) -> rules.Balance:
    row = await conn.fetchrow(
        "SELECT COALESCE((SELECT sum(amount) FROM invoices WHERE order_id = $1), 0) AS invoiced,"
        " COALESCE((SELECT sum(amount) FROM credit_notes WHERE order_id = $1), 0) AS credited,"
        " COALESCE((SELECT sum(amount) FROM payments WHERE order_id = $1), 0) AS paid,"
        " COALESCE((SELECT sum(amount) FROM refunds WHERE order_id = $1), 0) AS refunded,"
        " COALESCE((SELECT sum(outstanding) FROM invoice_balances WHERE order_id = $1), 0) AS outstanding",
        order_id)
    return rules.Balance(**{k: Decimal(v).quantize(CENT) for k, v in row.items()})


async def _refresh_invoice(conn: asyncpg.Connection, invoice_number: str) -> None:
    """Re-derive an invoice's status (open | paid | credited) from its credit notes, payments, refunds."""
    b = await conn.fetchrow("SELECT * FROM invoice_balances WHERE invoice_number = $1", invoice_number)
    status = rules.invoice_status(b["amount"], b["credited"], b["paid"], b["refunded"])
    if status != b["status"]:
        await conn.execute("UPDATE invoices SET status = $2 WHERE invoice_number = $1", invoice_number, status)


async def _prices(conn: asyncpg.Connection, currency: str | None = None) -> dict[str, Decimal]:
    return await store.list_prices(conn, currency or BASE_CURRENCY)


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(CENT)}"


def _compensation_summary(parts: list[tuple[str, Decimal]], notes: list[str], asked: Decimal | None, *,
                          done: str, nothing: str, limit: str) -> str:
    """What a credit or refund compensation did, for the saga's timeline."""
    if not notes:
        return nothing
    total = sum((amount for _, amount in parts), Decimal("0.00"))
    summary = f"{done} {_money(total)}: " + ", ".join(notes)
    if asked is not None and total < asked:
        summary += f" (asked {_money(asked)}, only {_money(total)} was {limit})"
    return summary


async def _exposure_moved(tx: Tx, customer_id: str | None) -> None:
    """Re-assess the customer's credit risk after its exposure changed."""
    if customer_id is None:
        return
    customer, exposure = await credit_account(tx.conn, customer_id)
    if customer is not None:
        await credit_risk.reassess(tx, customer_id, customer["credit_limit"], exposure)


async def review_credit(tx: Tx, cmd: finance.CheckCredit) -> None:
    """The credit check proper: price against the price list, exposure against the limit, requested
    payment terms against the agreement. Also used when a credit hold lifts, for the orders that
    waited (credit_control.py)."""
    hold = await tx.conn.fetchrow("SELECT * FROM credit_holds WHERE order_id = $1", cmd.order_id)
    customer, exposure = await credit_account(tx.conn, cmd.customer_id)
    gross = (await store.taxed(tx.conn, cmd.lines, cmd.country)).gross   # limit and exposure: with tax
    if hold is None:
        if customer is None:
            reasons = [f"unknown customer {cmd.customer_id}"]
        elif (cmd.currency or BASE_CURRENCY) != customer["currency"]:
            reasons = [f"the order is in {cmd.currency or BASE_CURRENCY}; {cmd.customer_id} is billed in "
                       f"{customer['currency']}"]
        else:
            account = rules.CreditAccount(customer["credit_limit"], exposure, customer["max_discount_pct"])
            reasons = rules.review(cmd.order_type, cmd.lines, gross, account,
                                   await _prices(tx.conn, customer["currency"]))
            terms = rules.terms_outside_agreement(cmd.payment_terms_days, customer["payment_terms_days"],
                                                  cmd.terms_approved_by)
            reasons += [terms] if terms else []
        if reasons:
            await tx.emit(finance.CreditRejected(order_id=cmd.order_id, customer_id=cmd.customer_id,
                                                 reasons=reasons), key=cmd.order_id)
            if customer is not None and any(r.startswith("credit limit exceeded") for r in reasons):
                await credit_risk.reassess(tx, cmd.customer_id, customer["credit_limit"], exposure,
                                           refused_amount=gross, order_id=cmd.order_id)
            return
        amount = rules.held_amount(cmd.order_type, gross)
        await tx.conn.execute(
            "INSERT INTO credit_holds (order_id, customer_id, amount, status, order_type, net_total, gross_total,"
            " payment_terms_days) VALUES ($1, $2, $3, 'held', $4, $5, $6, $7)",
            cmd.order_id, cmd.customer_id, amount, cmd.order_type.value, cmd.total, gross, cmd.payment_terms_days)
        exposure += amount
        await credit_risk.reassess(tx, cmd.customer_id, customer["credit_limit"], exposure)
    # Approved now, or asked again for an order already approved: answer the same way.
    await tx.emit(finance.CreditApproved(
        order_id=cmd.order_id, customer_id=cmd.customer_id, amount=cmd.total,
        credit_limit=customer["credit_limit"], exposure_after=exposure, currency=customer["currency"]),
        key=cmd.order_id)


def register(consumer: Consumer, config: credit_control.CreditConfig) -> None:
    @consumer.on(finance.CheckCredit)
    async def check_credit(tx: Tx, cmd: finance.CheckCredit) -> None:
        if await credit_control.held_back(tx, cmd, config):   # customer on credit hold: waits or is rejected
            return
        await review_credit(tx, cmd)

    @consumer.on(finance.ReleaseCredit)
    async def release_credit(tx: Tx, cmd: finance.ReleaseCredit) -> None:
        amount = await tx.conn.fetchval(
            "UPDATE credit_holds SET status = 'released', updated_at = now()"
            " WHERE order_id = $1 AND status = 'held' RETURNING amount", cmd.order_id)
        if amount is not None:
            await tx.emit(finance.CreditReleased(order_id=cmd.order_id, amount=amount), key=cmd.order_id)
            await _exposure_moved(tx, await tx.conn.fetchval(
                "SELECT customer_id FROM credit_holds WHERE order_id = $1", cmd.order_id))
            summary = f"released credit hold of {_money(amount)}"
        elif await credit_control.drop_waiting(tx, cmd.order_id):
            summary = "the credit check waiting for finance was withdrawn"
        else:
            summary = "no credit held"
        await tx.emit(finance.CompensationDone(order_id=cmd.order_id, command_type=finance.ReleaseCredit.TYPE,
                                               summary=summary), key=cmd.order_id)

    @consumer.on(finance.IssueInvoice)
    async def issue_invoice(tx: Tx, cmd: finance.IssueInvoice) -> None:
        existing = await tx.conn.fetchrow(
            "SELECT * FROM invoices WHERE order_id = $1 AND shipment_ref = $2", cmd.order_id, cmd.shipment_ref)
        if existing is None:
            customer = await tx.conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1", cmd.customer_id)
            if customer is None:
                raise Unprocessable(f"unknown customer {cmd.customer_id}")
            terms = customer["payment_terms_days"]
            terms = cmd.payment_terms_days if cmd.payment_terms_days is not None else terms   # approved in review
            currency = cmd.currency or customer["currency"]
            taxed = await store.taxed(tx.conn, cmd.lines, cmd.country)   # net + tax per line = gross
            seq = await tx.conn.fetchval("SELECT nextval('invoice_number_seq')")
            number = f"INV-{seq:06d}"
            kind = "prepayment" if cmd.kind == "prepayment" else "shipment"
            due = dt.date.today() + dt.timedelta(days=0 if kind == "prepayment" else terms)
            existing = await tx.conn.fetchrow(
                "INSERT INTO invoices (invoice_number, order_id, shipment_ref, customer_id, amount, due_date,"
                " status, kind, net, tax, tax_lines, currency, country)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $11, $12) RETURNING *",
                number, cmd.order_id, cmd.shipment_ref, cmd.customer_id, taxed.gross, due, kind, taxed.net,
                taxed.tax, taxed.as_json(), currency, cmd.country)
            # The invoice now carries (its part of) the exposure the hold carried.
            hold = await tx.conn.fetchrow(
                "SELECT * FROM credit_holds WHERE order_id = $1 AND status = 'held' FOR UPDATE", cmd.order_id)
            if hold is not None:
                left = rules.hold_after_invoice(hold["amount"], taxed.gross, kind)
                if left > 0:
                    await tx.conn.execute("UPDATE credit_holds SET amount = $2, updated_at = now()"
                                          " WHERE order_id = $1", cmd.order_id, left)
                else:
                    await tx.conn.execute("UPDATE credit_holds SET status = 'invoiced', updated_at = now()"
                                          " WHERE order_id = $1", cmd.order_id)
            await tx.emit(integrations.PaymentRequested(
                invoice_number=number, order_id=cmd.order_id, customer_id=cmd.customer_id, amount=taxed.gross,
                method=cmd.payment_method.value, due_date=due, currency=currency), key=cmd.order_id)
        await tx.emit(finance.InvoiceIssued(
            order_id=cmd.order_id, invoice_number=existing["invoice_number"], shipment_ref=cmd.shipment_ref,
            amount=existing["amount"], due_date=existing["due_date"], kind=existing["kind"],
            currency=existing["currency"], net=existing["net"], tax=existing["tax"]), key=cmd.order_id)

    @consumer.on(integrations.PaymentSettled)
    async def payment_settled(tx: Tx, event: integrations.PaymentSettled) -> None:
        invoice = await tx.conn.fetchrow("SELECT * FROM invoices WHERE invoice_number = $1 FOR UPDATE",
                                         event.invoice_number)
        if invoice is None:
            raise Unprocessable(f"payment {event.payment_ref} for unknown invoice {event.invoice_number}")
        # Money received is a fact: recorded even for a credited invoice or beyond the balance
        # (then the order's balance shows it as owed back until it is refunded).
        recorded = await tx.conn.fetchval(
            "INSERT INTO payments (payment_ref, invoice_number, order_id, amount) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING true",
            event.payment_ref, event.invoice_number, invoice["order_id"], event.amount)
        if not recorded:
            return  # the provider reported the same settlement twice
        await _refresh_invoice(tx.conn, event.invoice_number)
        owed = await tx.conn.fetchval(
            "SELECT COALESCE(sum(outstanding), 0) FROM invoice_balances WHERE order_id = $1", invoice["order_id"])
        await tx.emit(finance.PaymentReceived(
            order_id=invoice["order_id"], invoice_number=event.invoice_number, payment_ref=event.payment_ref,
            amount=event.amount, order_paid_in_full=owed == 0, currency=invoice["currency"]), key=invoice["order_id"],
            correlation_id=invoice["order_id"])
        await _exposure_moved(tx, invoice["customer_id"])
        await credit_control.evaluate_hold(tx, invoice["customer_id"], config, review_credit)

    @consumer.on(finance.CreditInvoices)
    async def credit_invoices(tx: Tx, cmd: finance.CreditInvoices) -> None:
        invoices = await tx.conn.fetch(
            "SELECT invoice_number, net, tax, currency FROM invoices WHERE order_id = $1"
            " ORDER BY issued_at DESC, invoice_number DESC FOR UPDATE", cmd.order_id)
        billed = {r["invoice_number"]: r for r in invoices}
        room = {r["invoice_number"]: r["amount"] - r["credited"] for r in await tx.conn.fetch(
            "SELECT invoice_number, amount, credited FROM invoice_balances WHERE order_id = $1", cmd.order_id)}
        parts = rules.allocate([(r["invoice_number"], room[r["invoice_number"]]) for r in invoices], cmd.amount)
        notes = []
        for invoice_number, amount in parts:
            seq = await tx.conn.fetchval("SELECT nextval('credit_note_number_seq')")
            number = f"CN-{seq:06d}"
            invoice = billed[invoice_number]
            net, tax_part = tax.split_credit(amount, invoice["net"], invoice["tax"])
            await tx.conn.execute(
                "INSERT INTO credit_notes (credit_note_number, invoice_number, order_id, amount, reason, initiated_by,"
                " net, tax) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", number, invoice_number, cmd.order_id, amount,
                cmd.reason, tx.initiator.model_dump() if tx.initiator else None, net, tax_part)
            await _refresh_invoice(tx.conn, invoice_number)
            await tx.emit(finance.CreditNoteIssued(
                order_id=cmd.order_id, invoice_number=invoice_number, credit_note_number=number, amount=amount,
                reason=cmd.reason, currency=invoice["currency"], net=net, tax=tax_part), key=cmd.order_id)
            notes.append(f"{number} {_money(amount)} on {invoice_number}")
        if parts:
            await _exposure_moved(tx, await tx.conn.fetchval(
                "SELECT customer_id FROM invoices WHERE order_id = $1 LIMIT 1", cmd.order_id))
        summary = _compensation_summary(parts, notes, cmd.amount, done="credited",
                                        nothing="nothing billed left to credit", limit="billed and not credited")
        await tx.emit(finance.CompensationDone(order_id=cmd.order_id, command_type=finance.CreditInvoices.TYPE,
                                               summary=summary), key=cmd.order_id)

    @consumer.on(finance.RefundPayments)
    async def refund_payments(tx: Tx, cmd: finance.RefundPayments) -> None:
        await tx.conn.execute("SELECT 1 FROM payments WHERE order_id = $1 FOR UPDATE", cmd.order_id)
        payments = await tx.conn.fetch(
            "SELECT p.payment_ref, p.invoice_number, p.amount - COALESCE(sum(r.amount), 0) AS refundable"
            " FROM payments p LEFT JOIN refunds r USING (payment_ref) WHERE p.order_id = $1"
            " GROUP BY p.payment_ref ORDER BY p.received_at DESC, p.payment_ref DESC", cmd.order_id)
        invoice_of = {p["payment_ref"]: p["invoice_number"] for p in payments}
        parts = rules.allocate([(p["payment_ref"], p["refundable"]) for p in payments], cmd.amount)
        requested = []
        for payment_ref, amount in parts:
            await tx.conn.execute(
                "INSERT INTO refunds (payment_ref, order_id, amount, status, reason, initiated_by)"
                " VALUES ($1, $2, $3, 'requested', $4, $5)", payment_ref, cmd.order_id, amount, cmd.reason,
                tx.initiator.model_dump() if tx.initiator else None)
            await _refresh_invoice(tx.conn, invoice_of[payment_ref])
            await tx.emit(integrations.RefundRequested(payment_ref=payment_ref, order_id=cmd.order_id, amount=amount),
                          key=cmd.order_id)
            requested.append(f"{_money(amount)} of {payment_ref}")
        summary = _compensation_summary(parts, requested, cmd.amount, done="refund requested of",
                                        nothing="nothing paid left to refund", limit="paid and not refunded")
        await tx.emit(finance.CompensationDone(order_id=cmd.order_id, command_type=finance.RefundPayments.TYPE,
                                               summary=summary), key=cmd.order_id)

    @consumer.on(integrations.RefundSettled)
    async def refund_settled(tx: Tx, event: integrations.RefundSettled) -> None:
        if await tx.conn.fetchval("SELECT true FROM refunds WHERE refund_ref = $1", event.refund_ref):
            return  # the provider reported the same refund twice
        payment = await tx.conn.fetchrow("SELECT * FROM payments WHERE payment_ref = $1 FOR UPDATE",
                                         event.payment_ref)
        if payment is None:
            raise Unprocessable(f"refund {event.refund_ref} of unknown payment {event.payment_ref}")
        refund = await tx.conn.fetchrow(
            "SELECT * FROM refunds WHERE payment_ref = $1 AND status = 'requested'"
            " ORDER BY (amount = $2) DESC, refund_id LIMIT 1 FOR UPDATE", event.payment_ref, event.amount)
        if refund is not None:
            await tx.conn.execute(
                "UPDATE refunds SET status = 'settled', refund_ref = $2, amount = $3, settled_at = now()"
                " WHERE refund_id = $1", refund["refund_id"], event.refund_ref, event.amount)
        else:  # a refund we did not ask for (the provider's own): the money left all the same
            await tx.conn.execute(
                "INSERT INTO refunds (payment_ref, order_id, amount, status, reason, refund_ref, settled_at)"
                " VALUES ($1, $2, $3, 'settled', 'refunded by the provider', $4, now())",
                event.payment_ref, payment["order_id"], event.amount, event.refund_ref)
        await _refresh_invoice(tx.conn, payment["invoice_number"])
        await tx.emit(finance.PaymentRefunded(order_id=payment["order_id"], payment_ref=event.payment_ref,
                                              refund_ref=event.refund_ref, amount=event.amount),
                      key=payment["order_id"], correlation_id=payment["order_id"])

    @consumer.on(finance.AdjustCredit)
    async def adjust_credit(tx: Tx, cmd: finance.AdjustCredit) -> None:
        done = await tx.conn.fetchrow("SELECT * FROM credit_adjustments WHERE change_id = $1", cmd.change_id)
        if done is None:
            hold = await tx.conn.fetchrow("SELECT * FROM credit_holds WHERE order_id = $1 FOR UPDATE", cmd.order_id)
            billed = await tx.conn.fetchval(
                "SELECT COALESCE(sum(amount - credited), 0) FROM invoice_balances WHERE order_id = $1", cmd.order_id)
            held = Decimal("0.00")
            if hold is not None and hold["status"] != "released":
                # Holds recorded before order types were stored: a zero hold was not credit-checked.
                order_type = hold["order_type"] or ("standard" if hold["amount"] > 0 else "sample")
                new_gross = tax.gross_for(cmd.new_total, hold["net_total"], hold["gross_total"])   # billed is gross
                held = rules.hold_for_total(order_type, new_gross, billed)
                status = "held" if held > 0 or billed == 0 else "invoiced"
                await tx.conn.execute("UPDATE credit_holds SET amount = $2, status = $3, updated_at = now()"
                                      " WHERE order_id = $1", cmd.order_id, held, status)
            done = await tx.conn.fetchrow(
                "INSERT INTO credit_adjustments (change_id, order_id, new_total, held) VALUES ($1, $2, $3, $4)"
                " RETURNING *", cmd.change_id, cmd.order_id, cmd.new_total, held)
            if hold is not None:
                await _exposure_moved(tx, hold["customer_id"])
        await tx.emit(finance.CreditAdjusted(order_id=cmd.order_id, change_id=cmd.change_id, amount=done["held"]),
                      key=cmd.order_id)

    @consumer.on(finance.ReviewChange)
    async def review_change(tx: Tx, cmd: finance.ReviewChange) -> None:
        proposal = cmd.proposal
        customer, exposure = await credit_account(tx.conn, cmd.customer_id)
        if customer is None:
            reason = f"unknown customer {cmd.customer_id}"
        else:
            account = rules.CreditAccount(customer["credit_limit"], exposure, customer["max_discount_pct"])
            reason = rules.review_change(cmd.order_type, proposal, account,
                                         await _prices(tx.conn, customer["currency"]))
        await tx.emit(finance.ChangeReviewed(order_id=proposal.order_id, change_id=proposal.change_id,
                                             approved=reason is None, reason=reason), key=proposal.order_id)
