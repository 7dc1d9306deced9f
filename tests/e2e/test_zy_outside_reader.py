"""A subscribing system that has none of our code: Kafka's own ConsoleConsumer, as the `outside-reader`
principal, reads every record of this run's event topics (runs late, after the other scenarios have
produced nearly every kind of event) and each is validated against the published JSON Schemas only
(contracts/schemas/envelope.json, headers.json) with zero failures."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from jsonschema import Draft202012Validator, FormatChecker

from contracts import finance
from contracts.envelope import Envelope, kafka_headers
from contracts.topics import CATALOGUE, OUTSIDE_READER
from tests.e2e.conftest import E2E, ROOT
from tests.e2e.infra import select_mode

SCHEMAS = ROOT / "contracts/schemas"
SEP = "|~|"


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


async def _records_so_far(e2e: E2E, pattern: str) -> int:
    """How many records the run's event topics hold now (the stack keeps writing: e.g. the
    warehouse values its stock every few seconds, so "until the topics fall silent" never comes)."""
    partitions = [TopicPartition(e2e.topic(name), p) for name, spec in CATALOGUE.items()
                  if re.fullmatch(pattern, e2e.topic(name)) for p in range(spec.partitions)]
    consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **e2e.kafka(OUTSIDE_READER))
    await consumer.start()
    try:
        ends, begins = await consumer.end_offsets(partitions), await consumer.beginning_offsets(partitions)
        return sum(ends[p] - begins[p] for p in partitions)
    finally:
        await consumer.stop()


async def _read_as_outside_reader(e2e: E2E) -> list[tuple[dict[str, str], str, str]]:
    """(headers, key, value) of the records on every event topic of this run, as many as there
    were when it started reading."""
    pattern = "^" + re.escape(e2e.settings.topic_prefix) + r"[a-z]+\.events\.v1$"
    count = await _records_so_far(e2e, pattern)
    env = {**os.environ, "ORDERFLOW_KAFKA_TOOL_PRINCIPAL": OUTSIDE_READER}
    result = subprocess.run(
        [str(ROOT / "deploy/local/kafka.sh"), "tool", "ConsoleConsumer", "--include", pattern, "--from-beginning",
         "--group", f"{e2e.settings.group_prefix}outside-reader-schema-check", "--timeout-ms", "15000",
         "--max-messages", str(count),
         "--formatter-property", "print.headers=true", "--formatter-property", "print.key=true",
         "--formatter-property", f"key.separator={SEP}"],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert "TimeoutException" in result.stderr or result.returncode == 0, result.stderr[-2000:]
    records = []
    for line in result.stdout.splitlines():
        if SEP not in line:          # the tool's own notices
            continue
        headers_text, key, value = line.split(SEP, 2)
        headers = dict(item.split(":", 1) for item in headers_text.split(",")) if headers_text != "NO_HEADERS" else {}
        records.append((headers, key, value))
    total = re.search(r"Processed a total of (\d+) messages", result.stdout + result.stderr)
    assert total and int(total.group(1)) == len(records), (total and total.group(0), len(records))
    return records


async def test_every_event_record_validates_against_the_published_schemas(e2e: E2E) -> None:
    if select_mode(os.environ) != "local":
        pytest.skip("ConsoleConsumer runs from the local Kafka installation (deploy/local/kafka.sh)")
    envelope, headers_schema = _validator("envelope"), _validator("headers")
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])      # at least one whole order, even run alone
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
    records = await _read_as_outside_reader(e2e)
    failures, types = [], set()
    for headers, key, value in records:
        try:
            body = json.loads(value)
        except ValueError as exc:
            failures.append(f"not JSON: {exc}: {value[:200]}")
            continue
        types.add(body.get("type"))
        failures += [f"{body.get('type')} value: {e.message} at {list(e.absolute_path)}"
                     for e in envelope.iter_errors(body)]
        failures += [f"{body.get('type')} headers: {e.message}" for e in headers_schema.iter_errors(headers)]
        payload = body.get("payload") or {}
        allowed = {body.get("correlation_id"), payload.get("purchase_order_id"),
                   payload.get("sku") if not payload.get("order_id") else payload.get("order_id")}
        if key not in allowed:        # the key rule of the AsyncAPI documents (contracts/typed.py KEY_RULE)
            failures.append(f"{body.get('type')}: key {key!r} is none of {sorted(filter(None, allowed))}")
        if headers.get("type") != body.get("type") or headers.get("message_id") != body.get("message_id"):
            failures.append(f"{body.get('type')}: headers disagree with the envelope")
    assert not failures, f"{len(failures)} of {len(records)} records failed:\n" + "\n".join(failures[:20])
    # Not vacuous: a whole order's events at least (the full suite leaves hundreds, of most kinds).
    assert len(records) >= 15 and len(types) >= 10, (len(records), sorted(types))
    print(f"outside reader: {len(records)} records of {len(types)} types validated")


def test_the_schema_check_catches_a_wrong_payload() -> None:
    envelope, headers_schema = _validator("envelope"), _validator("headers")
    message = finance.CreditRejected(order_id="o1", customer_id="CUST-ACME", reasons=["over the limit"])
    good = Envelope.wrap(message, correlation_id="o1", producer="finance").model_dump(mode="json")
    assert not list(envelope.iter_errors(good))
    assert not list(headers_schema.iter_errors(kafka_headers(good)))
    assert list(envelope.iter_errors({**good, "payload": {**good["payload"], "reasons": "one string"}}))
    assert list(envelope.iter_errors({**good, "payload": {"order_id": "o1"}}))        # required fields missing
    assert list(envelope.iter_errors({**good, "type": "finance.no_such_type"}))
    assert list(headers_schema.iter_errors({k: v for k, v in kafka_headers(good).items() if k != "message_id"}))
