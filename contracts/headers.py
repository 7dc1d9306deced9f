"""The Kafka headers of every orderflow record, as a JSON Schema (header name -> UTF-8 string value).
Written by `contracts.envelope.kafka_headers`; the envelope in the value stays the source of truth,
the headers let tools route and filter without parsing it."""

from __future__ import annotations

from typing import Any

UUID = {"type": "string", "format": "uuid"}


def headers_schema() -> dict[str, Any]:
    return {
        "title": "KafkaHeaders",
        "description": "Headers of every orderflow record (values are UTF-8 strings). Copies of envelope fields, "
                       "plus the W3C trace context and, on a replayed dead letter, where it comes from.",
        "type": "object",
        "properties": {
            "content-type": {"type": "string", "const": "application/json"},
            "message_id": {**UUID, "description": "The envelope's message_id (consumers dedupe on it)"},
            "type": {"type": "string", "description": "The envelope's type, e.g. finance.credit_approved"},
            "schema_version": {"type": "string", "pattern": "^[1-9][0-9]*$"},
            "correlation_id": {"type": "string", "description": "The order (or the business key): also the record key"},
            "causation_id": {**UUID, "description": "message_id of the message that caused this one"},
            "producer": {"type": "string", "description": "The producing service or external party"},
            "traceparent": {"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                            "description": "W3C trace context of the span that produced the record"},
            "tracestate": {"type": "string"},
            "replay-of": {"type": "string", "pattern": "^[a-z_]+/[0-9]+$",
                          "description": "<service>/<dead letter id>: a dead letter replayed by an operator"},
            "original-topic": {"type": "string", "description": "The topic a replayed dead letter counts as"},
        },
        "required": ["content-type", "message_id", "type", "schema_version", "correlation_id", "producer"],
        "additionalProperties": {"type": "string"},
    }
