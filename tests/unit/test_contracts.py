"""The contracts package: topic catalogue, envelope round-trips, headers, forward compatibility."""

from __future__ import annotations

import datetime as dt
import enum
import re
import json
import types
import typing
import uuid
from decimal import Decimal

import pytest
from pydantic import BaseModel

from contracts import CATALOGUE, topic_for
from contracts.envelope import Envelope, Message, kafka_headers, message_types
from contracts.topics import DEPARTMENTS, messages_on, validate_catalogue


# --- a sample instance of any contract model, built from its annotations ----------------------
# Generic so that a newly added message type is covered without touching this file.

def sample_value(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        constraints = [c for m in annotation.__metadata__ for c in (m, *getattr(m, "metadata", ()))]
        patterns = [c.pattern for c in constraints if getattr(c, "pattern", None)]
        if patterns and typing.get_args(annotation)[0] is str:      # e.g. a currency code
            return next(v for v in ("DE", "EUR", "X") if all(re.fullmatch(p, v) for p in patterns))
        return sample_value(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return sample_value(next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is typing.Literal:
        return typing.get_args(annotation)[-1]
    if origin is list:
        return [sample_value(typing.get_args(annotation)[0])]
    if origin is dict:
        return {"k": sample_value(typing.get_args(annotation)[1])}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return sample(annotation)
        if issubclass(annotation, enum.Enum):
            return list(annotation)[-1]
        if annotation is bool:
            return True
        if annotation is int:
            return 3
        if annotation is float:
            return 2.5
        if annotation is Decimal:
            return Decimal("12.34")
        if annotation is str:
            return "DE"              # satisfies every length constraint, including country codes
        if annotation is dt.datetime:
            return dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
        if annotation is dt.date:
            return dt.date(2030, 5, 6)
        if annotation is uuid.UUID:
            return uuid.UUID(int=7)
    raise NotImplementedError(f"no sample for {annotation!r}")


def sample(model: type[BaseModel]) -> BaseModel:
    hints = typing.get_type_hints(model, include_extras=True)
    return model(**{name: sample_value(hints[name]) for name in model.model_fields})


MESSAGE_TYPES = sorted(message_types().items())


# --- catalogue -------------------------------------------------------------------------------

def test_catalogue_is_consistent():
    assert validate_catalogue() == []


def test_there_are_messages_for_every_department():
    assert {name.split(".")[0] for name in message_types()} >= set(DEPARTMENTS)


@pytest.mark.parametrize("type_name, model", MESSAGE_TYPES, ids=[t for t, _ in MESSAGE_TYPES])
def test_every_message_type_has_a_catalogued_topic(type_name, model):
    assert model.TYPE == type_name
    spec = topic_for(model)
    assert spec.name == model.TOPIC
    assert model in messages_on(spec.name)


def test_order_scoped_topics_have_at_least_three_partitions():
    order_scoped = [s for s in CATALOGUE.values() if not s.name.endswith(".dlq.v1")]
    assert order_scoped
    assert [s.name for s in order_scoped if s.partitions < 3] == []


def test_department_events_are_written_only_by_the_department():
    for dept in DEPARTMENTS:
        spec = CATALOGUE[f"{dept}.events.v1"]
        assert spec.owner == dept
        assert spec.writers == frozenset({dept}), spec.name


def test_every_department_has_commands_events_and_dlq():
    for dept in DEPARTMENTS:
        for kind in ("commands", "events", "dlq"):
            assert f"{dept}.{kind}.v1" in CATALOGUE


def test_every_topic_name_is_versioned():
    assert all(name.rsplit(".", 1)[-1].startswith("v") for name in CATALOGUE)


def test_kafka_configs():
    spec = CATALOGUE["sales.dlq.v1"]
    assert spec.kafka_configs() == {"retention.ms": str(30 * 24 * 3600 * 1000), "cleanup.policy": "delete"}


# --- envelope --------------------------------------------------------------------------------

@pytest.mark.parametrize("type_name, model", MESSAGE_TYPES, ids=[t for t, _ in MESSAGE_TYPES])
def test_every_message_round_trips_through_the_envelope(type_name, model):
    message = sample(model)
    causation = uuid.uuid4()
    envelope = Envelope.wrap(message, correlation_id="ord-1", producer="sales", causation_id=causation,
                             trace={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    wire = envelope.model_dump_json()
    json.loads(wire)                                 # plain JSON on the wire
    received = Envelope.model_validate_json(wire)
    assert received == envelope
    assert received.type == type_name and received.schema_version == model.SCHEMA_VERSION
    assert received.causation_id == causation
    decoded = received.decode()
    assert type(decoded) is model
    assert decoded == message


def test_kafka_headers_carry_identifying_fields():
    envelope = Envelope.wrap(sample(message_types()["finance.credit_approved"]), correlation_id="ord-9",
                             producer="finance", trace={"traceparent": "00-abc-def-01"})
    headers = kafka_headers(envelope.model_dump(mode="json"))
    assert headers["message_id"] == str(envelope.message_id)
    assert headers["type"] == "finance.credit_approved"
    assert headers["correlation_id"] == "ord-9"
    assert headers["producer"] == "finance"
    assert headers["schema_version"] == "1"
    assert headers["traceparent"] == "00-abc-def-01"
    assert headers["content-type"] == "application/json"
    assert "causation_id" not in headers                 # None values are left out
    assert all(isinstance(v, str) for v in headers.values())


def test_decode_unknown_type_raises_key_error():
    envelope = Envelope(type="nobody.nothing", correlation_id="x", producer="x", payload={})
    with pytest.raises(KeyError):
        envelope.decode()


def test_envelope_ignores_unknown_fields():
    wire = Envelope.wrap(sample(message_types()["sales.order_placed"]), correlation_id="o", producer="sales")
    body = {**wire.model_dump(mode="json"), "added_in_future": {"x": 1}}
    assert Envelope.model_validate(body) == wire


@pytest.mark.parametrize("type_name, model", MESSAGE_TYPES, ids=[t for t, _ in MESSAGE_TYPES])
def test_unknown_top_level_payload_fields_are_ignored(type_name, model):
    message = sample(model)
    payload = {**message.model_dump(mode="json"), "field_added_in_a_later_release": "whatever"}
    envelope = Envelope(type=type_name, correlation_id="o", producer="p", payload=payload)
    assert envelope.decode() == message


def _add_unknown_fields_everywhere(value):
    if isinstance(value, dict):
        return {**{k: _add_unknown_fields_everywhere(v) for k, v in value.items()}, "zz_future_field": 1}
    if isinstance(value, list):
        return [_add_unknown_fields_everywhere(v) for v in value]
    return value


@pytest.mark.parametrize("type_name, model", MESSAGE_TYPES, ids=[t for t, _ in MESSAGE_TYPES])
def test_unknown_nested_payload_fields_are_ignored(type_name, model):
    message = sample(model)
    payload = _add_unknown_fields_everywhere(message.model_dump(mode="json"))
    envelope = Envelope(type=type_name, correlation_id="o", producer="p", payload=payload)
    assert envelope.decode() == message


def test_messages_are_immutable():
    message = sample(message_types()["warehouse.pick_and_pack"])
    with pytest.raises(Exception):
        message.order_id = "other"      # type: ignore[misc]


def test_registering_a_type_twice_is_refused():
    with pytest.raises(TypeError, match="registered twice"):
        class Duplicate(Message):       # noqa: F841
            TYPE: typing.ClassVar[str] = "warehouse.pick_and_pack"
            TOPIC: typing.ClassVar[str] = "warehouse.commands.v1"


def test_event_types_are_named_after_a_permitted_writer():
    for spec in CATALOGUE.values():
        if spec.name.endswith(".events.v1"):
            for model in messages_on(spec.name):
                prefix = model.TYPE.split(".")[0]
                # the feed names its types after itself (risk.raised), its writer relays them
                assert prefix in spec.writers or prefix == spec.name.split(".")[0], (model.TYPE, spec.name)
