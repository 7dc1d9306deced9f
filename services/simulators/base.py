"""Shared simulator plumbing: consume a request topic, reply later on an events topic."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from pydantic import ValidationError

from contracts.envelope import Envelope, Message, kafka_headers
from services.runtime.config import Settings
from services.runtime.offsets import OffsetCommitter
from services.runtime.service import QUIET_ACCESS_LOG, make_broker, whole_message

log = logging.getLogger(__name__)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_set(name: str) -> set[str]:
    return {v.strip() for v in os.environ.get(name, "").split(",") if v.strip()}


class Simulator:
    def __init__(self, party: str, requests_topic: str) -> None:
        self.party = party
        self.settings = Settings(service=party)
        self.broker = make_broker(self.settings, log_level=QUIET_ACCESS_LOG)
        self._handlers: dict[type[Message], Callable[[Any, Envelope], Awaitable[None]]] = {}
        self._pending: set[asyncio.Task] = set()
        self._offsets = OffsetCommitter()

        # Batches, and offsets committed for the batch's partitions only (services/runtime/offsets.py).
        @self.broker.subscriber(self.settings.topic(requests_topic), group_id=self.settings.group_id(),
                                batch=True, max_records=100, ack_policy=AckPolicy.ACK,
                                auto_offset_reset="earliest", decoder=whole_message)
        async def on_requests(msg):  # noqa: ANN001, ANN202 - the KafkaMessage, see whole_message
            for record in msg.raw_message:
                try:
                    await self._handle(record.value)
                except Exception:  # noqa: BLE001 - one failing request must not drop the rest of the batch
                    log.exception("%s could not answer %s/%s@%s; skipped", party, record.topic, record.partition,
                                  record.offset)
            await self._offsets.commit(msg, applied=True)

    async def _handle(self, body: bytes) -> None:
        try:
            envelope = Envelope.model_validate_json(body)
            message = envelope.decode()
        except (ValidationError, KeyError) as exc:
            log.warning("%s ignores an unreadable request: %s", self.party, exc)
            return
        handler = self._handlers.get(type(message))
        if handler:
            await handler(message, envelope)

    def on(self, message_type: type[Message]):
        def register(handler):
            self._handlers[message_type] = handler
            return handler
        return register

    async def send(self, message: Message, cause: Envelope) -> None:
        envelope = Envelope.wrap(message, correlation_id=cause.correlation_id, producer=self.party,
                                 causation_id=cause.message_id, trace=cause.trace)
        body = envelope.model_dump(mode="json")
        await self.broker.publish(json.dumps(body).encode(), topic=self.settings.topic(message.TOPIC),
                                  key=cause.correlation_id.encode(), headers=kafka_headers(body))

    def later(self, delay: float, message: Message, cause: Envelope) -> None:
        async def send_later() -> None:
            await asyncio.sleep(delay)
            await self.send(message, cause)
        task = asyncio.create_task(send_later())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def run_forever(self) -> None:
        logging.basicConfig(level=os.environ.get("ORDERFLOW_LOG_LEVEL", "INFO"),
                            format=f"%(asctime)s {self.party}-sim %(levelname)s %(message)s")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.broker.start()
        log.info("%s simulator up on %s", self.party, self.settings.kafka_bootstrap)
        await stop.wait()
        await asyncio.gather(*self._pending, return_exceptions=True)   # send what is scheduled
        await self.broker.stop()
