"""What Prometheus scrapes from a running stack: the business and runtime gauges are there and say
what the databases say (a dead letter shows as open; orders by status; the outbox drained)."""

from __future__ import annotations

import re

import httpx

from tests.e2e.conftest import E2E


def _value(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:{{(.*)}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            return float(match.group(2))
    return None


def test_services_export_business_and_runtime_metrics(e2e: E2E) -> None:
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
    sales = httpx.get(f"{e2e.stack.url('sales')}/metrics", timeout=10).text      # public by default
    assert _value(sales, "orderflow_orders", status="completed") >= 1
    assert _value(sales, "orderflow_service_ready", service="sales") == 1
    assert _value(sales, "orderflow_outbox_pending", service="sales") is not None
    assert _value(sales, "orderflow_outbox_oldest_age_seconds", service="sales") is not None
    assert _value(sales, "orderflow_db_pool_connections", service="sales", state="max") >= 1
    assert _value(sales, "orderflow_order_completion_seconds_count", outcome="completed") >= 1
    assert _value(sales, "orderflow_compensations_parked") is not None
    assert _value(sales, "orderflow_saga_alerts_open") is not None
    assert _value(sales, "orderflow_http_requests_total", handler="/orders", method="POST") >= 1
    assert _value(sales, "orderflow_http_request_duration_seconds_count", handler="/orders", method="POST") >= 1
    assert "http_request_duration_highr_seconds" not in sales          # one latency histogram, not two
    for dept in ("finance", "warehouse", "logistics", "procurement"):
        text = httpx.get(f"{e2e.stack.url(dept)}/metrics", timeout=10).text
        open_letters = _value(text, "orderflow_dead_letters_open", service=dept)
        rows = e2e.get(dept, "/dead-letters", status="open", limit=1000)
        assert open_letters == len(rows), (dept, open_letters, len(rows))
        assert _value(text, "orderflow_consumed_total", outcome="handled") >= 1, dept
