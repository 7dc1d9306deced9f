"""One order is one trace: from `POST /orders` (whose incoming traceparent is continued) to
`completed`, with spans in every department and every simulator, collected from each process's
span file (ORDERFLOW_TRACE_DIR, set by the harness). An order placed on Kafka with a traceparent
header is continued too."""

from __future__ import annotations

import asyncio
import json
import secrets

from contracts import sales
from contracts.envelope import Envelope, kafka_headers
from contracts.sales import OrderLineRequest
from tests.e2e.conftest import E2E
from tests.e2e.masterdata import new_product

EVERYONE = {"sales", "procurement", "warehouse", "logistics", "finance", "carrier", "payments", "supplier"}


def _spans(e2e: E2E, trace_id: str) -> list[dict]:
    spans = []
    for path in (e2e.stack.run_dir / "traces").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                span = json.loads(line)
                if span["trace_id"] == trace_id:
                    spans.append(span)
    return spans


def _trace_ids_on(records: list[dict], order_id: str) -> set[str]:
    return {r["value"]["trace"]["traceparent"].split("-")[1] for r in records
            if isinstance(r["value"], dict) and r["value"].get("correlation_id") == order_id
            and r["value"].get("trace")}


async def test_one_order_is_one_trace_across_every_department_and_simulator(e2e: E2E) -> None:
    # A shortage (stock 1, 3 ordered) so that procurement and the supplier take part as well.
    sku = await new_product(e2e, stock=1, suppliers=["SUP-T-OK"])
    trace_id = secrets.token_hex(16)
    response = e2e.http.post(f"{e2e.stack.url('sales')}/orders",
                             headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
                             json={"customer_id": "CUST-ACME", "order_type": "standard",
                                   "lines": [{"sku": sku, "quantity": 3}]})
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    assert e2e.wait_final(order_id, timeout=90)["status"] == "completed"

    # Every message about the order, on every topic, carries the caller's trace id.
    def is_completed(r: dict) -> bool:
        return (isinstance(r["value"], dict) and r["value"].get("correlation_id") == order_id
                and r["value"]["payload"].get("status") == "completed")

    events = await e2e.read_topic("sales.events.v1", until=lambda recs: any(map(is_completed, recs)))
    completed = next(r["value"] for r in events if is_completed(r))
    assert completed["trace"]["traceparent"].split("-")[1] == trace_id
    for topic in ("finance.events.v1", "warehouse.events.v1", "logistics.events.v1", "procurement.events.v1",
                  "carrier.events.v1", "payments.events.v1", "supplier.events.v1"):
        seen = _trace_ids_on(await e2e.read_topic(topic), order_id)
        assert seen == {trace_id}, (topic, seen)

    # The spans: one trace, a span in every department and simulator (flushed within a second or two).
    def everyone_reported() -> list[dict] | None:
        spans = _spans(e2e, trace_id)
        return spans if EVERYONE <= {s["service"] for s in spans} else None

    spans = e2e.wait_for("spans from every department and simulator", everyone_reported, timeout=30, interval=0.5)
    kinds = {(s["service"], s["kind"]) for s in spans}
    assert ("sales", "SERVER") in kinds                                    # POST /orders
    for dept in ("sales", "procurement", "warehouse", "logistics", "finance"):
        assert (dept, "CONSUMER") in kinds and (dept, "CLIENT") in kinds, dept   # records handled, SQL run
    for producer in ("sales", "finance", "warehouse", "logistics", "procurement", "carrier", "payments", "supplier"):
        assert (producer, "PRODUCER") in kinds, producer
    # Parentage holds: every span but the first's parent (the caller's) is in the trace.
    ids = {s["span_id"] for s in spans}
    orphans = [s for s in spans if s["parent_id"] not in ids]
    assert {s["name"] for s in orphans} <= {"POST /orders"}, [(s["service"], s["name"]) for s in orphans][:10]
    server = next(s for s in spans if s["kind"] == "SERVER" and s["service"] == "sales")
    assert server["name"] == "POST /orders"


async def test_an_order_placed_on_kafka_continues_the_senders_trace(e2e: E2E) -> None:
    ref = f"{e2e.run_id}-traced"
    trace_id = secrets.token_hex(16)
    envelope = Envelope.wrap(sales.PlaceOrder(channel="edi", external_ref=ref, customer_id="CUST-NORD",
                                              lines=[OrderLineRequest(sku="SKU-GEAR-40", quantity=1)]),
                             correlation_id=ref, producer="integration")
    body = envelope.model_dump(mode="json")
    headers = {**kafka_headers(body), "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    await e2e.publish_raw("sales.commands.v1", json.dumps(body).encode(), key=ref.encode(),
                          headers=[(k, v.encode()) for k, v in headers.items()], principal="integration")
    order_id = None
    for _ in range(150):
        found = await e2e.rows("sales", "SELECT order_id FROM orders WHERE channel = 'edi' AND external_ref = $1", ref)
        if found:
            order_id = str(found[0]["order_id"])
            break
        await asyncio.sleep(0.2)
    assert order_id, "the order was not placed"
    assert e2e.wait_final(order_id)["status"] == "completed"
    commands = await e2e.read_topic("finance.commands.v1", until=lambda recs: any(
        r["value"] and r["value"].get("correlation_id") == order_id for r in recs))
    assert _trace_ids_on(commands, order_id) == {trace_id}
