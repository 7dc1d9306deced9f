"""Garbage on any command topic lands on the owner's dead-letter topic with the reason and the
original coordinates; the service goes on with the next message."""

from __future__ import annotations

import json
import uuid

from contracts import procurement
from contracts.envelope import Envelope
from contracts.topics import dlq_topic
from services.cli.stack import SERVICES
from tests.e2e.conftest import E2E


def _garbage(dept: str) -> dict[str, bytes]:
    valid_but_unknown = Envelope(type=f"{dept}.no_such_command", correlation_id="x", producer="integration",
                                 payload={}).model_dump_json().encode()
    known_type_bad_payload = Envelope(type="warehouse.reserve_stock", correlation_id="x", producer="sales",
                                      payload={"order_id": 42, "lines": "many"}).model_dump_json().encode()
    return {
        "not json": b"\x00\xff this is not json {",
        "wrong schema": json.dumps({"hello": "world"}).encode(),
        "unknown type": valid_but_unknown,
        "bad payload": known_type_bad_payload,
    }


async def test_garbage_on_every_command_topic_is_dead_lettered_and_consumers_move_on(e2e: E2E) -> None:
    sent: dict[str, list[str]] = {}
    for dept in SERVICES:
        garbage = _garbage(dept)
        for label, value in garbage.items():
            await e2e.publish_raw(f"{dept}.commands.v1", value, key=f"{e2e.run_id}-{label}".encode())
        sent[dept] = list(garbage)

    def own(records: list[dict]) -> list[dict]:      # other tests (the console's) dead-letter records too
        return [r for r in records if (r["key"] or b"").startswith(f"{e2e.run_id}-".encode())]

    for dept in SERVICES:
        letters = own(await e2e.read_topic(dlq_topic(dept), until=lambda recs: len(own(recs)) >= 4))
        assert len(letters) == 4, (dept, letters)
        reasons = [letter["value"]["reason"] for letter in letters]
        assert any("not a valid message envelope" in r for r in reasons), reasons
        assert any("unknown message type" in r for r in reasons), reasons
        for letter in letters:
            body = letter["value"]
            assert body["service"] == dept
            assert body["original_topic"] == e2e.topic(f"{dept}.commands.v1")
            assert isinstance(body["original_partition"], int) and body["original_offset"] >= 0
            assert body["original_value"] or body["original_value_base64"]
        # Operators see them too.
        listed = e2e.http.get(f"{e2e.stack.url(dept)}/dead-letters").json()
        assert len(listed) >= 4

    # The payload that is a valid envelope of a known type with a bad body: its reason names the fields.
    warehouse_letters = await e2e.read_topic(dlq_topic("warehouse"), until=lambda recs: len(recs) >= 4)
    assert any("invalid warehouse.reserve_stock payload" in l["value"]["reason"] and "order_id" in l["value"]["reason"]
               for l in warehouse_letters)

    # Every consumer moved on: an order flows through sales, finance, warehouse and logistics...
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
    # ... and procurement handles the next valid command on its topic.
    order_ref = str(uuid.uuid4())
    await e2e.publish(procurement.PurchaseShortfall(order_id=order_ref, sku="SKU-VALVE-3", quantity=5),
                      correlation_id=order_ref, producer="sales")
    events = await e2e.read_topic("procurement.events.v1",
                                  until=lambda recs: any(r["value"]["correlation_id"] == order_ref for r in recs))
    placed_po = [r["value"] for r in events if r["value"]["correlation_id"] == order_ref]
    assert placed_po and placed_po[0]["payload"]["supplier_id"] == "SUP-HYDRO"   # the primary supplier


async def test_redelivered_message_has_no_second_effect(e2e: E2E) -> None:
    """Replaying a command with the same message id (as a rebalance or a replay tool would) is a no-op."""
    placed = e2e.place("CUST-BOLT", [("SKU-GEAR-40", 3)])
    order_id = placed["order_id"]
    assert e2e.wait_final(order_id)["status"] == "completed"
    def is_invoice_cmd(record: dict) -> bool:
        body = record["value"] if isinstance(record["value"], dict) else {}
        return body.get("type") == "finance.issue_invoice" and body.get("correlation_id") == order_id

    commands = await e2e.read_topic("finance.commands.v1", until=lambda recs: any(map(is_invoice_cmd, recs)))
    invoice_cmd = next(r["value"] for r in commands if is_invoice_cmd(r))
    await e2e.publish_raw("finance.commands.v1", json.dumps(invoice_cmd).encode(), key=order_id.encode())
    # A later command on the same partition proves the replay was consumed before we look.
    second = e2e.place("CUST-BOLT", [("SKU-GEAR-40", 1)])
    assert e2e.wait_final(second["order_id"])["status"] == "completed"
    inbox = await e2e.rows("finance", "SELECT count(*) n FROM inbox WHERE message_key = $1", invoice_cmd["message_id"])
    assert inbox[0]["n"] == 1
    assert len(await e2e.rows("finance", "SELECT 1 FROM invoices WHERE order_id = $1", order_id)) == 1


async def test_binary_headers_are_dead_lettered_not_retried_forever(e2e: E2E) -> None:
    """FastStream decodes header values as text; a record with binary headers must still reach the
    consumer and be dead-lettered, rather than failing before it and being redelivered forever."""
    key = f"{e2e.run_id}-binary-headers".encode()
    await e2e.publish_raw("logistics.commands.v1", b"\xff\xfe\x00garbage", key=key,
                          headers=[("type", b"\xff\xfe\xfd"), ("trace", b"\x00\x01")])
    letters = await e2e.read_topic(dlq_topic("logistics"), until=lambda recs: any(
        r["value"] and r["value"].get("original_key") == key.decode() for r in recs))
    letter = next(r["value"] for r in letters if r["value"] and r["value"].get("original_key") == key.decode())
    assert "not a valid message envelope" in letter["reason"]
    assert letter["original_value_base64"]
    # ... and logistics went on: a normal order still books a carrier.
    placed = e2e.place("CUST-ACME", [("SKU-GEAR-40", 1)])
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
