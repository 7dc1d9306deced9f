"""Live updates: the event topics, read as the `outside-reader` principal, turned into server-sent
events for the browser.

`EventFollower` consumes every topic the catalogue lets `outside-reader` read (each department's
`*.events.v1`, the partners' events, the risk feed) in a consumer group of its own under the
`outside-reader` prefix, one per console process (every console needs every event; none is ever
committed, a console starts from "now"). Each record becomes a `Change` (which order, which type)
on the `LiveHub`, which fans it out to the open SSE streams.

The browser is told only *that* something changed ("order", "orders", "risks", "alerts"); the page
then fetches the new state through the APIs with the user's token, so role filtering stays where
it is. A department's event may reach the console before sales has recorded it on the order, so an
order that went quiet is announced once more after `console_live_settle_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from contracts.topics import OUTSIDE_READER, topics_read_by
from services.console.settings import ConsoleSettings
from services.runtime.kafka_security import client_kwargs

log = logging.getLogger(__name__)

ALERT_TYPES = {"sales.saga_alert", "sales.decision_requested", "sales.decision_taken", "sales.order_review_concluded"}
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Change:
    topic: str             # logical topic
    type: str
    order_id: str | None   # the envelope's correlation id (every order-scoped message carries the order id)

    def kinds(self) -> set[str]:
        kinds = {"orders"} if self.order_id else set()
        if self.topic.startswith("risk."):
            kinds.add("risks")
        if self.type in ALERT_TYPES or self.topic.startswith("risk."):
            kinds.add("alerts")
        return kinds


class LiveHub:
    """Fan-out of changes to subscribers (one asyncio.Queue per open SSE stream)."""

    def __init__(self, settle_seconds: float = 1.0) -> None:
        self.settle_seconds = settle_seconds
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._settle: dict[str, asyncio.TimerHandle] = {}

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, change: Change, *, settling: bool = False) -> None:
        for queue in list(self._subscribers):
            if queue.full():                 # a stalled browser: drop its oldest, never block the consumer
                queue.get_nowait()
            queue.put_nowait(change)
        if change.order_id and not settling:
            if (pending := self._settle.pop(change.order_id, None)) is not None:
                pending.cancel()
            loop = asyncio.get_running_loop()
            settled = Change(change.topic, "settled", change.order_id)
            self._settle[change.order_id] = loop.call_later(self.settle_seconds, self._settled, settled)

    def _settled(self, change: Change) -> None:
        self._settle.pop(change.order_id or "", None)
        self.publish(change, settling=True)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


def change_of(logical_topic: str, value: bytes | None) -> Change | None:
    """The change a record announces; None for a record that is not an envelope (it is not ours to judge)."""
    try:
        body = json.loads(value or b"")
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return None
    correlation = body.get("correlation_id")
    return Change(logical_topic, body["type"], correlation if isinstance(correlation, str) else None)


class EventFollower:
    """Consumes the event topics as `outside-reader` and publishes each record's change on the hub."""

    def __init__(self, settings: ConsoleSettings, hub: LiveHub) -> None:
        self.settings = settings
        self.hub = hub
        instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.group_id = f"{settings.group_prefix}{OUTSIDE_READER}.console.{instance}"
        self.topics = [settings.topic(name) for name in topics_read_by(OUTSIDE_READER)]
        self.assigned = 0               # partitions assigned: live once every topic's partitions are
        self.error: str | None = None

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                self.error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("live events: Kafka unavailable (%s); retrying in %.0fs", type(exc).__name__, backoff)
            self.assigned = 0
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics, group_id=self.group_id, enable_auto_commit=False, auto_offset_reset="latest",
            client_id="orderflow-console", **client_kwargs(self.settings.as_principal(OUTSIDE_READER)))
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                self.assigned = len(consumer.assignment())
                self.error = None
                for records in batch.values():
                    for record in records:
                        change = change_of(self.settings.logical_topic(record.topic), record.value)
                        if change is not None:
                            self.hub.publish(change)
        finally:
            await consumer.stop()
