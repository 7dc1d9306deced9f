"""Dunning, credit hold and bank reconciliation on the real stack (finance settings in seconds, see
conftest.py): an unpaid invoice walks through the reminder levels, its customer goes on hold, a new
order waits (or is rejected, per the customer's policy), and a matched bank payment lifts the hold;
statements in camt.053 and CSV reconcile matched, partial, over- and unmatched lines, and importing
one twice applies it once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from decimal import Decimal

from tests.e2e.conftest import E2E, ROOT
from tests.e2e.invariants import assert_invariants
from tests.e2e.masterdata import new_customer, new_product
from tests.statement_files import Entry, camt053, csv_statement

D = Decimal
FINANCE_USER = "fiona"


def finance_headers(e2e: E2E) -> dict[str, str]:
    return e2e.as_user(FINANCE_USER)


def invoices(e2e: E2E, order_id: str) -> list[dict]:
    return e2e.get("finance", "/invoices", order_id=order_id)


def shipment_invoice(e2e: E2E, order_id: str) -> dict:
    return e2e.wait_for(f"the invoice of {order_id}", lambda: [
        i for i in invoices(e2e, order_id) if i["kind"] == "shipment"], timeout=60)[0]


def import_statement(e2e: E2E, body: bytes, content_type: str, **params: str) -> tuple[int, dict]:
    response = e2e.http.post(f"{e2e.stack.url('finance')}/bank-statements", content=body, params=params,
                             headers={**finance_headers(e2e), "content-type": content_type}, timeout=60)
    assert response.status_code in (200, 201), response.text
    return response.status_code, response.json()


def holds(e2e: E2E) -> dict[str, dict]:
    return {h["customer_id"]: h for h in e2e.http.get(f"{e2e.stack.url('finance')}/credit-holds",
                                                       headers=finance_headers(e2e)).json()}


def status_of(e2e: E2E, order_id: str, *statuses: str, timeout: float = 60) -> dict:
    return e2e.wait_for(f"{order_id} in {statuses}",
                        lambda: (o := e2e.order(order_id))["status"] in statuses and o, timeout=timeout)


async def test_dunning_walks_the_levels_puts_the_customer_on_hold_and_a_bank_payment_lifts_it(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=50, price="50.00")
    waiter = await new_customer(e2e, "CUST-T-DUNWAIT", terms_days=0, hold_policy="wait",
                                iban="DE44500105175407324931")
    rejecter = await new_customer(e2e, "CUST-T-DUNREJ", terms_days=0, hold_policy="reject")
    first = e2e.place(waiter, [(sku, 2)])["order_id"]
    other = e2e.place(rejecter, [(sku, 1)])["order_id"]
    invoice = shipment_invoice(e2e, first)
    assert D(str(invoice["amount"])) == D("119.00")                              # 100.00 + 19 % VAT (DE)

    # Reminder, second reminder (fee 5.00), final notice (fee 10.00 + interest) on their own charge invoices.
    notices = e2e.wait_for("three reminder levels", lambda: (
        n := e2e.http.get(f"{e2e.stack.url('finance')}/dunning-notices", params={"order_id": first},
                          headers=finance_headers(e2e)).json()) and len(n) == 3 and n, timeout=60)
    assert [(n["level"], n["level_name"]) for n in notices] == [(1, "reminder"), (2, "second reminder"),
                                                                (3, "final notice")]
    assert [D(str(n["fee"])) for n in notices] == [D("0.00"), D("5.00"), D("10.00")]
    assert notices[0]["charge_invoice"] is None and notices[1]["charge_invoice"] and notices[2]["charge_invoice"]
    charges = [i for i in invoices(e2e, first) if i["kind"] == "charge"]
    assert sorted(D(str(c["amount"])) for c in charges) == [D("5.00"), D("10.00")]   # 3 s of 8 % p.a. is < 1 cent
    e2e.wait_for("the reminders on the order's timeline", lambda: [
        e["detail"]["level"] for e in e2e.order(first)["timeline"]
        if e["type"] == "finance.payment_reminder_issued"] == [1, 2, 3])

    e2e.wait_for("both customers on hold", lambda: {waiter, rejecter} <= set(holds(e2e)), timeout=30)
    assert invoice["invoice_number"] in holds(e2e)[waiter]["reason"]
    # Finance now grants the waiting customer 30 days for new invoices (so the next one is not overdue at once).
    conn = await e2e.db("finance")
    try:
        await conn.execute("UPDATE customers SET payment_terms_days = 30 WHERE customer_id = $1", waiter)
    finally:
        await conn.close()

    waiting = e2e.place(waiter, [(sku, 1)])["order_id"]
    rejected = e2e.place(rejecter, [(sku, 1)])["order_id"]
    order = status_of(e2e, waiting, "awaiting_credit")
    assert "credit hold" in order["status_reason"] and "waits for finance" in order["status_reason"]
    order = e2e.wait_final(rejected)
    assert order["status"] == "rejected" and "credit hold" in order["status_reason"]
    assert [w["order_id"] for w in holds(e2e)[waiter]["waiting_orders"]] == [waiting]

    # The bank statement: the waiting customer pays its invoice and both charges; the other pays everything too.
    other_invoices = e2e.wait_for("the other customer's charges", lambda: (
        i := invoices(e2e, other)) and len(i) == 3 and i, timeout=30)
    owed = {i["invoice_number"]: D(str(i["amount"])) for i in [*invoices(e2e, first), *other_invoices]}
    entries = [Entry(f"DUN-{uuid.uuid4().hex[:8]}", amount, f"Payment {number}", payer_name="x")
               for number, amount in owed.items()]
    status, result = import_statement(e2e, camt053(f"DUN-{e2e.run_id}", entries), "application/xml")
    assert status == 201 and result["matched"] == len(entries), result

    e2e.wait_for("the holds lifted", lambda: not {waiter, rejecter} & set(holds(e2e)), timeout=30)
    lifted = {h["customer_id"]: h for h in e2e.http.get(f"{e2e.stack.url('finance')}/credit-holds",
                                                         params={"include_lifted": "true"},
                                                         headers=finance_headers(e2e)).json()}
    assert lifted[waiter]["status"] == "lifted" and "nothing is overdue" in lifted[waiter]["lift_reason"]
    # The waiting order was reviewed and goes on; its invoice (30 days) is paid by bank with its order number.
    status_of(e2e, waiting, "shipped", "completed", timeout=60)
    new_invoice = shipment_invoice(e2e, waiting)
    order_number = e2e.order(waiting)["order_number"]
    status, result = import_statement(e2e, csv_statement([Entry(f"DUN2-{uuid.uuid4().hex[:8]}",
                                                                D(str(new_invoice["amount"])),
                                                                f"order {order_number}")]), "text/csv")
    assert result["matched"] == 1, result
    for order_id in (first, other, waiting):
        assert e2e.wait_final(order_id)["status"] == "completed"
    await assert_invariants(e2e, [first, other, waiting, rejected], [sku])


async def test_bank_statements_reconcile_and_a_second_import_applies_nothing(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=50, price="50.00")
    iban = "DE12500105170648489890"
    customer = await new_customer(e2e, "CUST-T-BANK", iban=iban)
    a, b, c, d = (e2e.place(customer, [(sku, 2)])["order_id"] for _ in range(4))
    inv = {o: shipment_invoice(e2e, o) for o in (a, b, c, d)}
    number = {o: e2e.order(o)["order_number"] for o in (a, b, c, d)}
    tag = uuid.uuid4().hex[:6]
    camt = camt053(f"STMT-{tag}", [
        Entry(f"{tag}-1", D("119.00"), f"Invoice {inv[a]['invoice_number']}", iban),   # exact, by reference
        Entry(f"{tag}-2", D("40.00"), f"Order {number[b]} part 1", iban),               # partial, order number
        Entry(f"{tag}-3", D("169.00"), inv[c]["invoice_number"], iban),                 # over by 50.00
        Entry(f"{tag}-4", D("77.77"), "hello", "NL91ABNA0417164300"),                    # nobody we know
        Entry(f"{tag}-5", D("119.00"), "thank you", iban),                               # no reference: d by amount
        Entry(f"{tag}-6", D("12.00"), "bank fees", credit=False),                        # money out
    ])
    status, first = import_statement(e2e, camt, "application/xml")
    assert status == 201
    assert {k: first[k] for k in ("matched", "partial", "overpaid", "unmatched", "ignored")} == \
        {"matched": 2, "partial": 1, "overpaid": 1, "unmatched": 1, "ignored": 1}, first["lines"]
    by_ref = {line["bank_ref"]: line for line in first["lines"]}
    assert by_ref[f"{tag}-5"]["basis"] == "amount_and_customer"
    assert by_ref[f"{tag}-5"]["invoices"][0]["invoice_number"] == inv[d]["invoice_number"]
    assert D(str(by_ref[f"{tag}-3"]["unapplied"])) == D("50.00")
    assert "not registered" in by_ref[f"{tag}-4"]["reason"]

    payments_before = len(e2e.get("finance", "/payments"))
    status, again = import_statement(e2e, camt, "application/xml")
    assert status == 200 and again["already_imported"] and again["matched"] == 2
    assert len(e2e.get("finance", "/payments")) == payments_before           # twice imported = once applied

    # CSV through the CLI: the rest of b, and a payment naming an order already paid.
    csv_file = ROOT / ".local" / f"statement-{tag}.csv"
    csv_file.write_bytes(csv_statement([Entry(f"{tag}-7", D("79.00"), inv[b]["invoice_number"], iban),
                                        Entry(f"{tag}-8", D("25.00"), f"{number[a]}", iban)], delimiter=";"))
    cli_env = {**os.environ, **e2e.stack.env, "ORDERFLOW_CLI_ROLES": "finance", "ORDERFLOW_CLI_USER": FINANCE_USER,
               "ORDERFLOW_FINANCE_URL": e2e.stack.url("finance")}
    for attempt in (1, 2):
        run = subprocess.run([sys.executable, "-m", "services.cli.main", "statement", "import", str(csv_file)],
                             env=cli_env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert ("already imported" in run.stdout) == (attempt == 2), run.stdout
        assert "matched 1" in run.stdout and "unmatched 1" in run.stdout, run.stdout
    assert len(e2e.get("finance", "/payments")) == payments_before + 1
    for order_id in (a, b, c, d):
        assert e2e.wait_final(order_id)["status"] == "completed"

    # A person assigns what is left: the stranger's 77.77 and 41.23 of c's 50.00 pay a new order e (119.00).
    e = e2e.place(customer, [(sku, 2)])["order_id"]
    inv_e = shipment_invoice(e2e, e)
    open_lines = {line["bank_ref"]: line for line in e2e.http.get(
        f"{e2e.stack.url('finance')}/bank-lines", params={"open": "true"}, headers=finance_headers(e2e)).json()}
    assert {f"{tag}-3", f"{tag}-4", f"{tag}-8"} <= set(open_lines)
    url = f"{e2e.stack.url('finance')}/bank-lines/{{}}/assign"
    body = {"invoice_number": inv_e["invoice_number"]}
    first_part = e2e.http.post(url.format(open_lines[f"{tag}-4"]["line_id"]), json=body, headers=finance_headers(e2e))
    assert first_part.status_code == 200 and D(str(first_part.json()["unapplied"])) == 0, first_part.text
    rest = e2e.http.post(url.format(open_lines[f"{tag}-3"]["line_id"]), json=body, headers=finance_headers(e2e))
    assert rest.status_code == 200 and D(str(rest.json()["applied"])) == D("41.23"), rest.text
    assert D(str(rest.json()["unapplied"])) == D("8.77")
    refused = e2e.http.post(url.format(open_lines[f"{tag}-8"]["line_id"]), json=body, headers=finance_headers(e2e))
    assert refused.status_code == 409 and "owes nothing" in refused.json()["detail"]
    assert e2e.wait_final(e)["status"] == "completed"

    matched = await e2e.read_topic("finance.events.v1", until=lambda recs: sum(
        1 for r in recs if isinstance(r["value"], dict) and r["value"]["type"] == "finance.bank_payment_matched"
        and r["value"]["payload"]["customer_id"] == customer) >= 7)
    assert sum(1 for r in matched if r["value"]["type"] == "finance.bank_payment_matched"
               and r["value"]["payload"]["customer_id"] == customer) == 7     # every match an event, once
    await assert_invariants(e2e, [a, b, c, d, e], [sku])
