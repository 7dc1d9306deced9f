"""Dead-letter tooling end to end: a poison order command from another system is dead-lettered by
sales, an operator fixes and replays it, and the order completes exactly once; a replay that fails
again is a new dead letter (never a loop); skip, purge and the record of who did what."""

from __future__ import annotations

import asyncio
import json
import uuid

from contracts import finance
from contracts.envelope import Envelope, kafka_headers
from contracts.topics import dlq_topic
from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_invariants


def _place_order(ref: str, quantity: object) -> bytes:
    envelope = Envelope(type="sales.place_order", correlation_id=ref, producer="integration", payload={
        "channel": "edi", "external_ref": ref, "customer_id": "CUST-NORD",
        "lines": [{"sku": "SKU-GEAR-40", "quantity": quantity}]})
    return envelope.model_dump_json().encode()


async def _publish_poison(e2e: E2E, ref: str) -> str:
    value = _place_order(ref, "four")                  # a quantity that is not a number
    body = json.loads(value)
    await e2e.publish_raw("sales.commands.v1", value, key=ref.encode(),
                          headers=[(k, v.encode()) for k, v in kafka_headers(body).items()], principal="integration")
    return body["message_id"]


def _letters(e2e: E2E, **params: object) -> list[dict]:
    return e2e.get("sales", "/dead-letters", status="any", message_type="sales.place_order", **params)


def _letter_for(e2e: E2E, message_id: str) -> dict | None:
    return next((d for d in _letters(e2e, limit=1000) if d["message_id"] == message_id), None)


async def _orders_with_ref(e2e: E2E, ref: str) -> list[str]:
    rows = await e2e.rows("sales", "SELECT order_id FROM orders WHERE channel = 'edi' AND external_ref = $1", ref)
    return [str(r["order_id"]) for r in rows]


async def test_a_poison_record_fixed_and_replayed_completes_its_order_exactly_once(e2e: E2E) -> None:
    ref = f"{e2e.run_id}-poison-1"
    message_id = await _publish_poison(e2e, ref)
    letter = e2e.wait_for("the dead letter", lambda: _letter_for(e2e, message_id))
    assert letter["status"] == "open" and "invalid sales.place_order payload" in letter["reason"]
    assert letter["message_key"] == ref and letter["origin_topic"] == "sales.commands.v1"

    fixed = {**json.loads(_place_order(ref, 4))["payload"]}
    # Dry run: shows the record, changes nothing.
    dry = e2e.post("sales", f"/dead-letters/{letter['id']}/replay", {"payload": fixed, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["envelope"]["replay_of"] == {"service": "sales", "dead_letter_id": letter["id"],
                                                   "original_topic": "sales.commands.v1",
                                                   "original_message_id": message_id}
    assert e2e.get("sales", f"/dead-letters/{letter['id']}")["status"] == "open"

    # An operator (oscar) replays with the fix; the new message id is linked to the dead letter.
    oscar = e2e.as_user("oscar")
    replayed = e2e.post("sales", f"/dead-letters/{letter['id']}/replay",
                        {"payload": fixed, "note": "quantity fixed with the customer"}, headers=oscar)
    assert replayed.status_code == 200, replayed.text
    answer = replayed.json()
    assert answer["key"] == ref and answer["message_id"] != message_id and answer["counts_as"] == "sales.commands.v1"
    again = e2e.post("sales", f"/dead-letters/{letter['id']}/replay", {"payload": fixed}, headers=oscar)
    assert again.status_code == 409 and "already replayed" in again.json()["detail"]
    # Not an operator: refused.
    assert e2e.post("sales", f"/dead-letters/{letter['id']}/skip", {}, headers=e2e.as_user("audrey")).status_code == 403

    order_ids = await _wait_orders(e2e, ref)
    assert e2e.wait_final(order_ids[0])["status"] == "completed"
    assert await _orders_with_ref(e2e, ref) == order_ids and len(order_ids) == 1     # exactly once

    shown = e2e.get("sales", f"/dead-letters/{letter['id']}")
    assert shown["status"] == "replayed" and shown["resolved_by"] == "oscar"
    assert shown["replayed_as"] == answer["message_id"]
    (action,) = shown["actions"]
    assert action["action"] == "replay" and action["subject"] == "oscar" and action["role"] == "operator"
    assert action["note"] == "quantity fixed with the customer" and action["at"]
    # The replayed record went through sales' own replay topic with the original key.
    replays = await e2e.read_topic("sales.replay.v1", until=lambda recs: any(
        r["value"]["message_id"] == answer["message_id"] for r in recs))
    record = next(r for r in replays if r["value"]["message_id"] == answer["message_id"])
    assert record["key"] == ref.encode()
    audit = e2e.get("sales", "/audit", subject="oscar")
    assert any(entry["path"] == f"/dead-letters/{letter['id']}/replay" and entry["status"] == 200 for entry in audit)
    await assert_invariants(e2e, order_ids, ["SKU-GEAR-40"])


async def _wait_orders(e2e: E2E, ref: str, timeout: float = 30) -> list[str]:
    for _ in range(int(timeout / 0.2)):
        if found := await _orders_with_ref(e2e, ref):
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"no order for external_ref {ref}")


async def test_a_replay_that_fails_again_is_a_new_dead_letter_and_never_loops(e2e: E2E) -> None:
    """finance cannot invoice an unknown customer (Unprocessable): dead-lettered; replayed as it is,
    it fails again and becomes a second dead letter pointing at the first; nothing replays by itself."""
    order_id = str(uuid.uuid4())
    command = finance.IssueInvoice(order_id=order_id, order_number="SO-GHOST", customer_id="CUST-GHOST",
                                   payment_method="invoice", shipment_ref="SHP-GHOST",
                                   lines=[{"sku": "SKU-GEAR-40", "quantity": 1, "unit_price": "10.00"}], total="10.00")
    sent = await e2e.publish(command, correlation_id=order_id, producer="sales")

    def letter_of(message_id: str) -> dict | None:
        return next((d for d in e2e.get("finance", "/dead-letters", status="any", limit=1000)
                     if d["message_id"] == message_id), None)

    first = e2e.wait_for("finance's dead letter", lambda: letter_of(str(sent.message_id)))
    assert "unknown customer CUST-GHOST" in first["reason"]
    # Replayed as it is (valid as a message, so the replay is accepted) ...
    replayed = e2e.post("finance", f"/dead-letters/{first['id']}/replay", {})
    assert replayed.status_code == 200, replayed.text
    # ... it fails again: a new dead letter that names the first one, in finance's DLQ.
    second = e2e.wait_for("the replay's own dead letter", lambda: letter_of(replayed.json()["message_id"]))
    assert second["replay_of"] == first["id"] and second["status"] == "open"
    assert second["origin_topic"] == "finance.commands.v1"
    assert e2e.get("finance", f"/dead-letters/{first['id']}")["status"] == "replayed"

    # Nothing replays it by itself: finance moved on (a new order is invoiced and completes) and its
    # DLQ topic holds exactly these two letters for this order.
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
    letters = await e2e.read_topic(dlq_topic("finance"))
    mine = [r["value"] for r in letters if r["value"] and r["key"] == order_id.encode()]
    assert len(mine) == 2, mine
    assert mine[0]["replay_of_dead_letter"] is None and mine[1]["replay_of_dead_letter"] == first["id"]

    # Skip the failed replay: recorded, no longer open; purge (dry run first) removes resolved ones.
    skipped = e2e.post("finance", f"/dead-letters/{second['id']}/skip", {"note": "ghost customer, test record"})
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    assert e2e.post("finance", f"/dead-letters/{second['id']}/skip", {}).status_code == 409
    dry = e2e.post("finance", "/dead-letters/purge", {"from_id": first["id"], "to_id": second["id"], "dry_run": True})
    assert dry.status_code == 200 and {first["id"], second["id"]} <= set(dry.json()["matched"])
    assert dry.json()["purged"] == []
    purged = e2e.post("finance", "/dead-letters/purge", {"from_id": second["id"], "to_id": second["id"]})
    assert purged.json()["purged"] == [second["id"]]
    assert e2e.http.get(f"{e2e.stack.url('finance')}/dead-letters/{second['id']}").status_code == 404
    actions = await e2e.rows("finance", "SELECT action, subject FROM dead_letter_actions WHERE dead_letter_id = $1"
                             " ORDER BY id", second["id"])
    assert [(a["action"], a["subject"]) for a in actions] == [("skip", "e2e-runner"), ("purge", "e2e-runner")]
