"""The message envelope, and the registry of message types.

Every Kafka record's value is one JSON `Envelope`; the identifying fields are also copied into
Kafka headers (`message_id`, `type`, `correlation_id`, `producer`, `traceparent`) so that tools
can filter without parsing the body. The body's `payload` is validated against the model
registered for `type` on both ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import partial
from datetime import datetime, timezone
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

_REGISTRY: dict[str, type["Message"]] = {}


class Message(BaseModel):
    """Base of every payload. Subclasses set TYPE ("<department>.<verb_or_fact>") and TOPIC
    (the catalogue name, without any environment prefix)."""

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    # Unknown fields are ignored so that producers may add optional fields without breaking us.
    model_config = ConfigDict(extra="ignore", frozen=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__doc__ is None:   # a department's copy of a shared reply shape keeps its description
            cls.__doc__ = next((base.__doc__ for base in cls.__mro__[1:-1]
                                if base not in (Message, BaseModel) and base.__doc__), None)
        type_name = cls.__dict__.get("TYPE")
        if type_name:
            if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
                raise TypeError(f"message type {type_name!r} registered twice")
            _REGISTRY[type_name] = cls


def message_types() -> dict[str, type[Message]]:
    """Every registered message type, by its `type` name."""
    return dict(_REGISTRY)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Initiator(BaseModel):
    """The person (or system) whose request started a chain of messages: an HTTP caller's token
    subject, display name and the role they acted in."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subject: str = Field(description="Stable user id (the token's `sub`)")
    name: str = Field(description="Display name")
    role: str = Field(description="The role the request was made in, e.g. 'sales_manager'")


class ReplayOf(BaseModel):
    """Set on a dead letter replayed by an operator: which dead letter, and the topic the record
    counts as (it travels on `<service>.replay.v1`, see contracts/topics.py)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    service: str = Field(description="The service whose dead letter this is (and the only reader of the replay topic)")
    dead_letter_id: int = Field(description="The dead letter's id in that service (GET /dead-letters/{id})")
    original_topic: str = Field(description="Catalogue name of the topic the record was first consumed from")
    original_message_id: str | None = Field(default=None, description="message_id of the dead-lettered record")


class Envelope(BaseModel):
    """What travels on the wire. `payload` stays a dict here; `decode()` validates it."""

    model_config = ConfigDict(extra="ignore")

    message_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique per message; consumers dedupe on it")
    type: str = Field(description="Message type, e.g. 'finance.credit_approved'")
    schema_version: int = Field(default=1, ge=1)
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str = Field(description="The order this message is about (or the business key of a non-order flow)")
    causation_id: uuid.UUID | None = Field(default=None, description="message_id of the message that caused this one")
    producer: str = Field(description="Service that produced the message")
    trace: dict[str, str] = Field(default_factory=dict, description="W3C trace context (traceparent, tracestate)")
    initiated_by: Initiator | None = Field(
        default=None, description="Who asked: set on messages emitted by an HTTP request and carried on to the "
                                  "messages they cause; absent for timers and external parties")
    replay_of: ReplayOf | None = Field(
        default=None, description="Only on a replayed dead letter: which one, and the topic it counts as")
    payload: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        message: Message,
        *,
        correlation_id: str,
        producer: str,
        causation_id: uuid.UUID | None = None,
        trace: dict[str, str] | None = None,
        initiated_by: Initiator | None = None,
    ) -> "Envelope":
        return cls(
            type=message.TYPE,
            schema_version=message.SCHEMA_VERSION,
            correlation_id=correlation_id,
            causation_id=causation_id,
            producer=producer,
            trace=trace or {},
            initiated_by=initiated_by,
            payload=message.model_dump(mode="json"),
        )

    def decode(self) -> Message:
        """The typed payload. Raises KeyError for an unknown type, ValidationError for a bad body."""
        model = _REGISTRY[self.type]
        return model.model_validate(self.payload)


HEADER_FIELDS = ("message_id", "type", "schema_version", "correlation_id", "causation_id", "producer")


def kafka_headers(envelope: Envelope | Mapping[str, Any]) -> dict[str, str]:
    """The envelope's identifying fields as Kafka headers, so tools can route and filter
    without parsing the body. The body stays the source of truth. Takes the Envelope itself (the
    outbox's hot path, no dump) or its JSON form (a relayed or replayed row)."""
    field = envelope.get if isinstance(envelope, Mapping) else partial(getattr, envelope)
    headers = {"content-type": "application/json"}
    for name in HEADER_FIELDS:
        if (value := field(name)) is not None:
            headers[name] = str(value)
    headers.update(field("trace") or {})
    if replay := field("replay_of"):
        replay = replay if isinstance(replay, Mapping) else replay.model_dump()
        headers["replay-of"] = f"{replay['service']}/{replay['dead_letter_id']}"
        headers["original-topic"] = replay["original_topic"]
    return headers


class DeadLetter(BaseModel):
    """Body of a record on a `<service>.dlq.v1` topic."""

    service: str
    reason: str
    failed_at: datetime = Field(default_factory=utcnow)
    original_topic: str
    original_partition: int
    original_offset: int
    original_key: str | None = None
    original_headers: dict[str, str] = Field(default_factory=dict)
    original_value: str | None = Field(default=None, description="The record value as text, when it is valid UTF-8")
    original_value_base64: str | None = Field(default=None, description="The record value, when it is not text")
    message_type: str | None = None
    replay_of_dead_letter: int | None = Field(
        default=None, description="When a replayed dead letter failed again: the id of the dead letter it replayed")
