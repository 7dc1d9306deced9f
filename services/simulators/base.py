"""Shared simulator plumbing: consume a request topic, reply later on an events topic."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import ValidationError

from contracts.envelope import Envelope, Message, kafka_headers
from services.runtime.config import Settings
from services.runtime.offsets import OffsetCommitter
from services.runtime.service import QUIET_ACCESS_LOG, make_broker, whole_message
from services.runtime.version import version_of

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

    def http_port(self) -> int:
        """ORDERFLOW_<PARTY>_PORT or ORDERFLOW_HTTP_PORT (containers and Kubernetes probe the simulators
        there); otherwise an ephemeral port, so that several local stacks never collide."""
        explicit = os.environ.get(f"ORDERFLOW_{self.party.upper()}_PORT")
        return int(explicit) if explicit else (self.settings.http_port or 0)

    def http_app(self) -> FastAPI:
        """Health and metrics, like a department service; the broker lives in the app's lifespan."""
        @asynccontextmanager
        async def lifespan(app: FastAPI):
            await self.broker.start()
            log.info("%s simulator up on %s", self.party, self.settings.kafka_bootstrap)
            try:
                yield
            finally:
                await asyncio.gather(*self._pending, return_exceptions=True)   # send what is scheduled
                await self.broker.stop()

        http = FastAPI(title=f"orderflow {self.party} simulator", lifespan=lifespan)

        @http.get("/health/live", tags=["operations"])
        async def live() -> dict[str, str]:
            return {"status": "alive", "service": self.party, "version": version_of(self.party)}

        @http.get("/health/ready", tags=["operations"])
        async def ready() -> JSONResponse:
            try:
                broker = "ok" if await self.broker.ping(timeout=2) else "unreachable"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                broker = f"unreachable: {exc or type(exc).__name__}"
            return JSONResponse({"service": self.party, "broker": broker, "ready": broker == "ok"},
                                status_code=200 if broker == "ok" else 503)

        @http.get("/metrics", tags=["operations"])
        async def metrics() -> Response:
            return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

        return http

    async def run_forever(self) -> None:
        """Serve until SIGTERM/SIGINT (uvicorn handles them), then send what is scheduled and stop."""
        logging.basicConfig(level=os.environ.get("ORDERFLOW_LOG_LEVEL", "INFO"),
                            format=f"%(asctime)s {self.party}-sim %(levelname)s %(message)s")
        server = uvicorn.Server(uvicorn.Config(
            self.http_app(), host=self.settings.http_host, port=self.http_port(), log_level="warning",
            timeout_graceful_shutdown=int(self.settings.shutdown_grace_seconds)))
        await server.serve()
        if not server.started:
            raise SystemExit(f"{self.party} simulator could not start (see the log above)")
