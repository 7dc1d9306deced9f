"""Issue 10: finance's credit hold is released on every path to cancelled or completed, whatever
happens while the credit check is in flight. Finance is stopped so that the check stays in flight
for as long as the test needs; the orders' other departments run as usual."""

from __future__ import annotations

from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_invariants


async def holds(e2e: E2E, order_id: str) -> list[str]:
    return [r["status"] for r in await e2e.rows("finance", "SELECT status FROM credit_holds WHERE order_id = $1",
                                                order_id)]


async def test_prepaid_orders_cancelled_during_their_credit_check_release_the_hold(e2e: E2E) -> None:
    assert e2e.stack.stop("finance")
    try:
        by_customer = e2e.place(order_type="prepaid_at_order", payment_method="card")
        by_deadline = e2e.place(order_type="prepaid_before_shipment", payment_method="bank_transfer")
        for placed in (by_customer, by_deadline):        # past the intake review, the check stays in flight
            e2e.wait_for(f"{placed['order_number']} in its credit check",
                         lambda: e2e.order(placed["order_id"])["status"] == "credit_check")
        answer = e2e.post("sales", f"/orders/{by_customer['order_id']}/cancel", {"reason": "changed my mind"})
        assert answer.status_code == 202, answer.text
        assert e2e.order(by_customer["order_id"])["status"] == "credit_check"     # waits for the check
        # The other one runs into its payment deadline (15 s in this suite) with the check unanswered.
        e2e.wait_for("the deadline to cancel the unanswered order",
                     lambda: e2e.order(by_deadline["order_id"])["status"] == "cancelling", timeout=60)
    finally:
        e2e.stack.start("finance")
        e2e.stack.wait_ready(("finance",))
    for placed in (by_customer, by_deadline):
        final = e2e.wait_final(placed["order_id"], timeout=90)
        assert final["status"] == "cancelled", final["status_reason"]
        assert await holds(e2e, placed["order_id"]) == ["released"]
    await assert_invariants(e2e, [by_customer["order_id"], by_deadline["order_id"]], ["SKU-BOLT-M8"])


async def test_a_completed_sample_releases_its_hold(e2e: E2E) -> None:
    placed = e2e.place(order_type="sample", lines=[("SKU-BOLT-M8", 1)])
    e2e.wait_for("the sample to await approval", lambda: e2e.order(placed["order_id"])["status"] == "awaiting_approval")
    approved = e2e.post("sales", f"/orders/{placed['order_id']}/approve", headers=e2e.as_user("maria"))
    assert approved.status_code == 202, approved.text
    assert e2e.wait_final(placed["order_id"], timeout=90)["status"] == "completed"
    await assert_invariants(e2e, [placed["order_id"]], ["SKU-BOLT-M8"])   # waits until no credit is held
    assert await holds(e2e, placed["order_id"]) == ["released"]
