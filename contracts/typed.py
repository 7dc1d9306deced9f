"""Typed views of the envelope for schemas: `Envelope` with `type` fixed to one message type and
`payload` that message's model, and the union of them (discriminated on `type`) for a topic or for
everything. Used only to publish contracts (contracts/schemas/envelope.json, the AsyncAPI documents);
the runtime keeps `Envelope.payload` a dict and validates it against the registry itself."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, create_model

from contracts.envelope import Envelope, Message, message_types

KEY_RULE = ("The record key (UTF-8) is the business key whose messages must stay in order, on one partition: "
            "the order id for every order-scoped message (then equal to the envelope's correlation_id); for "
            "stock-scoped messages without an order (stock warnings, replenishment purchases and their goods "
            "receipts) the SKU; for requests to suppliers the purchase order id; for an intake rejection the "
            "sender's external_ref; for a risk about no order, the risk id. Dead letters and replays keep the "
            "original record's key.")


def model_name(type_name: str) -> str:
    """`finance.check_credit` -> `FinanceCheckCreditEnvelope` (unique, valid as a schema name)."""
    return "".join(part.capitalize() for part in type_name.replace(".", "_").split("_")) + "Envelope"


@functools.cache
def envelope_model(type_name: str) -> type[Envelope]:
    message: type[Message] = message_types()[type_name]
    return create_model(
        model_name(type_name), __base__=Envelope,
        __doc__=f"An envelope carrying {type_name} on {message.TOPIC}. {message.__doc__ or ''}".strip(),
        type=(Literal[type_name], Field(description="Message type; selects the payload schema")),   # type: ignore[valid-type]
        payload=(message, Field(description=f"The {type_name} message")),
    )


def union_of(type_names: list[str]) -> Any:
    models = tuple(envelope_model(name) for name in sorted(type_names))
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="type")]   # type: ignore[valid-type]


def any_envelope_schema() -> dict[str, Any]:
    """JSON Schema of any orderflow record value: one of the typed envelopes, chosen by `type`."""
    schema = TypeAdapter(union_of(sorted(message_types()))).json_schema()
    schema["title"] = "Envelope"
    schema["description"] = ("Every Kafka record value of orderflow: one JSON envelope whose `payload` is the "
                             "message named by `type` (discriminator). " + KEY_RULE)
    return schema

