"""Sales service: order intake (HTTP and `sales.commands.v1`), the order saga and its deadlines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg

from contracts import finance, logistics, procurement, sales, warehouse
from services.runtime import metrics
from services.runtime.config import Settings
from services.runtime.service import Service
from services.sales import api, handlers, store
from services.sales.saga import Status, Timings


class SalesSettings(Settings):
    step_timeout_seconds: float = 300.0          # a step without reply is re-sent after this
    payment_deadline_seconds: float = 7 * 86400  # prepaid orders unpaid after this are cancelled
    compensation_timeout_seconds: float = 30.0   # first re-send of an unanswered compensation
    saga_max_attempts: int = 5
    saga_tick_seconds: float = 1.0

    def timings(self) -> Timings:
        return Timings(step_timeout=dt.timedelta(seconds=self.step_timeout_seconds),
                       payment_deadline=dt.timedelta(seconds=self.payment_deadline_seconds),
                       compensation_timeout=dt.timedelta(seconds=self.compensation_timeout_seconds),
                       max_attempts=self.saga_max_attempts)


settings = SalesSettings()
timings = settings.timings()
service = Service(
    "sales",
    settings=settings,
    migrations=Path(__file__).parent / "migrations",
    subscribe=[sales.COMMANDS, finance.EVENTS, warehouse.EVENTS, logistics.EVENTS, procurement.EVENTS],
    description="Order intake, the order saga and every order's timeline",
)
handlers.register(service.consumer, timings)
service.http.include_router(api.router(service, timings))


@service.every(settings.saga_tick_seconds, "saga-deadlines")
async def deadlines(pool: asyncpg.Pool) -> None:
    await handlers.run_deadlines(pool, timings)


app = service.http


@service.on_scrape
async def order_gauges(pool: asyncpg.Pool) -> None:
    counts = await store.orders_by_status(pool)
    for status in Status:
        metrics.ORDERS.labels(status.value).set(counts.get(status.value, 0))
    alerts, parked = await store.needing_a_person(pool)
    metrics.SAGA_ALERTS.set(alerts)
    metrics.PARKED_COMPENSATIONS.set(parked)
