"""Invariants asserted after every saga scenario, straight from each department's own database:
the cross-department checks of services/cli/invariants.py (stock conserved, money balanced and paid
when completed, no credit, reservation or booking left by a final order, the saga's view of
shipments, invoices and payments equal to each department's, no effect twice), for the scenario's
orders and SKUs.

And the settlement checks of this module: the margin's net revenue (sales) is what finance booked
(invoices less credit notes, net of tax); returns after delivery (RMA) never exceed what was
delivered, what the warehouse received is restocked or scrapped unit for unit through the ledger,
and a completed return's credit notes and refunds are the amounts the order shows, once per RMA.

Departments settle a moment after sales: a completion's credit release, for instance, is answered
after the order is already `completed`. So the checks are re-read until they hold (a condition,
not a sleep) and fail with every problem still found after `SETTLE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

from services.cli import invariants
from tests.e2e.conftest import E2E

SETTLE_SECONDS = 20.0


async def _settled(e2e: E2E, order_ids: list[str] | None, skus: list[str] | None) -> invariants.Report:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        report = invariants.check(await invariants.collect(e2e.settings, order_ids, skus))
        if report.ok or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.3)


def _assert_ok(report: invariants.Report) -> None:
    assert report.ok, "invariants do not hold:\n  " + "\n  ".join(report.failures + report.doubled)


async def assert_stock_conserved(e2e: E2E, skus: list[str]) -> None:
    _assert_ok(await _settled(e2e, [], skus))


async def assert_consistent(e2e: E2E, order_id: str) -> dict:
    report = await _settled(e2e, [order_id], [])
    assert report.checked_orders == 1, f"sales does not know order {order_id}"
    _assert_ok(report)
    order = e2e.order(order_id)
    await _assert_settlement(e2e, order)
    return order


async def assert_invariants(e2e: E2E, order_ids: list[str], skus: list[str]) -> None:
    report = await _settled(e2e, order_ids, skus)
    assert report.checked_orders == len(set(order_ids)), f"sales knows {report.checked_orders} of {order_ids}"
    _assert_ok(report)
    for order_id in order_ids:
        await _assert_settlement(e2e, e2e.order(order_id))


async def _assert_settlement(e2e: E2E, order: dict) -> None:
    await assert_returns(e2e, order)
    if order["status"] in ("completed", "rejected", "cancelled"):
        await assert_revenue_agrees(e2e, order)


async def assert_revenue_agrees(e2e: E2E, order: dict) -> None:
    """The order's margin counts the net revenue finance booked: invoices (not dunning charges) less
    credit notes, net of tax, in the order's currency."""
    invoiced = (await e2e.rows("finance", "SELECT COALESCE(sum(net), 0) s FROM invoices WHERE order_id = $1"
                                          " AND kind <> 'charge'", order["order_id"]))[0]["s"]
    credited = (await e2e.rows("finance", "SELECT COALESCE(sum(c.net), 0) s FROM credit_notes c JOIN invoices i"
                                          " USING (invoice_number) WHERE c.order_id = $1 AND i.kind <> 'charge'",
                               order["order_id"]))[0]["s"]
    booked = Decimal(str(order["margin"]["net_revenue_order_currency"]))
    assert booked == invoiced - credited, (order["order_id"], booked, invoiced, credited)


async def assert_returns(e2e: E2E, order: dict) -> None:
    order_id, cases = order["order_id"], order.get("returns") or []
    if not cases:
        return
    delivered: dict[str, int] = {}
    for s in await e2e.rows("logistics", "SELECT lines FROM shipments WHERE order_id = $1 AND status = 'delivered'",
                            order_id):
        for sku, quantity in json.loads(s["lines"]).items():
            delivered[sku] = delivered.get(sku, 0) + int(quantity)
    asked: dict[str, int] = {}
    for case in cases:
        if case["status"] != "rejected":
            for line in case["lines"]:
                asked[line["sku"]] = asked.get(line["sku"], 0) + line["quantity"]
    assert all(q <= delivered.get(sku, 0) for sku, q in asked.items()), (order_id, asked, delivered)
    for case in cases:
        rma = case["rma"]
        [row] = await e2e.rows("warehouse", "SELECT * FROM customer_returns WHERE rma = $1", rma) or [None]
        if case["status"] in ("received", "inspected", "completed"):
            assert row is not None and row["status"] in ("received", "inspected"), (rma, row)
        if case["status"] not in ("inspected", "completed"):
            continue
        received = {l["sku"]: l["quantity"] for l in json.loads(row["received"])}
        restocked = {l["sku"]: l["quantity"] for l in json.loads(row["restocked"])}
        scrapped = {l["sku"]: l["quantity"] for l in json.loads(row["scrapped"])}
        assert all(restocked.get(s, 0) + scrapped.get(s, 0) == q for s, q in received.items()), (rma, row)
        moves = await e2e.rows("warehouse", "SELECT sku, kind, sum(delta_on_hand) q FROM stock_movements"
                                            " WHERE reason IN ($1, $2) GROUP BY sku, kind",
                               f"returned {rma}", f"scrapped {rma}")
        ledger = {(m["sku"], m["kind"]): m["q"] for m in moves}
        for sku, q in received.items():
            assert ledger.get((sku, "returned"), 0) == q and ledger.get((sku, "scrapped"), 0) == -scrapped.get(sku, 0), \
                (rma, ledger)
        if case["status"] != "completed":
            continue
        credited = (await e2e.rows("finance", "SELECT COALESCE(sum(amount), 0) s, count(*) n FROM credit_notes"
                                              " WHERE rma = $1", rma))[0]
        refunded = (await e2e.rows("finance", "SELECT COALESCE(sum(amount), 0) s FROM refunds WHERE rma = $1", rma))[0]
        settlements = await e2e.rows("finance", "SELECT * FROM return_settlements WHERE rma = $1", rma)
        assert len(settlements) == 1, (rma, settlements)
        assert credited["s"] == Decimal(str(case["credited"])) == settlements[0]["credited"], (rma, credited, case)
        assert refunded["s"] == Decimal(str(case["refunded"])) <= credited["s"], (rma, refunded, case)

