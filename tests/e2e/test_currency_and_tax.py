"""Currency and tax on the real stack: a Swedish customer billed in SEK, priced from the SEK price
list, invoiced with Swedish VAT per product tax class (net + tax = gross), paid, and reconciled."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_invariants
from tests.e2e.masterdata import new_customer, new_product

D = Decimal


async def test_an_order_in_sek_with_swedish_vat(e2e: E2E) -> None:
    tools = await new_product(e2e, stock=20, price="45.00", prices={"SEK": "500.00"})            # standard: 25 %
    books = await new_product(e2e, stock=20, price="9.00", prices={"SEK": "100.00"}, tax_class="reduced")  # 12 %
    euro_only = await new_product(e2e, stock=20, price="9.00")
    customer = await new_customer(e2e, "CUST-T-SEK", country="SE", currency="SEK", credit_limit="100000.00")

    refused = e2e.post("sales", "/orders", {"customer_id": customer, "currency": "EUR",
                                            "lines": [{"sku": tools, "quantity": 1}, {"sku": euro_only, "quantity": 1}]})
    assert refused.status_code == 422
    problems = {tuple(e["loc"]): e["msg"] for e in refused.json()["detail"]}
    assert "billed in SEK, not EUR" in problems[("body", "currency")]
    assert "no SEK price" in problems[("body", "lines", 1, "sku")]

    order_id = e2e.place(customer, [(tools, 2), (books, 3)])["order_id"]
    order = e2e.wait_final(order_id)
    assert order["status"] == "completed", order["status_reason"]
    assert order["currency"] == "SEK" and D(order["total"]) == D("1300.00")
    assert [D(str(line["unit_price"])) for line in order["lines"]] == [D("500.00"), D("100.00")]

    [invoice] = e2e.get("finance", "/invoices", order_id=order_id)
    net, tax, gross = (D(str(invoice[k])) for k in ("net", "tax", "amount"))
    assert invoice["currency"] == "SEK" and invoice["country"] == "SE"
    assert (net, tax, gross) == (D("1300.00"), D("286.00"), D("1586.00"))       # 1000 x 25 % + 300 x 12 %
    assert net + tax == gross
    assert sorted((line["tax_class"], D(line["rate_pct"]), D(line["tax"])) for line in invoice["tax_lines"]) == \
        [("reduced", D("12"), D("36.00")), ("standard", D("25"), D("250.00"))]
    [payment] = e2e.get("finance", "/payments", order_id=order_id)
    assert D(str(payment["amount"])) == gross
    balance = e2e.get("finance", f"/orders/{order_id}/balance")
    assert balance["ok"] and D(balance["invoiced"]) == gross and D(balance["outstanding"]) == 0
    credit = e2e.http.get(f"{e2e.stack.url('finance')}/customers/{customer}/credit",
                          headers=e2e.as_user("fiona")).json()
    assert credit["currency"] == "SEK" and D(credit["exposure"]) == 0
    invoiced = [e["detail"] for e in order["timeline"] if e["type"] == "finance.invoice_issued"]
    assert invoiced and invoiced[0]["currency"] == "SEK" and D(invoiced[0]["tax"]) == tax
    await assert_invariants(e2e, [order_id], [tools, books])
