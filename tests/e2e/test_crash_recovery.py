"""SIGKILL any one service in the middle of orders, start it again: every order still completes,
and every effect happened exactly once (one reservation per line, one shipment, one invoice, one
payment). Also: a SIGTERM'd service finishes its in-flight work and loses nothing."""

from __future__ import annotations

import time

import pytest

from services.cli.stack import SERVICES
from tests.e2e.conftest import E2E, FINAL


async def assert_exactly_once(e2e: E2E, order_id: str, lines: dict[str, int]) -> None:
    reservations = await e2e.rows("warehouse", "SELECT sku, quantity_shipped, status FROM reservations"
                                               " WHERE order_id = $1", order_id)
    assert {r["sku"]: (r["quantity_shipped"], r["status"]) for r in reservations} == \
        {sku: (qty, "closed") for sku, qty in lines.items()}
    moves = await e2e.rows("warehouse", "SELECT sku, sum(delta_on_hand) shipped, count(*) n FROM stock_movements"
                                        " WHERE order_id = $1 AND delta_on_hand < 0 GROUP BY sku", order_id)
    assert {m["sku"]: (-m["shipped"], m["n"]) for m in moves} == {sku: (qty, 1) for sku, qty in lines.items()}
    assert len(await e2e.rows("warehouse", "SELECT 1 FROM dispatches WHERE order_id = $1", order_id)) == 1
    assert len(await e2e.rows("logistics", "SELECT 1 FROM shipments WHERE order_id = $1", order_id)) == 1
    assert len(await e2e.rows("finance", "SELECT 1 FROM invoices WHERE order_id = $1", order_id)) == 1
    assert len(await e2e.rows("finance", "SELECT 1 FROM payments WHERE order_id = $1", order_id)) == 1
    assert len(await e2e.rows("finance", "SELECT 1 FROM credit_holds WHERE order_id = $1", order_id)) == 1


@pytest.mark.parametrize("victim", SERVICES)
async def test_sigkill_mid_order_still_completes_exactly_once(e2e: E2E, victim: str) -> None:
    lines = {"SKU-BOLT-M8": 2, "SKU-GEAR-40": 1}
    orders = [e2e.place("CUST-NORD", list(lines.items()))["order_id"] for _ in range(4)]
    time.sleep(0.15)                       # orders are now spread over different steps
    assert e2e.stack.stop(victim, kill=True)
    # The kill really lands mid-order: some orders are still on their way.
    statuses = await e2e.rows("sales", "SELECT status FROM orders WHERE order_id::text = ANY($1)", orders)
    assert any(r["status"] not in FINAL for r in statuses), statuses
    time.sleep(0.5)
    if victim != "sales":                  # sales is the API: the others keep taking orders meanwhile
        orders += [e2e.place("CUST-NORD", list(lines.items()))["order_id"] for _ in range(2)]
    e2e.stack.start(victim)
    e2e.stack.wait_ready((victim,))

    for order_id in orders:
        assert e2e.wait_final(order_id, timeout=90)["status"] == "completed"
        await assert_exactly_once(e2e, order_id, lines)


async def test_sigterm_finishes_in_flight_work_and_loses_nothing(e2e: E2E) -> None:
    lines = {"SKU-MOTOR-1K": 1}
    orders = [e2e.place("CUST-ACME", list(lines.items()))["order_id"] for _ in range(5)]
    assert e2e.stack.stop("warehouse")     # graceful: consumers stop after committing, relay drains
    assert "warehouse stopped" in e2e.stack.tail("warehouse", 40)
    e2e.stack.start("warehouse")
    e2e.stack.wait_ready(("warehouse",))
    for order_id in orders:
        assert e2e.wait_final(order_id, timeout=90)["status"] == "completed"
        await assert_exactly_once(e2e, order_id, lines)
