"""Finance persistence for dunning, credit hold and bank reconciliation (the older handlers keep
their SQL beside them in handlers.py until they move here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.common import BASE_CURRENCY
from services.finance import dunning, reconciliation, tax

CENT = Decimal("0.01")


# --- prices and tax ---------------------------------------------------------------------------

async def list_prices(conn: asyncpg.Connection, currency: str) -> dict[str, Decimal]:
    """The price list in a currency (EUR: price_list unless price_list_prices has a row)."""
    rows = await conn.fetch(
        "SELECT sku, list_price FROM price_list_prices WHERE currency = $1 UNION ALL"
        " SELECT sku, list_price FROM price_list p WHERE $1 = $2 AND NOT EXISTS"
        " (SELECT 1 FROM price_list_prices x WHERE x.sku = p.sku AND x.currency = $1)", currency, BASE_CURRENCY)
    return {r["sku"]: r["list_price"] for r in rows}


async def tax_context(conn: asyncpg.Connection, skus: list[str]) -> tuple[dict[str, str], tax.Rates]:
    """(tax class per SKU, rates per (country, class))."""
    classes = {r["sku"]: r["tax_class"] for r in await conn.fetch(
        "SELECT sku, tax_class FROM product_tax_classes WHERE sku = ANY($1::text[])", skus)}
    rates = {(r["country"], r["tax_class"]): Decimal(r["rate_pct"]) for r in await conn.fetch(
        "SELECT * FROM tax_rates")}
    return classes, rates


async def taxed(conn: asyncpg.Connection, lines: list, country: str | None) -> tax.Taxed:
    classes, rates = await tax_context(conn, [line.sku for line in lines])
    return tax.tax_lines(lines, country=country, classes=classes, rates=rates)


# --- invoices ---------------------------------------------------------------------------------

async def refresh_invoice(conn: asyncpg.Connection, invoice_number: str, status_of: Any) -> None:
    b = await conn.fetchrow("SELECT * FROM invoice_balances WHERE invoice_number = $1", invoice_number)
    status = status_of(b["amount"], b["credited"], b["paid"], b["refunded"])
    if status != b["status"]:
        await conn.execute("UPDATE invoices SET status = $2 WHERE invoice_number = $1", invoice_number, status)


async def order_outstanding(conn: asyncpg.Connection, order_id: str) -> Decimal:
    return Decimal(await conn.fetchval(
        "SELECT COALESCE(sum(outstanding), 0) FROM invoice_balances WHERE order_id = $1", order_id)).quantize(CENT)


async def invoices_due_for_dunning(conn: asyncpg.Connection, now: dt.datetime, limit: int = 200) -> list[str]:
    return [r["invoice_number"] for r in await conn.fetch(
        "SELECT invoice_number FROM invoices WHERE status = 'open' AND kind = ANY($1::text[]) AND due_at < $2"
        " ORDER BY due_at LIMIT $3", list(dunning.DUNNED_KINDS), now, limit)]


async def lock_invoice_for_dunning(conn: asyncpg.Connection, invoice_number: str) -> asyncpg.Record | None:
    """The invoice (locked, skipped when someone else works on it), what it owes and its last level."""
    invoice = await conn.fetchrow("SELECT * FROM invoices WHERE invoice_number = $1 AND status = 'open'"
                                  " FOR UPDATE SKIP LOCKED", invoice_number)
    if invoice is None:
        return None
    return await conn.fetchrow(
        "SELECT i.*, b.outstanding, COALESCE((SELECT max(level) FROM dunning_notices d"
        "  WHERE d.invoice_number = i.invoice_number), 0) AS last_level"
        " FROM invoices i JOIN invoice_balances b USING (invoice_number) WHERE i.invoice_number = $1",
        invoice_number)


async def record_notice(conn: asyncpg.Connection, invoice: asyncpg.Record, reminder: dunning.Reminder,
                        charge_invoice: str | None) -> None:
    await conn.execute(
        "INSERT INTO dunning_notices (invoice_number, level, level_name, order_id, customer_id, outstanding, fee,"
        " interest, charge_invoice) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        invoice["invoice_number"], reminder.level, reminder.name, invoice["order_id"], invoice["customer_id"],
        invoice["outstanding"], reminder.fee, reminder.interest, charge_invoice)


async def insert_charge_invoice(conn: asyncpg.Connection, invoice: asyncpg.Record, reminder: dunning.Reminder
                                ) -> asyncpg.Record:
    """Fees and interest of a reminder, billed on their own invoice of the same order (due at once)."""
    seq = await conn.fetchval("SELECT nextval('invoice_number_seq')")
    return await conn.fetchrow(
        "INSERT INTO invoices (invoice_number, order_id, shipment_ref, customer_id, amount, due_date, status, kind,"
        " currency) VALUES ($1, $2, $3, $4, $5, current_date, 'open', 'charge', $6) RETURNING *",
        f"INV-{seq:06d}", invoice["order_id"], f"charge:{invoice['invoice_number']}:{reminder.level}",
        invoice["customer_id"], reminder.charge, invoice["currency"])


async def dunning_notices(pool: asyncpg.Pool, *, customer_id: str | None, invoice_number: str | None,
                          order_id: str | None) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM dunning_notices WHERE ($1::text IS NULL OR customer_id = $1)"
        " AND ($2::text IS NULL OR invoice_number = $2) AND ($3::text IS NULL OR order_id = $3)"
        " ORDER BY issued_at, invoice_number, level", customer_id, invoice_number, order_id)
    return [dict(r) for r in rows]


async def invoice(conn: asyncpg.Connection, invoice_number: str) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM invoices WHERE invoice_number = $1", invoice_number)


async def lock_invoice(conn: asyncpg.Connection, invoice_number: str) -> asyncpg.Record | None:
    """The invoice, locked, with what is credited so far."""
    found = await conn.fetchrow("SELECT * FROM invoices WHERE invoice_number = $1 FOR UPDATE", invoice_number)
    if found is None:
        return None
    return await conn.fetchrow("SELECT i.*, b.credited FROM invoices i JOIN invoice_balances b USING (invoice_number)"
                               " WHERE i.invoice_number = $1", invoice_number)


async def lock_order_invoices(conn: asyncpg.Connection, order_id: str) -> list[asyncpg.Record]:
    """The order's invoices, newest first, locked, with what is credited so far."""
    await conn.execute("SELECT 1 FROM invoices WHERE order_id = $1 FOR UPDATE", order_id)
    return await conn.fetch("SELECT i.*, b.credited FROM invoices i JOIN invoice_balances b USING (invoice_number)"
                            " WHERE i.order_id = $1 ORDER BY i.issued_at DESC, i.invoice_number DESC", order_id)


async def order_money(conn: asyncpg.Connection, order_id: str) -> dict[str, Decimal]:
    row = await conn.fetchrow(
        "SELECT COALESCE((SELECT sum(amount) FROM invoices WHERE order_id = $1), 0) AS invoiced,"
        " COALESCE((SELECT sum(amount) FROM credit_notes WHERE order_id = $1), 0) AS credited,"
        " COALESCE((SELECT sum(amount) FROM payments WHERE order_id = $1), 0) AS paid,"
        " COALESCE((SELECT sum(amount) FROM refunds WHERE order_id = $1), 0) AS refunded", order_id)
    return {k: Decimal(v).quantize(CENT) for k, v in row.items()}


async def refundable_payments(conn: asyncpg.Connection, order_id: str) -> list[asyncpg.Record]:
    await conn.execute("SELECT 1 FROM payments WHERE order_id = $1 FOR UPDATE", order_id)
    return await conn.fetch(
        "SELECT p.payment_ref, p.invoice_number, p.amount - COALESCE(sum(r.amount), 0) AS refundable"
        " FROM payments p LEFT JOIN refunds r USING (payment_ref) WHERE p.order_id = $1"
        " GROUP BY p.payment_ref ORDER BY p.received_at DESC, p.payment_ref DESC", order_id)


async def insert_credit_note(conn: asyncpg.Connection, *, invoice_number: str, order_id: str, amount: Decimal,
                             net: Decimal, tax: Decimal, reason: str, kind: str, rma: str | None,
                             by: dict | None) -> str:
    seq = await conn.fetchval("SELECT nextval('credit_note_number_seq')")
    number = f"CN-{seq:06d}"
    await conn.execute(
        "INSERT INTO credit_notes (credit_note_number, invoice_number, order_id, amount, net, tax, reason, kind, rma,"
        " initiated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        number, invoice_number, order_id, amount, net, tax, reason, kind, rma, by)
    return number


async def insert_refund(conn: asyncpg.Connection, *, payment_ref: str, order_id: str, amount: Decimal, reason: str,
                        rma: str | None, by: dict | None) -> None:
    await conn.execute(
        "INSERT INTO refunds (payment_ref, order_id, amount, status, reason, rma, initiated_by)"
        " VALUES ($1, $2, $3, 'requested', $4, $5, $6)", payment_ref, order_id, amount, reason, rma, by)


async def return_settlement(conn: asyncpg.Connection, rma: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM return_settlements WHERE rma = $1", rma)


async def insert_return_settlement(conn: asyncpg.Connection, *, rma: str, order_id: str, credited: Decimal,
                                   credited_net: Decimal, refunded: Decimal, credit_notes: list[str]) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO return_settlements (rma, order_id, credited, credited_net, refunded, credit_notes)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *", rma, order_id, credited, credited_net, refunded, credit_notes)


# --- credit hold ------------------------------------------------------------------------------

async def customers_with_overdue(conn: asyncpg.Connection, before: dt.datetime) -> list[str]:
    return [r["customer_id"] for r in await conn.fetch(
        "SELECT DISTINCT i.customer_id FROM invoice_balances b JOIN invoices i USING (invoice_number)"
        " WHERE i.status = 'open' AND b.outstanding > 0 AND i.kind = ANY($1::text[]) AND i.due_at < $2",
        list(dunning.DUNNED_KINDS), before)]


async def customers_on_hold(conn: asyncpg.Connection) -> list[str]:
    return [r["customer_id"] for r in await conn.fetch(
        "SELECT customer_id FROM customer_credit_holds WHERE status = 'on'")]


async def overdue_invoices(conn: asyncpg.Connection, customer_id: str, now: dt.datetime) -> list[dunning.Overdue]:
    rows = await conn.fetch(
        "SELECT i.invoice_number, b.outstanding, i.due_at FROM invoices i JOIN invoice_balances b USING"
        " (invoice_number) WHERE i.customer_id = $1 AND i.status = 'open' AND b.outstanding > 0"
        " AND i.kind = ANY($2::text[]) AND i.due_at < $3", customer_id, list(dunning.DUNNED_KINDS), now)
    return [dunning.Overdue(r["invoice_number"], Decimal(r["outstanding"]), r["due_at"]) for r in rows]


async def lock_customer(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record | None:
    """Everything about one customer's credit is serialised on its customers row."""
    return await conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1 FOR UPDATE", customer_id)


async def credit_hold(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record | None:
    """The customer's hold if it is on."""
    return await conn.fetchrow("SELECT * FROM customer_credit_holds WHERE customer_id = $1 AND status = 'on'",
                               customer_id)


async def place_hold(conn: asyncpg.Connection, customer_id: str, reason: str, overdue: Decimal) -> None:
    await conn.execute(
        "INSERT INTO customer_credit_holds (customer_id, status, reason, overdue_amount) VALUES ($1, 'on', $2, $3)"
        " ON CONFLICT (customer_id) DO UPDATE SET status = 'on', reason = $2, overdue_amount = $3, placed_at = now(),"
        " lifted_at = NULL, lift_reason = NULL, lifted_by = NULL", customer_id, reason, overdue)


async def lift_hold(conn: asyncpg.Connection, customer_id: str, reason: str, by: dict | None) -> None:
    await conn.execute(
        "UPDATE customer_credit_holds SET status = 'lifted', lifted_at = now(), lift_reason = $2, lifted_by = $3"
        " WHERE customer_id = $1", customer_id, reason, by)


async def queue_waiting(conn: asyncpg.Connection, order_id: str, customer_id: str, command: dict,
                        reason: str) -> None:
    await conn.execute(
        "INSERT INTO credit_waiting_orders (order_id, customer_id, command, reason) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (order_id) DO NOTHING", order_id, customer_id, command, reason)


async def take_waiting(conn: asyncpg.Connection, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("DELETE FROM credit_waiting_orders WHERE customer_id = $1 RETURNING *", customer_id)


async def take_waiting_order(conn: asyncpg.Connection, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("DELETE FROM credit_waiting_orders WHERE order_id = $1 RETURNING *", order_id)


async def waiting_order(conn: asyncpg.Connection, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM credit_waiting_orders WHERE order_id = $1 FOR UPDATE", order_id)


async def record_decision(conn: asyncpg.Connection, order_id: str, customer_id: str, decision: str, reason: str,
                          by: dict | None) -> None:
    await conn.execute(
        "INSERT INTO credit_decisions (order_id, customer_id, decision, reason, decided_by) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (order_id) DO NOTHING", order_id, customer_id, decision, reason, by)


async def credit_holds(pool: asyncpg.Pool, include_lifted: bool) -> list[dict[str, Any]]:
    holds = await pool.fetch("SELECT * FROM customer_credit_holds WHERE $1 OR status = 'on' ORDER BY placed_at",
                             include_lifted)
    waiting = await pool.fetch("SELECT order_id, customer_id, reason, queued_at, command->>'order_number'"
                               " AS order_number, command->>'total' AS total FROM credit_waiting_orders"
                               " ORDER BY queued_at")
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for w in waiting:
        by_customer.setdefault(w["customer_id"], []).append(dict(w))
    return [{**dict(h), "waiting_orders": by_customer.get(h["customer_id"], [])} for h in holds]


# --- bank reconciliation ----------------------------------------------------------------------

async def statement(conn: asyncpg.Connection, statement_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM bank_statements WHERE statement_id = $1", statement_id)


async def insert_statement(conn: asyncpg.Connection, st: reconciliation.Statement, sha256: str,
                           by: dict | None) -> bool:
    """False when the statement was imported before (then nothing else is done)."""
    return bool(await conn.fetchval(
        "INSERT INTO bank_statements (statement_id, format, account, sha256, lines, imported_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        st.statement_id, st.format, st.account, sha256, len(st.lines), by))


async def bank_lines_of(conn: asyncpg.Connection, statement_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT line_id, bank_ref, amount, currency, status, basis, customer_id, applied,"
                            " unapplied, reason FROM bank_lines WHERE statement_id = $1 ORDER BY line_id", statement_id)
    return [dict(r) for r in rows]


async def known_bank_ref(conn: asyncpg.Connection, bank_ref: str) -> str | None:
    return await conn.fetchval("SELECT statement_id FROM bank_lines WHERE bank_ref = $1", bank_ref)


async def customer_of_account(conn: asyncpg.Connection, iban: str | None) -> str | None:
    if not iban:
        return None
    return await conn.fetchval("SELECT customer_id FROM customer_bank_accounts WHERE iban = $1", iban)


async def lock_invoices_by_reference(conn: asyncpg.Connection, invoice_numbers: list[str],
                                     order_numbers: list[str]) -> list[reconciliation.OpenInvoice]:
    """Invoices named by number, or of orders named by number (not charge invoices of those orders
    unless named), locked; with what each still owes (0 when paid or credited)."""
    rows = await conn.fetch(
        "SELECT i.invoice_number FROM invoices i LEFT JOIN order_numbers o ON o.order_id = i.order_id"
        " WHERE i.invoice_number = ANY($1::text[]) OR o.order_number = ANY($2::text[])"
        " ORDER BY i.invoice_number FOR UPDATE OF i", invoice_numbers, order_numbers)
    return await open_invoices(conn, [r["invoice_number"] for r in rows])


async def lock_customer_open_invoices(conn: asyncpg.Connection, customer_id: str) -> list[reconciliation.OpenInvoice]:
    rows = await conn.fetch("SELECT invoice_number FROM invoices WHERE customer_id = $1 AND status = 'open'"
                            " ORDER BY invoice_number FOR UPDATE", customer_id)
    return [i for i in await open_invoices(conn, [r["invoice_number"] for r in rows]) if i.outstanding > 0]


async def open_invoices(conn: asyncpg.Connection, invoice_numbers: list[str]) -> list[reconciliation.OpenInvoice]:
    rows = await conn.fetch(
        "SELECT i.invoice_number, i.order_id, o.order_number, i.customer_id, i.currency, b.outstanding, i.due_at"
        " FROM invoices i JOIN invoice_balances b USING (invoice_number)"
        " LEFT JOIN order_numbers o ON o.order_id = i.order_id"
        " WHERE i.invoice_number = ANY($1::text[])", invoice_numbers)
    return [reconciliation.OpenInvoice(r["invoice_number"], r["order_id"], r["order_number"], r["customer_id"],
                                       r["currency"], Decimal(r["outstanding"]), r["due_at"]) for r in rows]


async def insert_line(conn: asyncpg.Connection, statement_id: str, line: reconciliation.BankLine,
                      customer_id: str | None, m: reconciliation.Match) -> int:
    return await conn.fetchval(
        "INSERT INTO bank_lines (statement_id, bank_ref, booking_date, amount, currency, reference, counterparty_name,"
        " counterparty_iban, customer_id, status, basis, applied, unapplied, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING line_id",
        statement_id, line.bank_ref, line.booking_date, line.amount, line.currency, line.reference,
        line.counterparty_name, line.counterparty_iban, customer_id, m.status, m.basis, m.applied, m.unapplied,
        m.reason)


async def record_bank_payment(conn: asyncpg.Connection, *, line_id: int, invoice: reconciliation.OpenInvoice,
                              amount: Decimal, basis: str, by: dict | None) -> str:
    payment_ref = f"BANK-{line_id}-{invoice.invoice_number}"
    n = await conn.fetchval("SELECT count(*) FROM bank_matches WHERE line_id = $1 AND invoice_number = $2",
                            line_id, invoice.invoice_number)
    if n:
        payment_ref += f"-{n + 1}"
    await conn.execute("INSERT INTO payments (payment_ref, invoice_number, order_id, amount, source)"
                       " VALUES ($1, $2, $3, $4, 'bank')", payment_ref, invoice.invoice_number, invoice.order_id, amount)
    await conn.execute(
        "INSERT INTO bank_matches (line_id, invoice_number, order_id, amount, basis, payment_ref, matched_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)", line_id, invoice.invoice_number, invoice.order_id, amount, basis,
        payment_ref, by)
    return payment_ref


async def lock_line(conn: asyncpg.Connection, line_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM bank_lines WHERE line_id = $1 FOR UPDATE", line_id)


async def apply_to_line(conn: asyncpg.Connection, line_id: int, amount: Decimal, status: str) -> None:
    await conn.execute("UPDATE bank_lines SET applied = applied + $2, unapplied = unapplied - $2, status = $3"
                       " WHERE line_id = $1", line_id, amount, status)


async def bank_statements(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT s.*, count(l.*) FILTER (WHERE l.unapplied > 0) AS open_lines FROM bank_statements s"
        " LEFT JOIN bank_lines l USING (statement_id) GROUP BY s.statement_id ORDER BY s.imported_at DESC")
    return [dict(r) for r in rows]


async def bank_lines(pool: asyncpg.Pool, *, statement_id: str | None, status: str | None,
                     open_only: bool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT l.*, COALESCE(json_agg(json_build_object('invoice_number', m.invoice_number, 'order_id', m.order_id,"
        " 'amount', m.amount, 'basis', m.basis, 'payment_ref', m.payment_ref)) FILTER (WHERE m.match_id IS NOT NULL),"
        " '[]') AS matches FROM bank_lines l LEFT JOIN bank_matches m USING (line_id)"
        " WHERE ($1::text IS NULL OR l.statement_id = $1) AND ($2::text IS NULL OR l.status = $2)"
        " AND (NOT $3 OR l.unapplied > 0) GROUP BY l.line_id ORDER BY l.line_id", statement_id, status, open_only)
    return [dict(r) for r in rows]
