"""The lag exporter: polls every orderflow consumer group as `monitor` and serves Prometheus metrics.

Why a process of its own rather than each service reporting its own group: a consumer that is
frozen (SIGSTOP, a wedged event loop, a long GC pause) or dead cannot report anything, and a
service sees only its own group; one watcher outside the consumers sees all of them, keeps the
history that lag in seconds and the STALLED/STOPPED status need, and needs only the `monitor`
principal (DESCRIBE on topics and groups, no data). It is stateless: after a restart the status
says "window not yet covered" until one window of history is back.

    python -m services.lag_exporter      # ORDERFLOW_LAG_* settings below; HTTP /metrics, /health/*

Metrics (labels group, topic, partition; per group: group):
  orderflow_consumer_committed_offset, orderflow_consumer_end_offset, orderflow_consumer_lag_messages,
  orderflow_consumer_lag_seconds, orderflow_consumer_group_lag_messages (sum),
  orderflow_consumer_group_lag_seconds (worst partition), orderflow_consumer_group_members,
  orderflow_consumer_group_status{status=OK|WARNING|STALLED|STOPPED} (1 for the current one),
  orderflow_lag_exporter_last_poll_timestamp_seconds, orderflow_lag_exporter_poll_errors_total.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.lag_exporter import __version__
from services.runtime import logging_setup
from services.runtime.config import Settings
from services.runtime.kafka_lag import LagReader, our_groups
from services.runtime.lag_status import GroupReport, LagTracker, Status

log = logging.getLogger(__name__)

COMPONENT = "lag_exporter"
DEFAULT_PORT = 8086


class ExporterSettings(Settings):
    lag_poll_seconds: float = 10.0      # how often offsets are read
    lag_window_seconds: float = 120.0   # STALLED / WARNING are judged over this window
    lag_all_groups: bool = False        # every group on the cluster, not only orderflow's


class LagCollector(Collector):
    """Turns the latest report into metric families at scrape time (no stale label sets)."""

    def __init__(self) -> None:
        self.reports: list[GroupReport] = []

    def collect(self) -> Iterator[Metric]:
        partition_labels = ["group", "topic", "partition"]
        families = {
            "committed": GaugeMetricFamily("orderflow_consumer_committed_offset",
                                           "Committed offset of the group on the partition", labels=partition_labels),
            "end": GaugeMetricFamily("orderflow_consumer_end_offset", "End (log-end) offset of the partition",
                                     labels=partition_labels),
            "lag": GaugeMetricFamily("orderflow_consumer_lag_messages", "End offset minus committed offset",
                                     labels=partition_labels),
            "seconds": GaugeMetricFamily("orderflow_consumer_lag_seconds",
                                         "Age of the record at the committed offset (0 without lag)",
                                         labels=partition_labels),
        }
        group_lag = GaugeMetricFamily("orderflow_consumer_group_lag_messages", "Sum of the group's lag", labels=["group"])
        group_seconds = GaugeMetricFamily("orderflow_consumer_group_lag_seconds", "The group's worst lag in seconds",
                                          labels=["group"])
        members = GaugeMetricFamily("orderflow_consumer_group_members", "Active members of the group", labels=["group"])
        status = GaugeMetricFamily("orderflow_consumer_group_status",
                                   "1 for the group's current status (OK, WARNING, STALLED, STOPPED)",
                                   labels=["group", "status"])
        for report in self.reports:
            for p in report.partitions:
                labels = [p.group, p.topic, str(p.partition)]
                families["committed"].add_metric(labels, p.committed)
                families["end"].add_metric(labels, p.end)
                families["lag"].add_metric(labels, p.lag)
                families["seconds"].add_metric(labels, round(p.lag_seconds, 3))
            group_lag.add_metric([report.group], report.lag)
            group_seconds.add_metric([report.group], round(report.lag_seconds, 3))
            members.add_metric([report.group], report.members)
            for candidate in Status:
                status.add_metric([report.group, candidate.value], 1.0 if report.status == candidate else 0.0)
        yield from families.values()
        yield from (group_lag, group_seconds, members, status)


class Exporter:
    def __init__(self, settings: ExporterSettings) -> None:
        self.settings = settings
        self.tracker = LagTracker(settings.lag_window_seconds)
        self.registry = CollectorRegistry()
        self.collector = LagCollector()
        self.registry.register(self.collector)
        self.errors = Counter("orderflow_lag_exporter_poll_errors_total", "Polls that failed (Kafka unreachable...)",
                              registry=self.registry)
        self.last_poll = 0.0
        Gauge("orderflow_lag_exporter_last_poll_timestamp_seconds", "When offsets were last read (epoch seconds)",
              registry=self.registry).set_function(lambda: self.last_poll)
        self._last_state: dict[str, Status] = {}

    def groups(self, existing: list[str]) -> list[str]:
        return existing if self.settings.lag_all_groups else our_groups(self.settings)

    async def poll_forever(self) -> None:
        while True:
            try:
                async with LagReader(self.settings, client_id="orderflow-lag-exporter") as reader:
                    while True:
                        snapshot = await reader.snapshot(self.groups(await reader.existing_groups()))
                        self.observe(snapshot)
                        await asyncio.sleep(self.settings.lag_poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep watching; /health/ready says we are blind
                self.errors.inc()
                log.warning("reading consumer offsets failed: %s; retrying", exc or type(exc).__name__)
                await asyncio.sleep(self.settings.lag_poll_seconds)

    def observe(self, snapshot) -> None:
        self.tracker.observe(snapshot)
        reports = self.tracker.report()
        self.collector.reports = reports
        self.last_poll = snapshot.at
        for report in reports:           # a status change is worth a log line, a steady state is not
            if self._last_state.get(report.group) != report.status:
                level = logging.INFO if report.status == Status.OK else logging.WARNING
                log.log(level, "group %s is %s: %s (lag %d messages, %.1fs)", report.group, report.status.value,
                        report.reason, report.lag, report.lag_seconds)
                self._last_state[report.group] = report.status

    def fresh(self) -> bool:
        return time.time() - self.last_poll < 3 * self.settings.lag_poll_seconds + 5

    def metrics(self) -> bytes:
        return generate_latest(self.registry)


def http_app(exporter: Exporter) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(exporter.poll_forever(), name="lag-poll")
        log.info("lag exporter watching %s every %gs (window %gs) on %s",
                 "every group" if exporter.settings.lag_all_groups else "the orderflow groups",
                 exporter.settings.lag_poll_seconds, exporter.settings.lag_window_seconds,
                 exporter.settings.kafka_bootstrap)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    http = FastAPI(title="orderflow lag exporter", lifespan=lifespan)

    @http.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": COMPONENT, "version": __version__}

    @http.get("/health/ready")
    async def ready() -> JSONResponse:
        ok = exporter.fresh()
        return JSONResponse({"service": COMPONENT, "ready": ok, "last_poll": exporter.last_poll},
                            status_code=200 if ok else 503)

    @http.get("/metrics")
    async def metrics() -> Response:
        return Response(exporter.metrics(), media_type=CONTENT_TYPE_LATEST)

    return http


def main() -> None:
    settings = ExporterSettings(service=COMPONENT)
    logging_setup.setup(COMPONENT)
    port = int(settings._service_env("PORT") or settings.http_port or DEFAULT_PORT)
    uvicorn.run(http_app(Exporter(settings)), host=settings.http_host, port=port, log_level="warning",
                log_config=None, timeout_graceful_shutdown=5)
