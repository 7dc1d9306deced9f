"""AsyncAPI documents (contracts/asyncapi.py): committed copies are current, every message carries its
payload schema, headers and key rule, DLQ and replay topics are documented, and the AsyncAPI
project's own parser (@asyncapi/parser, installed by deploy/local/tools.sh) reports 0 errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts import asyncapi
from contracts.envelope import message_types
from contracts.topics import CATALOGUE, DEPARTMENTS, topics_read_by, topics_written_by

ROOT = Path(__file__).resolve().parents[2]
PARSE = Path(__file__).parent / "asyncapi_parse.cjs"


def test_the_committed_documents_are_current():
    for service in DEPARTMENTS:
        committed = json.loads((asyncapi.ASYNCAPI_DIR / f"{service}.json").read_text())
        assert committed == asyncapi.document(service), (
            f"contracts/asyncapi/{service}.json is stale: run `python -m contracts.asyncapi`")


@pytest.mark.parametrize("service", DEPARTMENTS)
def test_every_topic_and_message_of_the_service_is_documented(service):
    doc = asyncapi.document(service, prefix="env1.", group_prefix="env1.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {f"env1.{t}" for t in {*topics_read_by(service), *topics_written_by(service)}}
    assert f"env1.{service}.dlq.v1" in addresses and f"env1.{service}.replay.v1" in addresses
    schemas = doc["components"]["schemas"]
    for channel in doc["channels"].values():
        spec = CATALOGUE[channel["title"]]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        for ref in channel["messages"].values():
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            payload = schemas[message["payload"]["$ref"].rsplit("/", 1)[-1]]
            assert message["bindings"]["kafka"]["key"]["description"]
            if spec.name.endswith(".dlq.v1"):
                assert "original_topic" in payload["properties"]
                continue
            assert message["headers"] == {"$ref": "#/components/schemas/KafkaHeaders"}
            assert payload["properties"]["type"]["const"] == message["name"]
            payload_ref = payload["properties"]["payload"]["$ref"].rsplit("/", 1)[-1]
            model = message_types()[message["name"]]
            assert set(schemas[payload_ref]["properties"]) == set(model.model_fields), message["name"]
    groups = {op["bindings"]["kafka"]["groupId"]["enum"][0] for op in doc["operations"].values()
              if op["action"] == "receive"}
    assert groups == {f"env1.{service}"}


def test_no_message_is_left_without_a_payload_schema():
    documented = {m["name"] for service in DEPARTMENTS
                  for m in asyncapi.document(service)["components"]["messages"].values()}
    assert set(message_types()) - documented == set()


def _node_modules() -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (node 20 + npm are needed for the AsyncAPI parser)")
    result = subprocess.run([str(ROOT / "deploy/local/tools.sh"), "asyncapi-parser"], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "ORDERFLOW_HOME": os.environ.get("ORDERFLOW_HOME", str(ROOT))})
    if result.returncode != 0:
        pytest.skip(f"@asyncapi/parser could not be installed (npm registry unreachable?): {result.stderr[-300:]}")
    return Path(result.stdout.strip().splitlines()[-1]) / "node_modules"


def test_the_asyncapi_parser_reports_no_error_for_any_service(tmp_path):
    files = [asyncapi.ASYNCAPI_DIR / f"{s}.json" for s in DEPARTMENTS]
    prefixed = tmp_path / "sales-prefixed.json"            # as a service serves it in a prefixed environment
    prefixed.write_text(asyncapi.dumps(asyncapi.document("sales", version="9.9.9", prefix="t1.", group_prefix="t1.")))
    files.append(prefixed)
    result = subprocess.run(["node", str(PARSE), *map(str, files)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NODE_PATH": str(_node_modules())})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == set(map(str, files))
    for file, outcome in report.items():
        assert outcome["parsed"] and outcome["errors"] == [], (file, outcome["errors"][:5])
        assert outcome["channels"] >= 5 and outcome["messages"] >= 10, (file, outcome)


def test_the_parser_check_is_not_vacuous(tmp_path):
    broken = asyncapi.document("finance")
    broken["channels"]["finance-events-v1"]["messages"]["nope"] = {"$ref": "#/components/messages/does-not-exist"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = subprocess.run(["node", str(PARSE), str(path)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NODE_PATH": str(_node_modules())})
    assert json.loads(result.stdout)[str(path)]["errors"]


def test_a_service_serves_its_document_for_its_environment(monkeypatch):
    from services.finance.app import service

    monkeypatch.setattr(service.settings, "topic_prefix", "staging.")
    doc = service.asyncapi_document()
    assert doc["info"]["title"] == "orderflow finance"
    assert "staging.finance.events.v1" in {c["address"] for c in doc["channels"].values()}
