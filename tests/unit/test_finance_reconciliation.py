"""Bank reconciliation rules (services/finance/reconciliation.py): reading CSV and camt.053
statements, and how a line is applied (reference, amount + customer, partial, over, unmatched)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.finance import reconciliation as r
from tests.statement_files import Entry, camt053, csv_statement

D = Decimal
DUE = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
ACME_IBAN = "DE89370400440532013000"


def inv(number: str, outstanding: str, customer: str = "CUST-ACME", currency: str = "EUR", days: int = 0,
        order_number: str = "SO-000001") -> r.OpenInvoice:
    return r.OpenInvoice(number, f"order-{number}", order_number, customer, currency, D(outstanding),
                         DUE + dt.timedelta(days=days))


def line(amount: str, reference: str = "", iban: str | None = None, currency: str = "EUR") -> r.BankLine:
    return r.BankLine("B-1", D(amount), currency, None, reference, None, iban)


# --- reading -----------------------------------------------------------------------------------

def test_camt053_lines_keep_the_bank_reference_payer_and_remittance():
    body = camt053("STMT-2026-03-02", [
        Entry("B-100", D("125.00"), "Invoice INV-000042 thank you", ACME_IBAN, "Acme"),
        Entry("B-101", D("19.99"), "fees", credit=False)])
    st = r.parse(body, content_type="application/xml")
    assert st.format == "camt.053" and st.statement_id.endswith(":STMT-2026-03-02")
    first, second = st.lines
    assert (first.bank_ref, first.amount, first.currency, first.counterparty_iban) == ("B-100", D("125.00"), "EUR",
                                                                                        ACME_IBAN)
    assert "INV-000042" in first.reference and first.booking_date == dt.date.today()
    assert second.amount == D("-19.99")


def test_csv_with_comma_or_semicolon_and_decimal_comma():
    entries = [Entry("B-1", D("1234.50"), "SO-000007", ACME_IBAN)]
    for delimiter in (",", ";"):
        st = r.parse(csv_statement(entries, delimiter=delimiter), content_type="text/csv")
        assert st.format == "csv" and st.lines[0].amount == D("1234.50") and st.lines[0].bank_ref == "B-1"
    same = r.parse(csv_statement(entries)).statement_id
    assert same == r.parse(csv_statement(entries)).statement_id            # same file, same id
    assert r.parse(csv_statement(entries), statement_id="march").statement_id == "march"


@pytest.mark.parametrize("body, message", [
    (b"", "empty"),
    (b"amount,currency\n1,EUR\n", "header lacks reference"),
    (b"amount,currency,reference\nabc,EUR,x\n", "line 2: amount 'abc' is not a number"),
    (b"amount,currency,reference\n1.234,EUR,x\n", "more than two decimals"),
    (b"amount,currency,reference\n1.00,EURO,x\n", "ISO 4217"),
    (b"<Document><broken>", "camt.053"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><Document>&e;</Document>',
     "camt.053"),
])
def test_unreadable_statements_say_why(body, message):
    with pytest.raises(r.StatementError, match=message):
        r.parse(body)


def test_references_are_normalised():
    assert r.references("pay inv 000012, INV-000013 and so-000099 / SO000099") == (
        ["INV-000012", "INV-000013"], ["SO-000099"])


# --- matching ----------------------------------------------------------------------------------

def test_exact_payment_by_reference_is_matched():
    m = r.match(line("100.00", "INV-000001"), referenced=[inv("INV-000001", "100.00")], named=["INV-000001"],
                payer_customer="CUST-ACME", customer_invoices=[])
    assert (m.status, m.basis, m.applied, m.unapplied) == ("matched", "reference", D("100.00"), D("0.00"))


def test_less_is_partial_and_the_invoice_still_owes():
    m = r.match(line("40.00", "INV-000001"), referenced=[inv("INV-000001", "100.00")], named=["INV-000001"],
                payer_customer=None, customer_invoices=[])
    assert (m.status, m.applied, m.unapplied) == ("partial", D("40.00"), D("0"))


def test_more_is_overpaid_and_the_rest_stays_on_the_line():
    m = r.match(line("130.00", "INV-000001"), referenced=[inv("INV-000001", "100.00")], named=["INV-000001"],
                payer_customer=None, customer_invoices=[])
    assert (m.status, m.applied, m.unapplied) == ("overpaid", D("100.00"), D("30.00"))
    assert "30.00 more than" in m.reason


def test_an_order_reference_pays_its_invoices_oldest_first():
    invoices = [inv("INV-000002", "60.00", days=5), inv("INV-000001", "50.00", days=0)]
    m = r.match(line("80.00", "SO-000001"), referenced=invoices, named=["SO-000001"], payer_customer=None,
                customer_invoices=[])
    assert [(a.invoice_number, a.amount) for a in m.allocations] == [("INV-000001", D("50.00")),
                                                                     ("INV-000002", D("30.00"))]
    assert m.status == "partial"


def test_no_reference_matches_by_customer_and_exact_amount_only_when_unambiguous():
    own = [inv("INV-000001", "70.00"), inv("INV-000002", "55.00")]
    m = r.match(line("55.00", "thanks"), referenced=[], named=[], payer_customer="CUST-ACME", customer_invoices=own)
    assert (m.status, m.basis, [a.invoice_number for a in m.allocations]) == ("matched", "amount_and_customer",
                                                                              ["INV-000002"])
    twice = [inv("INV-000001", "55.00"), inv("INV-000002", "55.00")]
    m = r.match(line("55.00"), referenced=[], named=[], payer_customer="CUST-ACME", customer_invoices=twice)
    assert m.status == "unmatched" and "2 open invoices" in m.reason
    m = r.match(line("55.00"), referenced=[], named=[], payer_customer=None, customer_invoices=[])
    assert m.status == "unmatched" and "not registered" in m.reason


@pytest.mark.parametrize("kwargs, reason", [
    (dict(referenced=[], named=["INV-999999"]), "names no invoice"),
    (dict(referenced=[inv("INV-000001", "10.00", customer="CUST-BOLT")], named=["INV-000001"],
          payer_customer="CUST-ACME"), "payer's account is registered for CUST-ACME"),
    (dict(referenced=[inv("INV-000001", "10.00", currency="SEK")], named=["INV-000001"]), "invoiced in SEK"),
    (dict(referenced=[inv("INV-000001", "0.00")], named=["INV-000001"]), "owes nothing"),
])
def test_unmatched_lines_say_why(kwargs, reason):
    m = r.match(line("10.00"), **{"payer_customer": None, "customer_invoices": [], **kwargs})
    assert m.status == "unmatched" and m.unapplied == D("10.00") and reason in m.reason


def test_outgoing_money_is_ignored():
    assert r.match(line("-5.00", "INV-000001"), referenced=[], named=[], payer_customer=None,
                   customer_invoices=[]).status == "ignored"
