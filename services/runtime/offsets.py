"""Kafka offsets and consumer-group membership for the business consumers.

Offsets: FastStream's ack commits `consumer.commit()` with no argument, which writes the position
of EVERY assigned partition (24-30 per service) after every batch: hundreds of `__consumer_offsets`
records per order. `OffsetCommitter` commits only the partitions the batch came from, at the offset
after its last record, still only after the batch's database transaction committed.

A commit that fails (a rebalance took the partition away, the coordinator moved) is logged, not
raised: the records are already applied, and whoever reads them again finds them in the inbox.

Anchors: a partition that never had a record has no committed offset, and lag tools (ours, Kafka's
ConsumerGroupCommand, Burrow) cannot see lag on it: a consumer frozen before the first record of a
partition would look healthy. So once per assignment, the first commit also writes the current
position of every assigned partition that has no committed offset yet (where reading continues).

Membership (`consumer_tuning`): aiokafka 0.14 speaks only the eager rebalance protocol (no
cooperative-sticky), so a joining or leaving member makes every member give up all its partitions
until the group has re-formed. What shortens that stall is how soon members notice a rebalance
(the heartbeat interval), and static membership (`ORDERFLOW_INSTANCE_ID`): a restarted instance
with the same id gets its partitions back without any rebalance, as long as it returns within the
session timeout. See docs/performance.md, "Scale-out".
"""

from __future__ import annotations

import asyncio
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
    of its own: its offsets wait for the next applied batch, or at most `idle_interval` seconds
    (a flush then commits them even when no other batch comes, so that a stream that went quiet
    shows no lag), so that an idle-looking stream does not cost an offset commit per record.
    (Redelivering an ignored record costs nothing but skipping it again.)"""

    def __init__(self, idle_interval: float = 1.0, applied_interval: float = 0.0) -> None:
        self.idle_interval = idle_interval
        self.applied_interval = applied_interval
        self._pending: dict[TopicPartition, int] = {}
        self._last = 0.0
        self._anchored: set[TopicPartition] = set()
        self._flush: asyncio.Task | None = None

    async def commit(self, msg: "KafkaMessage", *, applied: bool) -> None:
        """Commit the batch's partitions (only those), and tell FastStream the message is
        acknowledged so that its own ack does not commit every assigned partition again."""
        for tp, offset in batch_offsets(msg.raw_message).items():
            self._pending[tp] = max(offset, self._pending.get(tp, 0))
        now = time.monotonic()
        due = self.applied_interval if applied else self.idle_interval
        anchors = await self._anchors(msg.consumer)
        if anchors or (self._pending and now - self._last >= due):
            assigned = msg.consumer.assignment()
            offsets = {**anchors, **{tp: offset for tp, offset in self._pending.items() if tp in assigned}}
            self._pending.clear()
            self._last = now
            await _commit(msg.consumer, offsets)
        elif self._pending and self._flush is None:
            self._flush = asyncio.create_task(self._flush_later(msg.consumer, due - (now - self._last)))
        msg.committed = AckStatus.ACKED

    async def _flush_later(self, consumer: Any, delay: float) -> None:
        """Commit what is still pending once `delay` has passed, if no batch did it meanwhile."""
        try:
            await asyncio.sleep(max(delay, 0.0))
            if self._pending:
                assigned = consumer.assignment()
                offsets = {tp: offset for tp, offset in self._pending.items() if tp in assigned}
                self._pending.clear()
                self._last = time.monotonic()
                await _commit(consumer, offsets)
        except Exception:  # noqa: BLE001 - e.g. the consumer stopped meanwhile: the offsets are re-read
            log.debug("pending offsets not flushed", exc_info=True)
        finally:
            self._flush = None

    async def _anchors(self, consumer: Any) -> dict[TopicPartition, int]:
        """Positions of newly assigned partitions without a committed offset (see the module doc)."""
        assigned = consumer.assignment()
        fresh = assigned - self._anchored
        self._anchored = (self._anchored & assigned) | fresh
        anchors = {}
        for tp in fresh:
            try:
                if await consumer.committed(tp) is None:
                    anchors[tp] = await consumer.position(tp)
            except KafkaError as exc:     # tried again after the next rebalance
                log.warning("could not anchor the offset of %s (%s)", tp, exc)
                self._anchored.discard(tp)
        return anchors


async def _commit(consumer: Any, offsets: dict[TopicPartition, int]) -> None:
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:
        log.warning("offset commit failed (%s); the batch may be delivered again and is deduplicated", exc)


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
