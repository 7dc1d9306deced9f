"""Prometheus metrics of a department service, all named here (the dashboard and the alert rules use
these names; tests/unit/test_observability.py checks every name they use exists).

Three kinds:
- counters and histograms updated as things happen: consumed records (consumer.py), outbox
  publications (outbox.py), order completion time (sales), HTTP requests (one histogram, by
  prometheus-fastapi-instrumentator), Kafka client metrics (FastStream's KafkaPrometheusMiddleware);
- gauges read from the database at scrape time (`refresh`), so they are exact and survive restarts:
  outbox backlog and age of its oldest row, open dead letters, the service's readiness, pool use;
  and the department's own (`Service.gauge(...)`, e.g. sales' orders by status);
- lag per consumer group: not here, in the lag exporter (services/lag_exporter).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg
from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram
from prometheus_fastapi_instrumentator import Instrumentator, metrics as http_metrics

if TYPE_CHECKING:
    from services.runtime.service import Service

log = logging.getLogger(__name__)

# --- as things happen --------------------------------------------------------------------------
CONSUMED = Counter("orderflow_consumed_total", "Consumed records by outcome", ["topic", "type", "outcome"])
HANDLER_SECONDS = Histogram("orderflow_handler_seconds", "Time from record to committed effect, per message type",
                            ["type"])
OUTBOX_PUBLISHED = Counter("orderflow_outbox_published_total", "Outbox messages published", ["topic"])
DEAD_LETTER_ACTIONS = Counter("orderflow_dead_letter_actions_total", "Operator actions on dead letters",
                              ["service", "action"])
ORDER_COMPLETION_SECONDS = Histogram(
    "orderflow_order_completion_seconds", "From order placed to final status (completed, rejected, cancelled)",
    ["outcome"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400))

# --- at scrape time, from the database ------------------------------------------------------------
OUTBOX_PENDING = Gauge("orderflow_outbox_pending", "Outbox messages committed but not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("orderflow_outbox_oldest_age_seconds",
                          "Age of the oldest unpublished outbox row (0 when none)", ["service"])
DEAD_LETTERS_OPEN = Gauge("orderflow_dead_letters_open", "Dead letters neither replayed nor skipped", ["service"])
DEAD_LETTERS_OLDEST_AGE = Gauge("orderflow_dead_letters_oldest_open_age_seconds",
                                "Age of the oldest open dead letter (0 when none)", ["service"])
READY = Gauge("orderflow_service_ready", "1 when the service accepts work and its database and broker answer",
              ["service"])
DB_POOL = Gauge("orderflow_db_pool_connections", "Database pool connections by state (in_use, idle, max)",
                ["service", "state"])
ORDERS = Gauge("orderflow_orders", "Orders by status (sales)", ["status"])
SAGA_ALERTS = Gauge("orderflow_saga_alerts_open", "Orders with an open saga alert (sales)")
PARKED_COMPENSATIONS = Gauge("orderflow_compensations_parked", "Compensations parked for a person (sales)")

ScrapeHook = Callable[[asyncpg.Pool], Awaitable[None]]


def instrument_http(app: FastAPI) -> None:
    """Request count and one latency histogram per handler template (no duplicate histograms: the
    instrumentator's default second high-resolution histogram and size metrics are left out)."""
    instrumentator = Instrumentator(should_group_status_codes=True, should_ignore_untemplated=True,
                                    excluded_handlers=["/metrics", "/health/live", "/health/ready"])
    instrumentator.add(http_metrics.requests(metric_namespace="orderflow"))
    instrumentator.add(http_metrics.latency(metric_namespace="orderflow",
                                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)))
    instrumentator.instrument(app)


async def refresh(service: "Service") -> None:
    """Scrape-time gauges; a database that is down leaves them as they were and READY at 0."""
    name = service.name
    checks = await service.readiness()
    READY.labels(name).set(1 if checks["ready"] else 0)
    pool = service.connected_pool
    if pool is None:
        return
    DB_POOL.labels(name, "in_use").set(pool.get_size() - pool.get_idle_size())
    DB_POOL.labels(name, "idle").set(pool.get_idle_size())
    DB_POOL.labels(name, "max").set(pool.get_max_size())
    try:
        row = await pool.fetchrow(
            "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS pending,"
            " (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM outbox"
            "   WHERE published_at IS NULL) AS outbox_age,"
            " (SELECT count(*) FROM dead_letters WHERE status = 'open') AS letters,"
            " (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM dead_letters"
            "   WHERE status = 'open') AS letters_age", timeout=5)
        OUTBOX_PENDING.labels(name).set(row["pending"])
        OUTBOX_OLDEST_AGE.labels(name).set(float(row["outbox_age"]))
        DEAD_LETTERS_OPEN.labels(name).set(row["letters"])
        DEAD_LETTERS_OLDEST_AGE.labels(name).set(float(row["letters_age"]))
        for hook in service.scrape_hooks:
            await hook(pool)
    except Exception as exc:  # noqa: BLE001 - metrics must not fail because the database is down
        log.warning("scrape-time metrics not refreshed: %s: %s", type(exc).__name__, exc)
