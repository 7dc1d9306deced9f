"""A batch in which one handler fails: the batch's transaction is rolled back and applied again
record by record (a savepoint each), so the failing record is dead-lettered and the records around
it take effect exactly once - none lost with the rollback, none doubled by the second pass.

It runs on a private procurement instance (own topic prefix, group and database), so that its dead
letter does not show up in the shared stack's dead-letter topics that other tests count."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer

from contracts import integrations, warehouse
from contracts.envelope import Envelope, kafka_headers
from contracts.topics import dlq_topic
from services.cli.stack import SERVICES, Stack
from services.provisioning.environment import drop_environment, provision_environment
from services.runtime.config import Settings
from tests.e2e.conftest import E2E


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def procurement_alone(e2e: E2E) -> Iterator[E2E]:
    run = f"{e2e.run_id}mb"
    env = {**e2e.stack.env, "ORDERFLOW_TOPIC_PREFIX": f"{run}.", "ORDERFLOW_GROUP_PREFIX": f"{run}.",
           "ORDERFLOW_DB_PREFIX": f"oft_{run}_"}
    settings = Settings(topic_prefix=env["ORDERFLOW_TOPIC_PREFIX"], group_prefix=env["ORDERFLOW_GROUP_PREFIX"],
                        db_prefix=env["ORDERFLOW_DB_PREFIX"])
    stack = Stack(run_dir=e2e.stack.run_dir / "procurement-alone", env=env,
                  ports={name: _free_port() for name in SERVICES})
    try:
        # Provisioned like the harness's environment: topics, users and ACLs for these prefixes,
        # procurement's role and database.
        asyncio.run(provision_environment(settings, services=("procurement",)))
        stack.start("procurement")
        stack.wait_ready(("procurement",))
        yield E2E(stack, settings, run)
    finally:
        stack.stop("procurement")
        if not os.environ.get("ORDERFLOW_KEEP_TEST_STATE"):
            asyncio.run(drop_environment(settings, services=("procurement",)))


async def _until(what: str, probe, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return value


async def test_a_failing_handler_mid_batch_dead_letters_only_its_record(procurement_alone: E2E) -> None:
    alone = procurement_alone
    sku = f"SKU-MB-{uuid.uuid4().hex[:6].upper()}"
    first, second, unknown = (f"PO-MB-{uuid.uuid4().hex[:8]}" for _ in range(3))
    conn = await alone.db("procurement")
    try:
        for po in (first, second):      # two confirmed purchase orders for stock, awaiting delivery
            await conn.execute("INSERT INTO requisitions (requisition_id, sku, quantity, quantity_asked, correlation_id)"
                               " VALUES ($1, $2, 5, 5, $1)", f"REQ-{po}", sku)
            await conn.execute("INSERT INTO purchase_orders (purchase_order_id, supplier_id, sku, quantity, unit_cost,"
                               " status, requisition_id) VALUES ($1, 'SUP-GENERAL', $2, 5, 1.00, 'confirmed', $3)",
                               po, sku, f"REQ-{po}")
    finally:
        await conn.close()

    # Delivery of the first, a delivery for a purchase order nobody knows (its handler raises
    # Unprocessable), delivery of the second: one record batch on one partition -> one consumer batch,
    # written by the supplier (the topic's only writer).
    envelopes = [Envelope.wrap(integrations.SupplierGoodsDelivered(purchase_order_id=po, supplier_id="SUP-GENERAL",
                                                                   sku=sku, quantity=5),
                               correlation_id=po, producer="supplier") for po in (first, unknown, second)]
    producer = AIOKafkaProducer(acks="all", **alone.kafka("supplier"))
    await producer.start()
    try:
        batch = producer.create_batch()
        for envelope in envelopes:
            body = envelope.model_dump(mode="json")
            assert batch.append(key=b"mid-batch", value=json.dumps(body).encode(), timestamp=None,
                                headers=[(k, v.encode()) for k, v in kafka_headers(body).items()]) is not None
        batch.close()
        await (await producer.send_batch(batch, alone.topic(integrations.SUPPLIER_EVENTS), partition=0))
    finally:
        await producer.stop()

    letters = await alone.read_topic(dlq_topic("procurement"), until=lambda recs: len(recs) >= 1)
    assert len(letters) == 1 and unknown in letters[0]["value"]["reason"]
    assert "unprocessable supplier.goods_delivered" in letters[0]["value"]["reason"]
    delivered = await _until("both deliveries applied", lambda: alone.rows(
        "procurement", "SELECT purchase_order_id, delivered_quantity FROM purchase_orders"
                       " WHERE delivered_quantity IS NOT NULL ORDER BY purchase_order_id"))
    assert sorted((r["purchase_order_id"], r["delivered_quantity"]) for r in delivered) == sorted([(first, 5),
                                                                                                  (second, 5)])
    inbox = await alone.rows("procurement", "SELECT message_key, outcome FROM inbox")
    assert sorted((r["message_key"], r["outcome"]) for r in inbox) == sorted(
        [(str(envelopes[0].message_id), "handled"), (str(envelopes[1].message_id), "dead_lettered"),
         (str(envelopes[2].message_id), "handled")])
    # Each delivery was announced to the warehouse exactly once.
    commands = await alone.read_topic(warehouse.COMMANDS, until=lambda recs: len(recs) >= 2, timeout=10)
    receipts = sorted(r["value"]["payload"]["purchase_order_id"] for r in commands
                      if r["value"]["type"] == warehouse.ReceiveGoods.TYPE)
    assert receipts == sorted([first, second])
