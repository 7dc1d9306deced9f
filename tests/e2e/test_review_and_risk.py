"""Review before reservation, people deciding, late carriers and the risk feed on the real stack
(issue 11). Each scenario uses its own SKUs and ends with the invariants (invariants.py).

Deadlines in this session (conftest.py): a sales manager has 20 s for a joint review; decisions
are never defaulted within a test (300 s); the test carrier T-LATE never collects and promises a
delivery 2 s after booking; SUP-T-LATE promises 30 days out and delivers after 15 s."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema

from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_invariants
from tests.e2e.masterdata import new_carrier, new_product
from tests.e2e.test_sagas import events, wait_status

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
DUBLIN = {"name": "Acme Ireland", "street": "1 Grafton St", "city": "Dublin", "postal_code": "D02", "country": "IE"}


def manager(e2e: E2E) -> dict[str, str]:
    return e2e.as_user("maria")


def risks(e2e: E2E, **params) -> list[dict]:
    response = e2e.http.get(f"{e2e.stack.url('sales')}/risks", params=params, headers=manager(e2e))
    response.raise_for_status()
    return response.json()


def reviewed_by_all(e2e: E2E, order_id: str) -> dict:
    return e2e.wait_for("every department's opinion", lambda: (
        (o := e2e.order(order_id))["status"] == "in_review" and (o["review"] or {}).get("manager_asked_at") and o),
        timeout=60)


async def nothing_reserved(e2e: E2E, order_id: str) -> None:
    assert await e2e.rows("warehouse", "SELECT * FROM reservations WHERE order_id = $1", order_id) == []
    assert await e2e.rows("finance", "SELECT * FROM credit_holds WHERE order_id = $1", order_id) == []


# --- joint review -----------------------------------------------------------------------------

async def test_major_order_waits_for_three_departments_and_a_manager_then_completes(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=40, price="1000.00")
    order_id = e2e.place("CUST-NORD", [(sku, 30)])["order_id"]         # 30,000.00 > 25,000.00
    order = reviewed_by_all(e2e, order_id)
    opinions = {e["department"] for e in order["timeline"] if e["type"].endswith(".order_reviewed")}
    assert opinions == {"finance", "warehouse", "logistics"}
    assert "over the review threshold" in order["review"]["reasons"][0]
    await nothing_reserved(e2e, order_id)
    assert order_id in {r["order_id"] for r in e2e.get("sales", "/reviews")}

    early = e2e.post("sales", f"/orders/{order_id}/review", {"verdict": "approve"}, headers=e2e.as_user("clara"))
    assert early.status_code == 403                                    # a clerk may not
    approved = e2e.post("sales", f"/orders/{order_id}/review", {"verdict": "approve", "comment": "key account"},
                        headers=manager(e2e))
    assert approved.status_code == 202, approved.text
    order = e2e.wait_final(order_id, timeout=60)
    assert order["status"] == "completed", order["status_reason"]
    concluded = events(order, "sales.order_review_concluded")
    assert concluded[0]["approved"] and concluded[0]["decided_by"] == "maria"
    actions = [e["detail"] for e in order["timeline"] if e["type"] == "review_approve"]
    assert [(a["user"], a["comment"]) for a in actions] == [("maria", "key account")]
    await assert_invariants(e2e, [order_id], [sku])


async def test_one_department_rejecting_rejects_with_its_reason_and_nothing_is_reserved(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=40, price="1000.00")
    order_id = e2e.place("CUST-BOLT", [(sku, 26)])["order_id"]         # over the threshold and BOLT's 20,000 limit
    order = e2e.wait_final(order_id, timeout=60)
    assert order["status"] == "rejected"
    assert "finance: credit limit exceeded" in order["status_reason"]
    await nothing_reserved(e2e, order_id)
    assert not any(e["type"] == "warehouse.reserve_stock" for e in order["timeline"])
    # finance raised a credit risk about the customer, visible to a sales manager, not to an operator
    credit = e2e.wait_for("the credit risk", lambda: [
        r for r in risks(e2e, kind="credit") if r["subject"].get("customer_id") == "CUST-BOLT"
        and r["cause"] == "over_limit"])
    assert credit[0]["department"] == "finance" and credit[0]["owner_role"] == "finance"
    as_operator = e2e.http.get(f"{e2e.stack.url('sales')}/risks", headers=e2e.as_user("oscar"))
    assert as_operator.status_code == 200 and not [r for r in as_operator.json() if r["kind"] == "credit"]
    await assert_invariants(e2e, [order_id], [sku])


async def test_a_silent_manager_past_the_deadline_gets_the_documented_default_reject(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=5, price="100.00")
    order_id = e2e.place("CUST-ACME", [(sku, 2)], special=True, special_reason="custom engraving")["order_id"]
    order = reviewed_by_all(e2e, order_id)
    assert order["review"]["reasons"] == ["flagged special: custom engraving"]
    order = e2e.wait_final(order_id, timeout=60)
    assert order["status"] == "rejected"
    assert "no sales manager decided" in order["status_reason"] and "default (reject)" in order["status_reason"]
    assert any(a.startswith("review_reminder:") for a in order["alerts"])          # reminded at half time
    assert events(order, "sales.order_review_concluded")[0]["decided_by"] == "default"
    await nothing_reserved(e2e, order_id)
    await assert_invariants(e2e, [order_id], [sku])


# --- destinations -----------------------------------------------------------------------------

async def test_unserved_destinations_are_refused_at_intake_or_review_before_any_reservation(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=5)
    nowhere = {**DUBLIN, "country": "ZZ"}
    refused = e2e.http.post(f"{e2e.stack.url('sales')}/orders", json={
        "customer_id": "CUST-ACME", "lines": [{"sku": sku, "quantity": 1}], "delivery_address": nowhere})
    assert refused.status_code == 422 and "ISO 3166-1" in refused.text

    order_id = e2e.place("CUST-ACME", [(sku, 1)], delivery_address={**DUBLIN, "country": "US"})["order_id"]
    order = e2e.wait_final(order_id)
    assert order["status"] == "rejected" and "no carrier serves US" in order["status_reason"]
    await nothing_reserved(e2e, order_id)
    await assert_invariants(e2e, [order_id], [sku])


# --- a supplier promises too late: people decide ---------------------------------------------------

def late_supplier_order(e2e: E2E, sku: str) -> tuple[str, dict]:
    needed = (dt.date.today() + dt.timedelta(days=5)).isoformat()       # SUP-T-LATE promises 30 days out
    order_id = e2e.place("CUST-ACME", [(sku, 3)], requested_delivery_date=needed)["order_id"]
    order = wait_status(e2e, order_id, "decision_needed")
    return order_id, order


async def test_late_supplier_raises_a_risk_and_accepting_the_later_date_completes_on_arrival(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=0, suppliers=["SUP-T-LATE", "SUP-T-OK"])
    order_id, order = late_supplier_order(e2e, sku)
    decision = order["decision"]
    assert decision["kind"] == "supplier_late" and decision["default"] == "accept_later_date"
    assert decision["options"] == ["accept_later_date", "switch_supplier", "cancel"]
    assert events(order, "sales.decision_requested")
    supplier_risks = e2e.wait_for("the supplier risk", lambda: [
        r for r in risks(e2e, order_id=order_id) if r["kind"] == "supplier" and r["cause"] == "promise_late"])
    assert supplier_risks[0]["department"] == "procurement" and supplier_risks[0]["subject"]["sku"] == sku
    assert order_id in {d["order_id"] for d in e2e.get("sales", "/decisions")}

    wrong = e2e.post("sales", f"/orders/{order_id}/decision", {"choice": "accept_later_date"},
                     headers=e2e.as_user("leo"))                       # logistics does not own it
    assert wrong.status_code == 409, wrong.text
    chosen = e2e.post("sales", f"/orders/{order_id}/decision", {"choice": "accept_later_date", "comment": "ok"},
                      headers=e2e.as_user("petra"))
    assert chosen.status_code == 202, chosen.text
    order = e2e.wait_final(order_id, timeout=90)
    assert order["status"] == "completed", order["status_reason"]
    assert events(order, "sales.decision_taken")[0]["decided_by"] == "petra"
    e2e.wait_for("the supplier risk closed", lambda: not [
        r for r in risks(e2e, order_id=order_id) if r["kind"] == "supplier"])
    assert [r for r in risks(e2e, order_id=order_id, status="all") if r["cause"] == "promise_late"][0]["status"] \
        == "closed"
    await assert_invariants(e2e, [order_id], [sku])


async def test_late_supplier_cancel_compensates(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=1, suppliers=["SUP-T-LATE"])
    order_id, order = late_supplier_order(e2e, sku)
    assert order["decision"]["options"] == ["accept_later_date", "ship_partial", "cancel"]   # 1 on the shelf, no other supplier
    chosen = e2e.post("sales", f"/orders/{order_id}/decision", {"choice": "cancel"}, headers=manager(e2e))
    assert chosen.status_code == 202, chosen.text
    order = e2e.wait_final(order_id, timeout=60)
    assert order["status"] == "cancelled" and "cancelled by decision" in order["status_reason"]
    done = [c["type"] for c in order["compensations"] if c["done"]]
    assert done == ["procurement.cancel_purchase", "warehouse.release_reservation", "finance.release_credit"]
    pos = e2e.get("procurement", "/purchase-orders")
    assert [p["status"] for p in pos if p["order_id"] == order_id] == ["cancelled"]
    await assert_invariants(e2e, [order_id], [sku])


# --- a late carrier is re-booked once; the feed validates against its schemas ---------------------

async def test_carrier_past_its_eta_raises_a_risk_and_an_uncollected_shipment_is_rebooked_once(e2e: E2E) -> None:
    await new_carrier(e2e, "T-LATE", ["IE"], "1.00")
    await new_carrier(e2e, "T-BACKUP", ["IE"], "2.00")
    sku = await new_product(e2e, stock=5)
    order_id = e2e.place("CUST-ACME", [(sku, 2)], delivery_address=DUBLIN)["order_id"]
    order = e2e.wait_final(order_id, timeout=90)
    assert order["status"] == "completed", order["status_reason"]

    [shipment] = e2e.get("logistics", "/shipments", order_id=order_id)
    assert (shipment["rebooked_from"], shipment["carrier"]) == ("T-LATE", "T-BACKUP")
    assert shipment["rebook_tried"] == ["T-BACKUP"] and shipment["status"] == "delivered"
    rebooked = events(order, "logistics.shipment_rebooked")
    assert [(r["previous_carrier"], r["carrier"]) for r in rebooked] == [("T-LATE", "T-BACKUP")]
    carrier_risks = [r for r in risks(e2e, order_id=order_id, status="all") if r["kind"] == "carrier"]
    assert [(r["cause"], r["status"], r["department"]) for r in carrier_risks] == [
        ("eta_passed", "closed", "logistics")]
    assert "re-booked with T-BACKUP" in carrier_risks[0]["closed_reason"]
    assert not [r for r in risks(e2e, order_id=order_id)]             # closed ones disappear

    feed = await e2e.read_topic("risk.events.v1", until=lambda recs: any(
        r["value"]["type"] == "risk.closed" and r["value"]["payload"]["subject"].get("order_id") == order_id
        for r in recs if r["value"]))
    mine = [r["value"] for r in feed if r["value"] and r["value"]["payload"]["subject"].get("order_id") == order_id]
    assert [m["type"] for m in mine] == ["risk.raised", "risk.closed"]
    for message in [r["value"] for r in feed if r["value"]]:
        schema = json.loads((SCHEMAS / f"{message['type']}.json").read_text())
        jsonschema.validate(message["payload"], schema)
        assert message["producer"] == "sales"
    await assert_invariants(e2e, [order_id], [sku])


# --- bugs ----------------------------------------------------------------------------------------

async def test_changing_a_sample_keeps_it_free(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10, price="2500.00")
    extra = await new_product(e2e, stock=10, price="2500.00")
    order_id = e2e.place("CUST-ACME", [(sku, 1)], order_type="sample")["order_id"]
    wait_status(e2e, order_id, "awaiting_approval")
    changed = e2e.post("sales", f"/orders/{order_id}/changes", {"lines": [{"sku": extra, "quantity": 1}]})
    assert changed.status_code == 202, changed.text
    order = e2e.wait_for("revision 2", lambda: (o := e2e.order(order_id))["revision"] == 2 and o)
    assert order["total"] == "0.00" and {l["unit_price"] for l in order["lines"]} == {"0.00"}
    assert e2e.post("sales", f"/orders/{order_id}/approve", headers=manager(e2e)).status_code == 202
    order = e2e.wait_final(order_id)
    assert order["status"] == "completed" and e2e.get("finance", "/invoices", order_id=order_id) == []
    await assert_invariants(e2e, [order_id], [sku, extra])


async def test_reservations_waiting_legitimately_do_not_expire_stalled_ones_do(e2e: E2E) -> None:
    on_shelf = await new_product(e2e, stock=20)
    scarce = await new_product(e2e, stock=0, suppliers=["SUP-T-SLOW"])
    waiting_for_supplier = e2e.place("CUST-ACME", [(on_shelf, 2), (scarce, 1)])["order_id"]
    stalled = e2e.place("CUST-ACME", [(on_shelf, 3), (scarce, 1)])["order_id"]
    for order_id in (waiting_for_supplier, stalled):
        wait_status(e2e, order_id, "awaiting_stock")
        e2e.wait_for("the warehouse to hold it for the supplier's promise", lambda: all(
            r["hold_until"] for r in e2e.get("warehouse", "/reservations", order_id=order_id)))
    waiting_for_payment = e2e.place("CUST-SLOW", [(on_shelf, 4)], order_type="prepaid_before_shipment")["order_id"]
    wait_status(e2e, waiting_for_payment, "awaiting_payment")
    conn = await e2e.db("warehouse")
    try:
        held = {r["order_id"]: r["hold_until"] for r in await conn.fetch(
            "SELECT order_id, max(hold_until) hold_until FROM reservations WHERE order_id = ANY($1::text[])"
            " GROUP BY order_id", [waiting_for_supplier, stalled, waiting_for_payment])}
        assert all(held.values()), held          # a supplier's date, a payment window
        # Time passes for all three; only the stalled one has no legitimate wait left.
        await conn.execute("UPDATE reservations SET updated_at = now() - interval '3 days' WHERE order_id = ANY($1)",
                           [waiting_for_supplier, stalled, waiting_for_payment])
        await conn.execute("UPDATE reservations SET hold_until = now() - interval '3 days' WHERE order_id = $1",
                           stalled)
    finally:
        await conn.close()
    order = e2e.wait_final(stalled, timeout=30)
    assert order["status"] == "cancelled" and "expired" in order["status_reason"]
    for order_id in (waiting_for_supplier, waiting_for_payment):
        assert not events(e2e.order(order_id), "warehouse.reservation_expired"), order_id
        assert sum(r["quantity_reserved"] for r in e2e.get("warehouse", "/reservations", order_id=order_id)) > 0
    for order_id in (waiting_for_supplier, waiting_for_payment):     # (the unpaid one may be cancelled already)
        assert e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "test done"}).status_code in (202, 409)
        e2e.wait_final(order_id, timeout=60)
    await assert_invariants(e2e, [waiting_for_supplier, stalled, waiting_for_payment], [on_shelf, scarce])
