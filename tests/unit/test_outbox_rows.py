"""The outbox row carries exactly what the relay sends: the envelope's JSON bytes and its Kafka
headers; the offsets committed for a batch are one past its last record, per partition only."""

from __future__ import annotations

import json
from collections import namedtuple

from aiokafka import TopicPartition

from contracts.envelope import Envelope, ReplayOf, kafka_headers
from contracts.sales import OrderStatusChanged
from services.runtime.offsets import batch_offsets
from services.runtime.outbox import Tx


def _envelope(**extra) -> Envelope:
    return Envelope.wrap(OrderStatusChanged(order_id="o-1", order_number="SO-000001", status="completed"),
                         correlation_id="o-1", producer="sales", **extra)


def test_headers_of_an_envelope_match_the_contract_helper() -> None:
    import uuid
    replayed = _envelope().model_copy(update={"replay_of": ReplayOf(
        service="sales", dead_letter_id=7, original_topic="finance.events.v1")})
    for envelope in (_envelope(), replayed, _envelope(causation_id=uuid.uuid4(),
                                                      trace={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})):
        assert kafka_headers(envelope) == kafka_headers(envelope.model_dump(mode="json"))
    assert kafka_headers(replayed)["replay-of"] == "sales/7"


async def test_a_batch_tx_collects_rows_whose_body_is_the_envelope() -> None:
    pending: list = []
    tx = Tx(conn=None, service="sales", pending=pending)  # type: ignore[arg-type] - never touched when pending
    message = OrderStatusChanged(order_id="o-2", order_number="SO-000002", status="credit_checked")
    envelope = await tx.emit(message, key="o-2")
    (row,) = pending
    assert row.topic == "sales.events.v1" and row.key == "o-2" and row.message_type == message.TYPE
    assert Envelope.model_validate_json(row.body) == envelope
    assert json.loads(row.body)["payload"] == message.model_dump(mode="json")
    assert row.headers["message_id"] == str(envelope.message_id) and row.headers["type"] == message.TYPE


def test_batch_offsets_are_one_past_the_last_record_of_each_partition() -> None:
    Record = namedtuple("Record", "topic partition offset")
    records = (Record("a", 0, 5), Record("a", 1, 7), Record("a", 0, 6), Record("b", 0, 1))
    assert batch_offsets(records) == {TopicPartition("a", 0): 7, TopicPartition("a", 1): 8, TopicPartition("b", 0): 2}
