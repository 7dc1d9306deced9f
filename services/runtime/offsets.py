"""Kafka offsets and consumer-group membership for the business consumers.

Offsets: FastStream's ack commits `consumer.commit()` with no argument, which writes the position
of EVERY assigned partition (24-30 per service) after every batch: hundreds of `__consumer_offsets`
records per order. `OffsetCommitter` commits only the partitions the batch came from, at the offset
after its last record, still only after the batch's database transaction committed.

A commit that fails (a rebalance took the partition away, the coordinator moved) is logged, not
raised: the records are already applied, and whoever reads them again finds them in the inbox.

Membership (`consumer_tuning`): aiokafka 0.14 speaks only the eager rebalance protocol (no
cooperative-sticky), so a joining or leaving member makes every member give up all its partitions
until the group has re-formed. What shortens that stall is how soon members notice a rebalance
(the heartbeat interval), and static membership (`ORDERFLOW_INSTANCE_ID`): a restarted instance
with the same id gets its partitions back without any rebalance, as long as it returns within the
session timeout. See docs/performance.md, "Scale-out".
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faststream.message import AckStatus

if TYPE_CHECKING:
    from faststream.kafka import KafkaMessage

    from services.runtime.config import Settings

log = logging.getLogger(__name__)


def batch_offsets(records: Any) -> dict[TopicPartition, int]:
    """Offset to commit per partition of the batch: one past its last record there."""
    offsets: dict[TopicPartition, int] = {}
    for record in records if isinstance(records, (tuple, list)) else (records,):
        tp = TopicPartition(record.topic, record.partition)
        if record.offset + 1 > offsets.get(tp, -1):
            offsets[tp] = record.offset + 1
    return offsets


class OffsetCommitter:
    """Commits, after a batch is applied, the offsets of the partitions it came from. A batch of
    records that were all ignored (other departments' events nobody here handles) needs no commit
    of its own: its offsets wait for the next applied batch, or at most `idle_interval` seconds,
    so that an idle-looking stream does not cost an offset commit per record. (Redelivering an
    ignored record costs nothing but skipping it again.)"""

    def __init__(self, idle_interval: float = 1.0, applied_interval: float = 0.0) -> None:
        self.idle_interval = idle_interval
        self.applied_interval = applied_interval
        self._pending: dict[TopicPartition, int] = {}
        self._last = 0.0

    async def commit(self, msg: "KafkaMessage", *, applied: bool) -> None:
        """Commit the batch's partitions (only those), and tell FastStream the message is
        acknowledged so that its own ack does not commit every assigned partition again."""
        for tp, offset in batch_offsets(msg.raw_message).items():
            self._pending[tp] = max(offset, self._pending.get(tp, 0))
        now = time.monotonic()
        due = self.applied_interval if applied else self.idle_interval
        if self._pending and now - self._last >= due:
            assigned = msg.consumer.assignment()
            offsets = {tp: offset for tp, offset in self._pending.items() if tp in assigned}
            self._pending.clear()
            self._last = now
            if offsets:
                try:
                    await msg.consumer.commit(offsets)
                except KafkaError as exc:
                    log.warning("offset commit failed (%s); the batch may be delivered again and is deduplicated",
                                exc)
        msg.committed = AckStatus.ACKED


def consumer_tuning(settings: "Settings") -> dict[str, Any]:
    """Consumer kwargs that trade a few milliseconds for batches under moderate load, and the
    group membership settings (static membership when an instance id is configured)."""
    tuning: dict[str, Any] = {
        # The broker answers a fetch when this many bytes are there or the wait has passed, so that
        # at moderate load a batch holds several records instead of one (fixed costs per batch).
        "fetch_min_bytes": settings.consumer_fetch_min_bytes,
        "fetch_max_wait_ms": settings.consumer_fetch_max_wait_ms,
        "heartbeat_interval_ms": settings.consumer_heartbeat_ms,
    }
    if settings.instance_id:
        tuning["group_instance_id"] = f"{settings.group_id()}-{settings.instance_id}"
    return tuning
