"""AsyncAPI 3.0 documents, one per service, generated from the topic catalogue and the message models,
so that a subscribing system needs none of our code:

- every topic the service reads or writes (its DLQ and replay topic too) is a channel with its
  partitions and retention; every message type on it a message whose payload is the typed envelope
  (`type` fixed, `payload` the message's schema), whose headers are the Kafka headers schema and
  whose Kafka key binding states the key rule; dead letters carry the DeadLetter schema;
- operations say what the service sends and receives, with its consumer group;
- the server says how to connect: SASL_SSL with SCRAM-SHA-512, one principal per system.

    python -m contracts.asyncapi        # (re)write contracts/asyncapi/<service>.json
    GET /asyncapi.json                  # each service serves its own (services/runtime/service.py)

Built here rather than by FastStream's generator: the batch subscriber hands raw records to our own
validation (so that a bad record is dead-lettered, not retried by the framework), so its handler
signature says "bytes"; the catalogue, which also generates the ACLs, says what really flows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

import contracts  # noqa: F401  (registers every message type)
from contracts.envelope import DeadLetter, message_types
from contracts.headers import headers_schema
from contracts.topics import CATALOGUE, DEPARTMENTS, TopicSpec, messages_on
from contracts.typed import KEY_RULE, envelope_model

ASYNCAPI_DIR = Path(__file__).parent / "asyncapi"
KAFKA_BINDING = "0.5.0"
REF = "#/components/schemas/{model}"


def _id(name: str) -> str:
    """Channel, operation and message ids may not contain dots."""
    return name.replace(".", "-")


def _types_on(spec: TopicSpec) -> list[str]:
    if spec.name.endswith(".replay.v1"):        # a replay carries whatever its service consumes
        owner_reads = [t for t in CATALOGUE.values() if spec.owner in t.readers and t is not spec]
        return sorted({m.TYPE for t in owner_reads for m in messages_on(t.name)})
    return sorted(m.TYPE for m in messages_on(spec.name))


def _channel(spec: TopicSpec, prefix: str) -> dict[str, Any]:
    types = _types_on(spec)
    messages = {_id(t): {"$ref": f"#/components/messages/{_id(t)}"} for t in types}
    if spec.name.endswith(".dlq.v1"):
        messages = {"deadletter": {"$ref": "#/components/messages/deadletter"}}
    return {
        "address": prefix + spec.name,
        "title": spec.name,
        "description": (f"{spec.description}. Owner: {spec.owner}; written by {', '.join(sorted(spec.writers))}; "
                        f"read by {', '.join(sorted(spec.readers)) or 'operators (DLQ tooling)'}."),
        "messages": messages,
        "bindings": {"kafka": {"topic": prefix + spec.name, "partitions": spec.partitions,
                               "topicConfiguration": {"retention.ms": spec.retention_ms,
                                                      "cleanup.policy": [spec.cleanup_policy]},
                               "bindingVersion": KAFKA_BINDING}},
    }


def _message(type_name: str) -> dict[str, Any]:
    model = message_types()[type_name]
    return {
        "name": type_name,
        "title": type_name,
        "summary": (model.__doc__ or type_name).strip().split("\n\n")[0].replace("\n", " "),
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
        "payload": {"$ref": REF.format(model=envelope_model(type_name).__name__)},
        "correlationId": {"description": "The order (correlation id), also the record key",
                          "location": "$message.payload#/correlation_id"},
        "bindings": {"kafka": {"key": {"type": "string", "description": KEY_RULE}, "bindingVersion": KAFKA_BINDING}},
    }


def _schemas(type_names: list[str]) -> dict[str, Any]:
    models = [(envelope_model(t), "validation") for t in type_names] + [(DeadLetter, "validation")]
    _, top = models_json_schema(models, ref_template=REF)
    schemas = dict(top.get("$defs", {}))
    schemas["KafkaHeaders"] = headers_schema()
    return schemas


def document(service: str, *, version: str = "1.0.0", bootstrap: str = "kafka:9093", prefix: str = "",
             group_prefix: str = "") -> dict[str, Any]:
    """The AsyncAPI document of one department service."""
    reads = [s for s in CATALOGUE.values() if service in s.readers]
    writes = [s for s in CATALOGUE.values() if service in s.writers]
    specs = {s.name: s for s in [*reads, *writes]}
    type_names = sorted({t for s in specs.values() for t in _types_on(s)})
    operations: dict[str, Any] = {}
    for action, topics in (("receive", reads), ("send", writes)):
        for spec in topics:
            channel = _id(spec.name)
            refs = [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in _channel(spec, prefix)["messages"]]
            operation: dict[str, Any] = {"action": action, "channel": {"$ref": f"#/channels/{channel}"},
                                         "title": f"{service} {action}s {spec.name}", "messages": refs}
            if action == "receive":
                operation["bindings"] = {"kafka": {"groupId": {"type": "string", "enum": [group_prefix + service]},
                                                   "bindingVersion": KAFKA_BINDING}}
            operations[f"{action}-{channel}"] = operation
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"orderflow {service}",
            "version": version,
            "description": (f"What {service} reads and writes on Kafka. Every record value is a JSON envelope "
                            "(contracts/schemas/envelope.json: `type` selects the payload schema), its identifying "
                            f"fields are copied into headers. {KEY_RULE} A v1 message only ever gains optional "
                            "fields; a breaking change is a new topic version."),
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": {
            "host": bootstrap, "protocol": "kafka-secure",
            "description": "SASL_SSL: TLS, then SCRAM-SHA-512 as your own principal; ACLs follow the topic catalogue "
                           "(subscribing systems: `outside-reader`, consumer groups `outside-reader*`).",
            "security": [{"$ref": "#/components/securitySchemes/scram"}],
        }},
        "channels": {_id(name): _channel(spec, prefix) for name, spec in sorted(specs.items())},
        "operations": operations,
        "components": {
            "messages": {**{_id(t): _message(t) for t in type_names},
                         "deadletter": {"name": "deadletter", "title": "Dead letter",
                                        "summary": "A record the service could not process, with the reason and "
                                                   "its original coordinates, key, headers and value",
                                        "contentType": "application/json",
                                        "payload": {"$ref": REF.format(model="DeadLetter")},
                                        "bindings": {"kafka": {"key": {"type": "string", "description":
                                                                       "The original record's key"},
                                                               "bindingVersion": KAFKA_BINDING}}}},
            "schemas": _schemas(type_names),
            "securitySchemes": {"scram": {"type": "scramSha512",
                                          "description": "SCRAM-SHA-512 over TLS; one principal per system"}},
        },
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(directory: Path = ASYNCAPI_DIR) -> int:
    """The published documents carry the contracts' version (v1 topics); a running service's
    /asyncapi.json carries its own release version and its environment's prefixes."""
    directory.mkdir(parents=True, exist_ok=True)
    for service in DEPARTMENTS:
        (directory / f"{service}.json").write_text(dumps(document(service)))
    print(f"wrote {len(DEPARTMENTS)} AsyncAPI documents to {directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
