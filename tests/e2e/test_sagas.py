"""Sagas and compensation on the real stack: shortages and procurement, order types' control
points, changes and cancellation. Each scenario uses its own SKUs (masterdata.new_product) and
ends by asserting the invariants (invariants.py)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from contracts import integrations
from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_invariants, assert_stock_conserved
from tests.e2e.masterdata import new_product


def events(order: dict, type_: str) -> list[dict]:
    return [e["detail"] for e in order["timeline"] if e["type"] == type_ and e["kind"] == "event"]


def commands(order: dict, type_: str) -> list[dict]:
    return [e["detail"] for e in order["timeline"] if e["type"] == type_ and e["kind"] == "command"]


def wait_status(e2e: E2E, order_id: str, *statuses: str, timeout: float = 60) -> dict:
    return e2e.wait_for(f"{order_id} in {statuses}",
                        lambda: (o := e2e.order(order_id))["status"] in statuses and o, timeout=timeout)


async def stock_row(e2e: E2E, sku: str) -> dict:
    return dict((await e2e.rows("warehouse", "SELECT * FROM stock WHERE sku = $1", sku))[0])


async def pay(e2e: E2E, order_id: str, amount: Decimal | None = None, ref: str = "TEST") -> None:
    """Act as the payment provider: settle (part of) the order's open invoice."""
    invoice = e2e.wait_for("an invoice", lambda: e2e.get("finance", "/invoices", order_id=order_id))[0]
    await e2e.publish(integrations.PaymentSettled(
        payment_ref=f"{ref}-{order_id[:8]}", invoice_number=invoice["invoice_number"], order_id=order_id,
        amount=amount if amount is not None else Decimal(str(invoice["amount"])),
        settled_at=dt.datetime.now(dt.timezone.utc)), correlation_id=order_id, producer="payments")


# --- shortages and procurement ----------------------------------------------------------------

async def test_shortage_primary_rejects_backup_delivers_one_shipment(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=4, price="20.00", suppliers=["SUP-T-REJECT", "SUP-T-OK"])
    order_id = e2e.place("CUST-ACME", [(sku, 10)], fulfilment_policy="ship_complete")["order_id"]
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "completed", order["status_reason"]
    placed = events(order, "procurement.purchase_order_placed")
    assert [(p["supplier_id"], p["quantity"]) for p in placed] == [("SUP-T-REJECT", 6), ("SUP-T-OK", 6)]
    abandoned = events(order, "procurement.purchase_order_abandoned")
    assert [a["supplier_id"] for a in abandoned] == ["SUP-T-REJECT"]
    dispatched = events(order, "warehouse.order_dispatched")
    assert [[(l["sku"], l["quantity"]) for l in d["lines"]] for d in dispatched] == [[(sku, 10)]]
    invoices = e2e.get("finance", "/invoices", order_id=order_id)
    assert [Decimal(str(i["net"])) for i in invoices] == [Decimal("200.00")]          # + 19 % VAT (DE)
    await assert_invariants(e2e, [order_id], [sku])


async def test_shortage_ship_partial_two_shipments_two_invoices(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=4, price="20.00", suppliers=["SUP-T-REJECT", "SUP-T-OK"])
    order_id = e2e.place("CUST-ACME", [(sku, 10)], fulfilment_policy="ship_partial")["order_id"]
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "completed", order["status_reason"]
    dispatched = events(order, "warehouse.order_dispatched")
    assert [[(l["sku"], l["quantity"]) for l in d["lines"]] for d in dispatched] == [[(sku, 4)], [(sku, 6)]]
    invoices = e2e.get("finance", "/invoices", order_id=order_id)
    assert sorted(Decimal(str(i["net"])) for i in invoices) == [Decimal("80.00"), Decimal("120.00")]
    assert len({i["shipment_ref"] for i in invoices}) == 2
    # Two waves, each picked on its own. `backordered` shows between them only when the first wave
    # has settled before the backup supplier's goods arrive, which is a race here: not asserted.
    assert [e["type"] for e in order["timeline"] if e["kind"] == "status"].count("picking") == 2
    await assert_invariants(e2e, [order_id], [sku])


async def test_silent_primary_times_out_to_backup(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=0, suppliers=["SUP-T-SILENT", "SUP-T-OK"])
    order_id = e2e.place("CUST-ACME", [(sku, 3)])["order_id"]
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "completed", order["status_reason"]
    abandoned = events(order, "procurement.purchase_order_abandoned")
    assert [a["supplier_id"] for a in abandoned] == ["SUP-T-SILENT"]
    assert "no confirmation" in abandoned[0]["reason"]
    assert [p["supplier_id"] for p in events(order, "procurement.purchase_order_placed")] == \
        ["SUP-T-SILENT", "SUP-T-OK"]
    await assert_invariants(e2e, [order_id], [sku])


async def test_no_supplier_at_all_cancels_with_full_compensation(e2e: E2E) -> None:
    # (A supplier promising too late asks a person instead: tests/e2e/test_review_and_risk.py.)
    sku = await new_product(e2e, stock=2, suppliers=["SUP-T-REJECT"])
    order_id = e2e.place("CUST-ACME", [(sku, 5)])["order_id"]
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "cancelled"
    assert "cannot be fulfilled" in order["status_reason"]
    assert events(order, "procurement.purchase_failed")
    assert (await stock_row(e2e, sku))["reserved"] == 0               # the 2 reserved are back
    await assert_invariants(e2e, [order_id], [sku])


async def test_reorder_point_replenishes_on_its_own(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=6, suppliers=["SUP-T-OK"], reorder_point=5, reorder_quantity=20)
    order_id = e2e.place("CUST-ACME", [(sku, 3)])["order_id"]
    assert e2e.wait_final(order_id)["status"] == "completed"
    low = await e2e.read_topic("warehouse.events.v1", until=lambda recs: any(
        isinstance(r["value"], dict) and r["value"]["type"] == "warehouse.stock_low"
        and r["value"]["payload"]["sku"] == sku for r in recs))
    assert any(r["value"]["payload"]["sku"] == sku for r in low if r["value"]["type"] == "warehouse.stock_low")
    replenished = e2e.wait_for("replenishment received", lambda: [
        p for p in e2e.get("procurement", "/purchase-orders") if p["sku"] == sku and p["order_id"] is None])
    assert replenished[0]["quantity"] == 20
    e2e.wait_for("stock back above the reorder point", lambda: e2e.get("warehouse", f"/stock/{sku}")["on_hand"] == 23)
    await assert_invariants(e2e, [order_id], [sku])


async def test_fifty_concurrent_orders_never_oversell(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=20, suppliers=["SUP-T-REJECT"])
    with ThreadPoolExecutor(max_workers=10) as pool:
        placed = list(pool.map(lambda _: e2e.place("CUST-NORD", [(sku, 1)])["order_id"], range(50)))
    finals = [e2e.wait_final(order_id, timeout=120) for order_id in placed]

    statuses = sorted(o["status"] for o in finals)
    assert statuses.count("completed") == 20 and statuses.count("cancelled") == 30, statuses
    stock = await stock_row(e2e, sku)
    assert stock["on_hand"] == 0 and stock["reserved"] == 0
    await assert_invariants(e2e, placed, [sku])


# --- order types' control points --------------------------------------------------------------

async def test_prepaid_before_shipment_waits_for_payment_then_dispatches(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10)
    order_id = e2e.place("CUST-SLOW", [(sku, 2)], order_type="prepaid_before_shipment")["order_id"]
    held = wait_status(e2e, order_id, "awaiting_payment")
    assert events(held, "warehouse.order_packed") and events(held, "warehouse.dispatch_refused")
    assert e2e.get("warehouse", "/dispatches", order_id=order_id) == []

    await pay(e2e, order_id)
    order = e2e.wait_final(order_id)
    assert order["status"] == "completed", order["status_reason"]
    assert len(e2e.get("warehouse", "/dispatches", order_id=order_id)) == 1
    await assert_invariants(e2e, [order_id], [sku])


async def test_prepaid_before_shipment_unpaid_is_cancelled_and_stock_returns(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10)
    order_id = e2e.place("CUST-SLOW", [(sku, 3)], order_type="prepaid_before_shipment")["order_id"]
    wait_status(e2e, order_id, "awaiting_payment")
    assert (await stock_row(e2e, sku))["reserved"] == 3
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "cancelled" and "unpaid" in order["status_reason"]
    stock = await stock_row(e2e, sku)
    assert (stock["on_hand"], stock["reserved"]) == (10, 0)          # back on the shelf
    assert e2e.get("warehouse", "/dispatches", order_id=order_id) == []
    await assert_invariants(e2e, [order_id], [sku])


async def test_prepaid_at_order_unpaid_never_reserves_and_is_cancelled(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10)
    order_id = e2e.place("CUST-SLOW", [(sku, 2)], order_type="prepaid_at_order")["order_id"]
    wait_status(e2e, order_id, "awaiting_payment")
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "cancelled" and "unpaid" in order["status_reason"]
    assert not commands(order, "warehouse.reserve_stock")
    assert e2e.get("warehouse", "/reservations", order_id=order_id) == []
    await assert_invariants(e2e, [order_id], [sku])


async def test_sample_needs_approval_and_is_never_billed(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10)
    order_id = e2e.place("CUST-ACME", [(sku, 1)], order_type="sample")["order_id"]
    wait_status(e2e, order_id, "awaiting_approval")
    refused = e2e.post("sales", f"/orders/{order_id}/approve",
                       headers=e2e.as_user("clara"))
    assert refused.status_code == 403
    approved = e2e.post("sales", f"/orders/{order_id}/approve",
                        headers=e2e.as_user("maria"))
    assert approved.status_code == 202, approved.text
    order = e2e.wait_final(order_id)
    assert order["status"] == "completed" and order["total"] == "0.00"
    assert e2e.get("finance", "/invoices", order_id=order_id) == []
    await assert_invariants(e2e, [order_id], [sku])


# --- changes ----------------------------------------------------------------------------------

async def test_changes_cut_releases_the_difference_increase_buys_only_the_extra(e2e: E2E) -> None:
    on_shelf = await new_product(e2e, stock=20)
    scarce = await new_product(e2e, stock=0, suppliers=["SUP-T-SLOW"])
    order_id = e2e.place("CUST-ACME", [(on_shelf, 10), (scarce, 2)])["order_id"]
    wait_status(e2e, order_id, "awaiting_stock")
    assert (await stock_row(e2e, on_shelf))["reserved"] == 10

    cut = e2e.post("sales", f"/orders/{order_id}/changes", {"lines": [{"sku": on_shelf, "quantity": 6}]})
    assert cut.status_code == 202, cut.text
    order = e2e.wait_for("revision 2", lambda: (o := e2e.order(order_id))["revision"] == 2 and o)
    e2e.wait_for("the cut released", lambda: e2e.get("warehouse", f"/stock/{on_shelf}")["reserved"] == 6)
    released = await e2e.rows("warehouse", "SELECT delta_reserved FROM stock_movements WHERE sku = $1 AND"
                                           " order_id = $2 AND delta_reserved < 0", on_shelf, order_id)
    assert [r["delta_reserved"] for r in released] == [-4]           # exactly the difference

    wait_status(e2e, order_id, "awaiting_stock")
    more = e2e.post("sales", f"/orders/{order_id}/changes", {"lines": [{"sku": scarce, "quantity": 5}]})
    assert more.status_code == 202, more.text
    order = e2e.wait_for("the extra bought", lambda: len(
        commands(o := e2e.order(order_id), "procurement.purchase_shortfall")) == 2 and o)
    assert [(c["sku"], c["quantity"]) for c in commands(order, "procurement.purchase_shortfall")] == \
        [(scarce, 2), (scarce, 3)]
    assert order["revision"] == 3

    assert e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "test done"}).status_code == 202
    order = e2e.wait_final(order_id, timeout=60)
    assert order["status"] == "cancelled"
    await assert_invariants(e2e, [order_id], [on_shelf, scarce])


async def test_change_while_step_in_flight_or_after_final_is_refused(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10)
    order_id = e2e.place("CUST-ACME", [(sku, 1)])["order_id"]
    response = e2e.post("sales", f"/orders/{order_id}/changes", {"lines": [{"sku": sku, "quantity": 2}]})
    assert response.status_code in (202, 409)
    if response.status_code == 409:
        assert "in flight" in response.json()["detail"]
    e2e.wait_final(order_id)
    late = e2e.post("sales", f"/orders/{order_id}/changes", {"lines": [{"sku": sku, "quantity": 5}]})
    assert late.status_code == 409 and "completed" in late.json()["detail"]
    await assert_invariants(e2e, [order_id], [sku])


async def test_address_change_after_dispatch_is_refused_with_the_reason(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10)
    order_id = e2e.place("CUST-SLOW", [(sku, 1)])["order_id"]              # never pays: stays shipped
    e2e.wait_for("delivered", lambda: events(o := wait_status(e2e, order_id, "shipped"),
                                             "logistics.shipment_delivered") and o)
    new_address = {"name": "Slow Payer Corp", "street": "Neue Str. 9", "city": "Hamburg",
                   "postal_code": "20095", "country": "DE"}
    response = e2e.post("sales", f"/orders/{order_id}/changes", {"delivery_address": new_address})
    assert response.status_code == 202, response.text
    order = e2e.wait_for("the refusal", lambda: events(o := e2e.order(order_id), "sales.order_change_refused") and o)
    reasons = events(order, "sales.order_change_refused")[0]["reasons"]
    assert any(r.startswith("logistics:") and "dispatched" in r for r in reasons), reasons
    assert order["delivery_address"]["city"] != "Hamburg" and order["revision"] == 1
    await assert_invariants(e2e, [order_id], [sku])


# --- cancellation -----------------------------------------------------------------------------

async def test_cancel_after_invoice_and_payment_compensates_everything(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10, price="30.00")
    order_id = e2e.place("CUST-SLOW", [(sku, 2)], order_type="prepaid_before_shipment")["order_id"]
    wait_status(e2e, order_id, "awaiting_payment")
    await pay(e2e, order_id, amount=Decimal("10.00"), ref="DEPOSIT")          # a deposit, not the full price
    e2e.wait_for("sales to learn of the deposit",
                 lambda: events(e2e.order(order_id), "finance.payment_received"))

    response = e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "customer changed their mind"})
    assert response.status_code == 202, response.text
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "cancelled"
    done = [c["type"] for c in order["compensations"] if c["done"]]
    assert done == ["finance.refund_payments", "finance.credit_invoices", "logistics.cancel_shipment",
                    "warehouse.release_reservation", "finance.release_credit"]
    refunds = e2e.wait_for("the refund settled", lambda: [
        r for r in e2e.get("finance", "/refunds", order_id=order_id) if r.get("status") == "settled"])
    assert [Decimal(str(r["amount"])) for r in refunds] == [Decimal("10.00")]
    assert [s["status"] for s in e2e.get("logistics", "/shipments", order_id=order_id)] == ["cancelled"]
    assert (await stock_row(e2e, sku))["reserved"] == 0
    assert e2e.get("finance", "/credit-notes", order_id=order_id)
    await assert_invariants(e2e, [order_id], [sku])
    await assert_stock_conserved(e2e, [sku])


async def test_unanswered_compensation_is_retried_parked_with_an_alert_then_finished(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10)
    order_id = e2e.place("CUST-SLOW", [(sku, 1)], order_type="prepaid_before_shipment")["order_id"]
    wait_status(e2e, order_id, "awaiting_payment")
    e2e.stack.stop("warehouse")                       # the release of the reservation cannot be answered
    try:
        assert e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "test"}).status_code == 202
        def parked_order() -> dict | None:
            order = e2e.order(order_id)
            return order if any(c["parked"] for c in order["compensations"]) else None

        order = e2e.wait_for("the parked compensation", parked_order, timeout=30)
        parked = [c for c in order["compensations"] if c["parked"]]
        assert [(c["type"], c["attempts"]) for c in parked] == [("warehouse.release_reservation", 3)]
        assert order["status"] == "cancelling"
        assert events(order, "sales.saga_alert")
        assert order_id in {a["order_id"] for a in e2e.get("sales", "/alerts")}
        retried = e2e.post("sales", f"/orders/{order_id}/compensations/retry", headers=e2e.as_user("oscar"))
        assert retried.status_code == 202, retried.text              # an operator retries; the timeline names them
        retries = [e["detail"] for e in e2e.order(order_id)["timeline"] if e["type"] == "compensation_retry"]
        assert [(r["user"], r["role"]) for r in retries] == [("oscar", "operator")]
    finally:
        e2e.stack.start("warehouse")
        e2e.stack.wait_ready(("warehouse",))
    # The warehouse catches up with the commands it missed; their late answer finishes the order.
    order = e2e.wait_final(order_id, timeout=60)
    assert order["status"] == "cancelled"
    assert (await stock_row(e2e, sku))["reserved"] == 0
    await assert_invariants(e2e, [order_id], [sku])


async def test_a_reservation_whose_saga_stopped_moving_expires_and_the_order_is_cancelled(e2e: E2E) -> None:
    on_shelf = await new_product(e2e, stock=10)
    scarce = await new_product(e2e, stock=0, suppliers=["SUP-T-SLOW"])
    order_id = e2e.place("CUST-ACME", [(on_shelf, 3), (scarce, 1)])["order_id"]
    wait_status(e2e, order_id, "awaiting_stock")
    e2e.wait_for("the warehouse to hold it for the supplier's promise", lambda: all(
        r["hold_until"] for r in e2e.get("warehouse", "/reservations", order_id=order_id)))
    # Time passes: nothing has touched the reservation for longer than the TTL (2 days by default),
    # and the supplier's promised date (how long it legitimately waits) is long gone.
    conn = await e2e.db("warehouse")
    try:
        await conn.execute("UPDATE reservations SET updated_at = now() - interval '3 days',"
                           " hold_until = now() - interval '3 days' WHERE order_id = $1", order_id)
    finally:
        await conn.close()
    order = e2e.wait_final(order_id, timeout=30)
    assert order["status"] == "cancelled" and "expired" in order["status_reason"]
    assert events(order, "warehouse.reservation_expired")
    assert (await stock_row(e2e, on_shelf))["reserved"] == 0
    await assert_invariants(e2e, [order_id], [on_shelf, scarce])


async def test_cancel_while_in_transit_recalls_and_restocks_then_credits_and_refunds(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=10, price="40.00")
    warsaw = {"name": "Acme Polska", "street": "ul. Prosta 1", "city": "Warsaw", "postal_code": "00-001",
              "country": "PL"}                                   # the carrier simulator delivers slowly here
    order_id = e2e.place("CUST-ACME", [(sku, 3)], delivery_address=warsaw)["order_id"]
    e2e.wait_for("invoiced and paid, goods in transit", lambda: (
        (o := e2e.order(order_id))["status"] == "shipped" and events(o, "finance.payment_received")
        and not events(o, "logistics.shipment_delivered") and o), timeout=30)

    response = e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "customer changed their mind"})
    assert response.status_code == 202, response.text
    order = e2e.wait_final(order_id, timeout=60)

    assert order["status"] == "cancelled", order["status_reason"]
    done = [c["type"] for c in order["compensations"] if c["done"]]
    assert done[0] == "logistics.recall_shipments"
    assert {"finance.refund_payments", "finance.credit_invoices"} <= set(done)
    assert events(order, "logistics.shipment_returned")
    assert [s["status"] for s in e2e.get("logistics", "/shipments", order_id=order_id)] == ["returned"]
    stock = e2e.wait_for("the goods restocked", lambda: (s := e2e.get("warehouse", f"/stock/{sku}"))["on_hand"] == 10 and s)
    assert stock["reserved"] == 0
    e2e.wait_for("the refund settled", lambda: e2e.get("finance", f"/orders/{order_id}/balance")["ok"])
    await assert_invariants(e2e, [order_id], [sku])
