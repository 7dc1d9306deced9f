"""Returns after delivery (RMA) and cost and margin on the real stack: a delivered, paid order is
returned in part; the goods are received and inspected (one restocked, one scrapped), finance
credit-notes the returned part with its tax and refunds it, and the order's margin follows. A
finance clerk's manual credit note refunds its amount too."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_invariants
from tests.e2e.masterdata import new_product

D = Decimal


async def stock_of(e2e: E2E, sku: str) -> dict:
    return dict((await e2e.rows("warehouse", "SELECT * FROM stock WHERE sku = $1", sku))[0])


async def test_a_delivered_order_returned_in_part(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=20, price="40.00", cost="20.00")
    order_id = e2e.place("CUST-ACME", [(sku, 5)])["order_id"]
    order = e2e.wait_final(order_id)
    assert order["status"] == "completed", order["status_reason"]
    [invoice] = e2e.get("finance", "/invoices", order_id=order_id)
    assert (D(str(invoice["net"])), D(str(invoice["amount"]))) == (D("200.00"), D("238.00"))
    margin = order["margin"]
    shipping = D(str(margin["shipping"]))
    assert shipping > 0
    assert (D(str(margin["net_revenue"])), D(str(margin["cost_of_goods"]))) == (D("200.00"), D("100.00"))
    assert D(str(margin["margin"])) == D("100.00") - shipping
    before = await stock_of(e2e, sku)

    url = f"{e2e.stack.url('sales')}/orders/{order_id}/returns"
    too_many = e2e.http.post(url, json={"lines": [{"sku": sku, "quantity": 6}], "reason": "damaged"})
    assert too_many.status_code == 409 and "returnable" in too_many.json()["detail"]
    asked = e2e.http.post(url, json={"lines": [{"sku": sku, "quantity": 2}], "reason": "damaged",
                                     "comment": "two boxes crushed"})
    assert asked.status_code == 201, asked.text
    rma = asked.json()["rma"]
    assert asked.json()["status"] == "requested"
    clerk_may_not = e2e.http.post(f"{url}/{rma}/approve", json={})
    assert clerk_may_not.status_code == 403
    approved = e2e.http.post(f"{url}/{rma}/approve", json={"note": "photos received"}, headers=e2e.as_user("maria"))
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text

    wanda = e2e.as_user("wanda")
    warehouse = e2e.stack.url("warehouse")
    e2e.wait_for("the warehouse expecting the return", lambda: [
        r for r in e2e.http.get(f"{warehouse}/rmas", params={"order_id": order_id}, headers=wanda).json()
        if r["rma"] == rma and r["status"] == "expected"])
    too_early = e2e.http.post(f"{warehouse}/rmas/{rma}/inspect", json={"lines": [{"sku": sku, "restock": 2}]},
                              headers=wanda)
    assert too_early.status_code == 409
    received = e2e.http.post(f"{warehouse}/rmas/{rma}/receive", json={}, headers=wanda)
    assert received.status_code == 200, received.text
    wrong_sum = e2e.http.post(f"{warehouse}/rmas/{rma}/inspect", json={"lines": [{"sku": sku, "restock": 1}]},
                              headers=wanda)
    assert wrong_sum.status_code == 409 and "2 received" in wrong_sum.json()["detail"]
    inspected = e2e.http.post(f"{warehouse}/rmas/{rma}/inspect",
                              json={"lines": [{"sku": sku, "restock": 1, "scrap": 1}]}, headers=wanda)
    assert inspected.status_code == 200, inspected.text
    assert D(str(inspected.json()["restocked_cost"])) == D("20.00")

    done = e2e.wait_for("the return completed", lambda: (o := e2e.order(order_id)) and all(
        c["status"] == "completed" for c in o["returns"]) and o, timeout=60)
    [case] = done["returns"]
    assert (D(str(case["credited"])), D(str(case["credited_net"])), D(str(case["refunded"]))) == \
        (D("95.20"), D("80.00"), D("95.20"))                                  # 2 x 40.00 + 19 % VAT, all paid back
    notes = [n for n in e2e.get("finance", "/credit-notes", order_id=order_id) if n["rma"] == rma]
    assert [(D(str(n["net"])), D(str(n["tax"])), n["kind"]) for n in notes] == [(D("80.00"), D("15.20"), "return")]
    e2e.wait_for("the refund settled", lambda: e2e.get("finance", f"/orders/{order_id}/balance")["ok"]
                 and D(e2e.get("finance", f"/orders/{order_id}/balance")["refunds_pending"]) == 0)
    after = await stock_of(e2e, sku)
    assert after["on_hand"] == before["on_hand"] + 1                          # one restocked, one scrapped
    margin = done["margin"]
    # revenue 200 - 80; goods 100 - the restocked one (20), the scrapped one stays a cost
    assert (D(str(margin["net_revenue"])), D(str(margin["cost_of_goods"]))) == (D("120.00"), D("80.00"))
    assert D(str(margin["margin"])) == D("40.00") - shipping
    assert [line["units_sold"] for line in margin["lines"]] == [3]
    completed = [e for e in done["timeline"] if e["type"] == "sales.return_completed"]
    assert len(completed) == 1

    # A person's correction: a goodwill credit of 11.90 on the invoice, refunded.
    fiona = e2e.as_user("fiona")
    refused = e2e.post("finance", "/credit-notes", {"invoice_number": invoice["invoice_number"], "amount": "500.00",
                                                    "reason": "too much"}, headers=fiona)
    assert refused.status_code == 409 and "left to credit" in refused.json()["detail"]
    manual = e2e.post("finance", "/credit-notes", {"invoice_number": invoice["invoice_number"], "amount": "11.90",
                                                   "reason": "goodwill for the delay"}, headers=fiona)
    assert manual.status_code == 201, manual.text
    assert (D(str(manual.json()["net"])), D(str(manual.json()["refunded"]))) == (D("10.00"), D("11.90"))
    e2e.wait_for("the goodwill refunded", lambda: D(e2e.get("finance", f"/orders/{order_id}/balance")["refunded"])
                 == D("107.10") and D(e2e.get("finance", f"/orders/{order_id}/balance")["refunds_pending"]) == 0)
    e2e.wait_for("the margin with the goodwill", lambda: D(str(e2e.order(order_id)["margin"]["net_revenue"]))
                 == D("110.00"))
    await assert_invariants(e2e, [order_id], [sku])
