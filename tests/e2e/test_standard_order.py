"""A standard order end to end, and the credit rejection path, on the real stack."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import E2E
from services.cli.stack import SERVICES


def test_every_service_is_ready(e2e: E2E) -> None:
    for name in SERVICES:
        response = httpx.get(f"{e2e.stack.url(name)}/health/ready", timeout=5)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["database"] == "ok" and response.json()["broker"] == "ok"
        assert httpx.get(f"{e2e.stack.url(name)}/health/live").status_code == 200
        metrics = httpx.get(f"{e2e.stack.url(name)}/metrics").text
        assert "orderflow_outbox_pending" in metrics


async def test_standard_order_completes_in_every_department(e2e: E2E) -> None:
    stock_before = {r["sku"]: r for r in await e2e.rows("warehouse", "SELECT * FROM stock")}
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 10), ("SKU-GEAR-40", 2)])
    order = e2e.wait_final(placed["order_id"])
    order_id = placed["order_id"]

    assert order["status"] == "completed", order
    assert order["order_number"].startswith("SO-")
    listed = e2e.http.get(f"{e2e.stack.url('sales')}/orders", params={"status": "completed"}).json()
    assert order_id in {o["order_id"] for o in listed}

    # The timeline shows every step in every department, in causal order.
    types = [entry["type"] for entry in order["timeline"] if entry["kind"] == "event"]
    for expected in ("finance.credit_approved", "warehouse.stock_reserved", "warehouse.order_packed",
                     "logistics.shipment_booked", "warehouse.order_dispatched", "finance.invoice_issued",
                     "finance.payment_received", "logistics.shipment_delivered"):
        assert expected in types, (expected, types)
    assert types.index("finance.credit_approved") < types.index("warehouse.stock_reserved") \
        < types.index("logistics.shipment_booked") < types.index("warehouse.order_dispatched") \
        < types.index("finance.invoice_issued")
    departments = {entry["department"] for entry in order["timeline"]}
    assert {"sales", "finance", "warehouse", "logistics"} <= departments

    # Each department recorded exactly one of each effect.
    reservations = await e2e.rows("warehouse", "SELECT * FROM reservations WHERE order_id = $1", order_id)
    assert sorted((r["sku"], r["quantity_shipped"], r["quantity_reserved"], r["status"]) for r in reservations) == \
        [("SKU-BOLT-M8", 10, 0, "closed"), ("SKU-GEAR-40", 2, 0, "closed")]
    stock_after = {r["sku"]: r for r in await e2e.rows("warehouse", "SELECT * FROM stock")}
    assert stock_after["SKU-BOLT-M8"]["on_hand"] <= stock_before["SKU-BOLT-M8"]["on_hand"] - 10
    shipments = await e2e.rows("logistics", "SELECT * FROM shipments WHERE order_id = $1", order_id)
    assert [(s["status"], bool(s["tracking_number"])) for s in shipments] == [("delivered", True)]
    invoices = await e2e.rows("finance", "SELECT * FROM invoices WHERE order_id = $1", order_id)
    # The order's total is net; the invoice adds German VAT (19 %, destination DE) and is paid gross.
    assert [(i["net"], i["status"], i["currency"]) for i in invoices] == [(order_total(order), "paid", "EUR")]
    assert invoices[0]["tax"] == (order_total(order) * 19 / 100).quantize(invoices[0]["tax"])
    assert invoices[0]["amount"] == invoices[0]["net"] + invoices[0]["tax"]
    payments = await e2e.rows("finance", "SELECT * FROM payments WHERE order_id = $1", order_id)
    assert len(payments) == 1 and payments[0]["amount"] == invoices[0]["amount"]


def order_total(order: dict):
    from decimal import Decimal
    return Decimal(order["total"])


async def test_order_beyond_credit_is_rejected_and_nothing_happens(e2e: E2E) -> None:
    # CUST-TINY has a 1,000.00 limit; two pumps cost 2,500.00.
    placed = e2e.place("CUST-TINY", [("SKU-PUMP-X", 2)])
    order = e2e.wait_final(placed["order_id"])
    order_id = placed["order_id"]

    assert order["status"] == "rejected"
    assert "credit limit exceeded" in order["status_reason"]
    rejection = [e for e in order["timeline"] if e["type"] == "finance.credit_rejected"]
    assert rejection and "credit limit exceeded" in rejection[0]["detail"]["reasons"][0]

    assert await e2e.rows("warehouse", "SELECT * FROM reservations WHERE order_id = $1", order_id) == []
    assert await e2e.rows("logistics", "SELECT * FROM shipments WHERE order_id = $1", order_id) == []
    assert await e2e.rows("finance", "SELECT * FROM invoices WHERE order_id = $1", order_id) == []
    assert await e2e.rows("finance", "SELECT * FROM credit_holds WHERE order_id = $1", order_id) == []


def test_invalid_order_gets_a_422_naming_each_bad_field(e2e: E2E) -> None:
    url = f"{e2e.stack.url('sales')}/orders"
    response = e2e.http.post(url, json={"customer_id": "CUST-ACME", "lines": [{"sku": "SKU-BOLT-M8", "quantity": 0}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "lines", 0, "quantity"]

    response = e2e.http.post(url, json={"customer_id": "NOBODY", "lines": [{"sku": "NOTHING", "quantity": 1}]})
    assert response.status_code == 422
    locs = [tuple(d["loc"]) for d in response.json()["detail"]]
    assert locs == [("body", "customer_id"), ("body", "lines", 0, "sku")]


def test_repeated_external_ref_returns_the_same_order(e2e: E2E) -> None:
    first = e2e.place("CUST-BOLT", [("SKU-GEAR-40", 1)], external_ref=f"{e2e.run_id}-dup")
    again = e2e.place("CUST-BOLT", [("SKU-GEAR-40", 1)], external_ref=f"{e2e.run_id}-dup")
    assert again["order_id"] == first["order_id"] and first["created"] and not again["created"]
    assert e2e.wait_final(first["order_id"])["status"] == "completed"
