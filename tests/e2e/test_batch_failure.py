"""A batch in which one handler fails: the batch's transaction is rolled back and applied again
record by record (a savepoint each), so the failing record is dead-lettered and the records around
it take effect exactly once - none lost with the rollback, none doubled by the second pass."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaProducer

from contracts import integrations, procurement
from contracts.envelope import Envelope, kafka_headers
from contracts.topics import dlq_topic
from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_stock_conserved
from tests.e2e.masterdata import new_product


async def _until(what: str, probe, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return value


async def test_a_failing_handler_mid_batch_dead_letters_only_its_record(e2e: E2E) -> None:
    # Two purchase orders at a supplier that confirms at once but delivers only much later.
    sku = await new_product(e2e, stock=0, suppliers=["SUP-T-SLOW"])
    for _ in range(2):
        ref = str(uuid.uuid4())
        await e2e.publish(procurement.PurchaseShortfall(sku=sku, quantity=5), correlation_id=ref, producer="sales")
    orders = await _until("two confirmed purchase orders", lambda: e2e.rows(
        "procurement", "SELECT purchase_order_id FROM purchase_orders WHERE sku = $1 AND status = 'confirmed'"
                       " ORDER BY purchase_order_id", sku))
    assert len(orders) == 2
    first, second = (r["purchase_order_id"] for r in orders)

    # Delivery of the first, a delivery for a purchase order nobody knows (the handler raises
    # Unprocessable), delivery of the second: one record batch on one partition, so one consumer batch.
    unknown = f"PO-UNKNOWN-{uuid.uuid4().hex[:8]}"
    envelopes = [Envelope.wrap(integrations.SupplierGoodsDelivered(purchase_order_id=po, supplier_id="SUP-T-SLOW",
                                                                   sku=sku, quantity=5),
                               correlation_id=po, producer="supplier") for po in (first, unknown, second)]
    producer = AIOKafkaProducer(bootstrap_servers=e2e.settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        batch = producer.create_batch()
        for envelope in envelopes:
            body = envelope.model_dump(mode="json")
            assert batch.append(key=b"batch-failure", value=json.dumps(body).encode(), timestamp=None,
                                headers=[(k, v.encode()) for k, v in kafka_headers(body).items()]) is not None
        batch.close()
        await (await producer.send_batch(batch, e2e.topic(integrations.SUPPLIER_EVENTS), partition=0))
    finally:
        await producer.stop()

    letters = await e2e.read_topic(dlq_topic("procurement"), until=lambda recs: any(
        r["value"] and unknown in r["value"].get("reason", "") for r in recs))
    letter = [r["value"] for r in letters if r["value"] and unknown in r["value"].get("reason", "")]
    assert len(letter) == 1 and "unprocessable supplier.goods_delivered" in letter[0]["reason"]

    delivered = await _until("both deliveries applied", lambda: e2e.rows(
        "procurement", "SELECT purchase_order_id, delivered_quantity FROM purchase_orders"
                       " WHERE purchase_order_id = ANY($1) AND delivered_quantity IS NOT NULL", [first, second]))
    assert sorted((r["purchase_order_id"], r["delivered_quantity"]) for r in delivered) == [(first, 5), (second, 5)]
    inbox = await e2e.rows("procurement", "SELECT message_key, outcome FROM inbox WHERE message_key = ANY($1)",
                           [str(e.message_id) for e in envelopes])
    assert sorted((r["message_key"], r["outcome"]) for r in inbox) == sorted(
        [(str(envelopes[0].message_id), "handled"), (str(envelopes[1].message_id), "dead_lettered"),
         (str(envelopes[2].message_id), "handled")])
    # Each delivery reached the warehouse once: 10 on the shelf, two receipts.
    stock = await _until("goods received", lambda: e2e.rows(
        "warehouse", "SELECT on_hand FROM stock WHERE sku = $1 AND on_hand = 10", sku))
    assert stock[0]["on_hand"] == 10
    receipts = await e2e.rows("warehouse", "SELECT count(*) n FROM stock_movements WHERE sku = $1 AND delta_on_hand > 0"
                                           " AND reason <> 'opening balance'", sku)
    assert receipts[0]["n"] == 2
    await assert_stock_conserved(e2e, [sku])
