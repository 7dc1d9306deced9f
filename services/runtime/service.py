"""`Service`: one department process = FastStream consumer + outbox relay + FastAPI HTTP.

A department module creates a Service, registers handlers on `service.consumer` and routes on
`service.http`, and runs `service.run()`. Start-up: HTTP answers at once (`/health/live`); in the
background the database, migrations, the Kafka consumer and the relay come up, each dependency
retried with backoff until it answers (startup.py), then ready. SIGTERM (uvicorn): not ready ->
consumers stop after their in-flight message commits -> the relay publishes what is committed ->
connections close.
HTTP: every route but /health/* needs a bearer token and declares its roles (http_auth.py);
actions and refusals are audited (audit.py); bad input, oversized bodies and a database outage get
4xx/503 answers, never a 500 (http_hardening.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from aiokafka import ConsumerRecord
from fastapi import FastAPI, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from contracts import asyncapi
from contracts.topics import replay_topic, topics_read_by
from services.runtime import audit, dead_letter_api, http_auth, http_hardening, logging_setup, metrics, startup, tracing
from services.runtime.config import Settings
from services.runtime.consumer import Consumer
from services.runtime.db import create_pool, migrate
from services.runtime.http_hardening import DependencyUnavailable, IsoDateTime
from services.runtime.http_auth import requires
from services.runtime.kafka_security import faststream_security
from services.runtime.offsets import OffsetCommitter, consumer_tuning
from services.runtime.outbox import Relay
from services.runtime.retention import prune_inbox
from services.runtime.roles import ALL as ANY_ROLE, AUDITOR, OPERATOR
from services.runtime.tokens import AuthSettings, TokenVerifier
from services.runtime.version import version_of

log = logging.getLogger(__name__)

PeriodicJob = Callable[[asyncpg.Pool], Awaitable[Any]]
# FastStream logs "Received"/"Processed" for every batch at this level on its own INFO logger: at
# DEBUG they are dropped (they cost ~8% of a consumer's CPU at moderate load); what happened to each
# record is in the consumer's own warnings, the dead letters and the orderflow_consumed_total metric.
QUIET_ACCESS_LOG = logging.DEBUG


async def whole_message(message: Any) -> Any:
    """The handler gets the KafkaMessage itself as its one argument: validation is ours
    (consumer.process_batch), so that a bad record is dead-lettered, not retried; and no
    `Context` parameter, which FastStream resolves in a worker thread for every batch."""
    return message


async def _tolerant_parser(records: Any, parse: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream decodes header values as UTF-8; a record with binary headers must still reach
    the consumer (to be dead-lettered), not fail before it and be redelivered forever."""
    try:
        return await parse(records)
    except UnicodeDecodeError:
        def clean(record: ConsumerRecord) -> ConsumerRecord:
            headers = [(k, v.decode("utf-8", "replace").encode()) for k, v in (record.headers or ())]
            return dataclasses.replace(record, headers=headers)
        cleaned = tuple(map(clean, records)) if isinstance(records, tuple) else clean(records)
        return await parse(cleaned)


def make_broker(settings: Settings, **kwargs: Any) -> KafkaBroker:
    tracing.setup(settings.service)          # before the broker: its telemetry middleware needs the provider
    return KafkaBroker(
        settings.kafka_bootstrap,
        security=faststream_security(settings),   # SASL_SSL + SCRAM by default: the broker enforces ACLs
        client_id=f"orderflow-{settings.service}",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        allow_auto_create_topics=False,
        graceful_timeout=settings.shutdown_grace_seconds,
        middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY, app_name=settings.service),
                     *tracing.broker_middlewares()],
        logger=logging.getLogger("faststream"),
        log_level=QUIET_ACCESS_LOG,           # its per-batch lines: DEBUG, off the hot path at INFO
        **kwargs,
    )


class Service:
    def __init__(self, name: str, *, settings: Settings, migrations: Path, subscribe: list[str],
                 description: str = "") -> None:
        settings.service = name
        self.name = name
        self.settings = settings
        self.migrations = migrations
        self._pool: asyncpg.Pool | None = None
        self.broker = make_broker(settings, description=description)
        self.consumer = Consumer(name, settings)
        self.offsets = OffsetCommitter(applied_interval=settings.consumer_commit_interval_ms / 1000)
        self.relay: Relay | None = None
        self._jobs: list[tuple[str, float, PeriodicJob]] = []
        self.scrape_hooks: list[metrics.ScrapeHook] = []
        self._tasks: list[asyncio.Task] = []
        self._accepting = False
        self._startup: asyncio.Task | None = None
        self._fatal = False               # start-up gave up: the process exits with status 1
        self.database = startup.Dependency("database")
        self.kafka = startup.Dependency("broker")
        self._subscribe(sorted({*subscribe, replay_topic(name)}))   # + operators' replays of its dead letters
        self.auth = TokenVerifier(AuthSettings())
        self.every(settings.inbox_prune_seconds, "inbox-prune")(
            lambda pool: prune_inbox(pool, self.settings.inbox_retention_seconds))
        self.http = FastAPI(title=f"orderflow {name}", description=description, lifespan=self._lifespan)
        http_hardening.install(self.http, max_body_bytes=settings.http_max_body_bytes)   # inside the auth layer
        http_auth.install(self.http, verifier=self.auth, is_public=self.is_public, pool=lambda: self._pool)
        metrics.instrument_http(self.http)
        tracing.instrument_http(self.http)
        self._add_operational_routes()
        self.http.include_router(dead_letter_api.router(self, settings.logical_topic))

    @property
    def pool(self) -> asyncpg.Pool:
        """The database pool; a request before the database was first reached gets a 503."""
        if self._pool is None:
            raise DependencyUnavailable("database", self.database.state)
        return self._pool

    @property
    def connected_pool(self) -> asyncpg.Pool | None:
        """The pool once the database was first reached, else None (for what must not raise)."""
        return self._pool

    def is_public(self, path: str) -> bool:
        """Paths served without a token: health probes, and metrics unless ORDERFLOW_METRICS_PUBLIC=false."""
        return path.startswith("/health/") or (path == "/metrics" and self.settings.metrics_public)

    # --- wiring -------------------------------------------------------------------------------

    def _subscribe(self, topics: list[str]) -> None:
        # The catalogue's `readers` become this service's Kafka ACLs: subscribing to anything else
        # would fail at the broker, so say so at start-up instead.
        if sorted(topics) != sorted(topics_read_by(self.name)):
            raise ValueError(f"{self.name} subscribes to {sorted(topics)}, but the topic catalogue lets it read "
                             f"{sorted(topics_read_by(self.name))}: update contracts/topics.py readers")
        subscriber = self.broker.subscriber(
            *(self.settings.topic(t) for t in topics),
            group_id=self.settings.group_id(),
            batch=True,                            # one DB transaction and one offset commit per batch
            max_records=self.settings.consumer_batch_size,
            batch_timeout_ms=200,
            ack_policy=AckPolicy.NACK_ON_ERROR,    # on failure seek back; success: self.offsets
            **consumer_tuning(self.settings),
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            parser=_tolerant_parser,
            decoder=whole_message,
            title=f"{self.name} consumer",
            description=f"Consumer group {self.settings.group_id()!r}",
        )

        @subscriber
        async def on_records(msg):  # noqa: ANN001, ANN202 - unannotated: FastStream passes it as is
            applied = await self.consumer.process_batch(msg.raw_message)
            await self.offsets.commit(msg, applied=applied > 0)

    def asyncapi_document(self) -> dict[str, Any]:
        """This service's AsyncAPI document (contracts/asyncapi.py), for its environment's prefixes."""
        return asyncapi.document(self.name, version=version_of(self.name), bootstrap=self.settings.kafka_bootstrap,
                                 prefix=self.settings.topic_prefix, group_prefix=self.settings.group_prefix)

    def on_scrape(self, hook: metrics.ScrapeHook) -> metrics.ScrapeHook:
        """Register a department's own scrape-time gauges (read from its database at each /metrics)."""
        self.scrape_hooks.append(hook)
        return hook

    def every(self, seconds: float, name: str) -> Callable[[PeriodicJob], PeriodicJob]:
        """Register a periodic job (deadlines, expiries) run with the pool while the service is up."""
        def register(job: PeriodicJob) -> PeriodicJob:
            self._jobs.append((name, seconds, job))
            return job
        return register

    # --- lifecycle ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI):
        # A misconfiguration (routes without roles, no token keys, no credentials) stops the start;
        # an unreachable dependency does not: HTTP answers while _connect waits for it.
        http_auth.check_routes(self.http, self.is_public)
        self.auth.check_keys()
        log.info("%s: HTTP callers must authenticate: %s", self.name, self.auth.describe())
        dsn = self.settings.dsn()
        self._startup = asyncio.create_task(self._connect(dsn), name="startup")
        try:
            yield
        finally:
            await self._shutdown()

    def _backoff(self) -> startup.Backoff:
        s = self.settings
        return startup.Backoff(initial=s.startup_retry_initial_seconds, maximum=s.startup_retry_max_seconds,
                               max_wait=s.startup_max_wait_seconds)

    async def _connect(self, dsn: str) -> None:
        """Database, migrations, broker, relay, jobs: each dependency retried until it answers."""
        try:
            async def database() -> asyncpg.Pool:
                pool = await create_pool(dsn, size=self.settings.db_pool_size, wait_seconds=0)
                try:
                    applied = await migrate(pool, self.migrations)
                except BaseException:
                    await pool.close()
                    raise
                if applied:
                    log.info("%s: applied %d migrations", self.name, len(applied))
                return pool

            self._pool = await startup.until_up(self.database, database, self._backoff(),
                                                retry_on=(RuntimeError, *http_hardening.DATABASE_DOWN))
            self.consumer.pool = self._pool
            await startup.until_up(self.kafka, self._start_broker, self._backoff())
            self.relay = Relay(self._pool, self.broker, self.settings)
            await self.relay.start()
            self._tasks = [asyncio.create_task(self._run_job(*job), name=job[0]) for job in self._jobs]
            self._accepting = True
            log.info("%s ready: http %s:%s, kafka %s, consuming as %s", self.name, self.settings.http_host,
                     self.settings.port(), self.settings.kafka_bootstrap, self.settings.group_id())
        except asyncio.CancelledError:
            raise
        except Exception:
            # Not an outage (or ORDERFLOW_STARTUP_MAX_WAIT_SECONDS ran out): stop, let the supervisor see it.
            log.critical("%s cannot start", self.name, exc_info=True)
            self._fatal = True
            os.kill(os.getpid(), signal.SIGTERM)

    async def _start_broker(self) -> None:
        try:
            await self.broker.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.broker.stop()      # close the half-started clients before the next attempt
            raise

    async def _shutdown(self) -> None:
        self._accepting = False
        if self._startup is not None and not self._startup.done():
            self._startup.cancel()
            await asyncio.gather(self._startup, return_exceptions=True)
        log.info("%s stopping: finishing in-flight messages", self.name)
        for subscriber in self.broker.subscribers:
            await subscriber.stop()            # waits for the in-flight handler to commit
        await self.consumer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.relay:
            await self.relay.stop()            # publish what is committed while the producer is up
        await self.broker.stop()
        if self._pool:
            await self._pool.close()
        tracing.shutdown()                     # flush the last spans
        log.info("%s stopped", self.name)

    async def _run_job(self, name: str, seconds: float, job: PeriodicJob) -> None:
        while True:
            try:
                await job(self._pool)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job %s failed; it runs again in %ss", name, seconds)
            await asyncio.sleep(seconds)

    # --- HTTP: health, metrics, AsyncAPI, audit (dead letters: dead_letter_api.py) ----------------

    async def readiness(self) -> dict[str, Any]:
        """Which dependency is missing, and why: while starting, what start-up is waiting for."""
        checks: dict[str, Any] = {"accepting": self._accepting}
        if self._pool is None:
            checks["database"] = self.database.state
        else:
            try:
                async with self._pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1")
                checks["database"] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                checks["database"] = f"unreachable: {startup.describe(exc)}"
        if not self.kafka.up:
            checks["broker"] = self.kafka.state if self._pool is not None else "waiting for the database first"
        else:
            try:
                checks["broker"] = "ok" if await self.broker.ping(timeout=2) else "unreachable"
            except Exception as exc:  # noqa: BLE001
                checks["broker"] = f"unreachable: {startup.describe(exc)}"
        checks["ready"] = checks["accepting"] and checks["database"] == "ok" and checks["broker"] == "ok"
        return checks

    def _add_operational_routes(self) -> None:
        http = self.http

        @http.get("/health/live", tags=["operations"])
        async def live() -> dict[str, str]:
            return {"status": "alive", "service": self.name, "version": version_of(self.name)}

        @http.get("/health/ready", tags=["operations"])
        async def ready() -> JSONResponse:
            checks = await self.readiness()
            if checks["ready"]:
                return JSONResponse({"service": self.name, **checks})
            return JSONResponse({"service": self.name, **checks}, status_code=503,
                                headers={"Retry-After": str(http_hardening.RETRY_AFTER_SECONDS)})

        @http.get("/metrics", tags=["operations"], response_class=PlainTextResponse,
                  dependencies=[] if self.settings.metrics_public else [requires(OPERATOR, AUDITOR)])
        async def prometheus_metrics() -> Response:
            await metrics.refresh(self)
            return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

        @http.get("/asyncapi.json", tags=["operations"], dependencies=[requires(*ANY_ROLE)])
        async def asyncapi() -> JSONResponse:
            return JSONResponse(self.asyncapi_document())

        @http.get("/audit", tags=["operations"], dependencies=[requires(AUDITOR, OPERATOR)])
        async def audit_log(order_id: str | None = Query(default=None, max_length=64),
                            subject: str | None = Query(default=None, max_length=200),
                            since: IsoDateTime | None = None,
                            limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
            """Who did what through this service's API, newest first: every action (non-GET request)
            and every refusal (401/403), with subject, roles, source address, request excerpt, outcome."""
            return await audit.search(self.pool, order_id=order_id, subject=subject, since=since, limit=limit)

    # --- entry point --------------------------------------------------------------------------

    def run(self) -> None:
        logging_setup.setup(self.name)
        trusted = self.settings.http_trusted_proxies
        uvicorn.run(self.http, host=self.settings.http_host, port=self.settings.port(),
                    log_level="warning", log_config=None, timeout_graceful_shutdown=int(self.settings.shutdown_grace_seconds),
                    proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None)
        if self._fatal:
            raise SystemExit(1)
