"""Orders from other systems through `sales.commands.v1`: idempotent per (channel, external_ref);
a bad one is answered on `sales.events.v1` with the reasons."""

from __future__ import annotations

import asyncio

from contracts import sales
from contracts.sales import OrderLineRequest
from tests.e2e.conftest import E2E


async def _order_id_for(e2e: E2E, ref: str, timeout: float = 20) -> str:
    for _ in range(int(timeout / 0.2)):
        rows = await e2e.rows("sales", "SELECT order_id FROM orders WHERE channel = 'edi' AND external_ref = $1", ref)
        if rows:
            return str(rows[0]["order_id"])
        await asyncio.sleep(0.2)
    raise AssertionError(f"no order for external_ref {ref}")


async def test_place_order_command_is_idempotent_and_completes(e2e: E2E) -> None:
    ref = f"{e2e.run_id}-edi-1"
    command = sales.PlaceOrder(channel="edi", external_ref=ref, customer_id="CUST-NORD",
                               lines=[OrderLineRequest(sku="SKU-GEAR-40", quantity=4)])
    await e2e.publish(command, correlation_id=ref)
    await e2e.publish(command, correlation_id=ref)     # the sender retried: a new message id, same order
    order_id = await _order_id_for(e2e, ref)
    assert e2e.wait_final(order_id)["status"] == "completed"
    rows = await e2e.rows("sales", "SELECT count(*) n FROM orders WHERE channel = 'edi' AND external_ref = $1", ref)
    assert rows[0]["n"] == 1


async def test_bad_place_order_command_is_answered_with_reasons(e2e: E2E) -> None:
    ref = f"{e2e.run_id}-edi-bad"
    await e2e.publish(sales.PlaceOrder(channel="edi", external_ref=ref, customer_id="CUST-UNKNOWN",
                                       lines=[OrderLineRequest(sku="SKU-NOPE", quantity=1)]), correlation_id=ref)
    events = await e2e.read_topic("sales.events.v1", until=lambda recs: any(
        r["value"]["type"] == "sales.order_intake_rejected" and r["value"]["correlation_id"] == ref for r in recs))
    rejection = next(r["value"]["payload"] for r in events if r["value"]["correlation_id"] == ref)
    assert any("unknown customer" in reason for reason in rejection["reasons"])
    assert any("SKU-NOPE" in reason for reason in rejection["reasons"])
