"""Sales service: order intake (HTTP and `sales.commands.v1`), the order saga and its deadlines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Literal

import asyncpg

from contracts import customer, finance, logistics, procurement, sales, warehouse
from services.runtime.config import Settings
from services.runtime.service import Service
from services.sales import api, feedback, handlers, kpi_api, returns_api, review_api, risk_api, risk_feed, search
from services.sales.saga import ReviewPolicy, Timings


class SalesSettings(Settings):
    step_timeout_seconds: float = 300.0          # a step without reply is re-sent after this
    payment_deadline_seconds: float = 7 * 86400  # prepaid orders unpaid after this are cancelled
    compensation_timeout_seconds: float = 30.0   # first re-send of an unanswered compensation
    saga_max_attempts: int = 5
    saga_tick_seconds: float = 1.0
    # Joint review of major or special orders (services/sales/saga/review.py).
    review_thresholds: dict[str, Decimal] = {}   # per currency, e.g. {"SEK": "250000.00"}
    review_default_threshold: Decimal = Decimal("25000.00")
    review_new_customer_days: int = 90           # a customer this new is reviewed
    review_decision_seconds: float = 2 * 86400   # a sales manager decides a joint review by then ...
    review_default: Literal["reject", "approve"] = "reject"   # ... else this applies
    decision_seconds: float = 86400              # a decision needed, then its default (saga/decisions.py)
    credit_wait_seconds: float = 14 * 86400       # an order waiting for finance (credit hold) is cancelled after
    feedback_edit_seconds: float = 14 * 86400     # a customer's feedback can be changed this long
    kpi_dispatch_target_seconds: float = 2 * 86400  # timeliness: dispatched within this of the order
    kpi_refresh_seconds: float = 60.0             # how often the orderflow_kpi_* gauges are recomputed

    def timings(self) -> Timings:
        return Timings(step_timeout=dt.timedelta(seconds=self.step_timeout_seconds),
                       payment_deadline=dt.timedelta(seconds=self.payment_deadline_seconds),
                       compensation_timeout=dt.timedelta(seconds=self.compensation_timeout_seconds),
                       max_attempts=self.saga_max_attempts,
                       review_timeout=dt.timedelta(seconds=self.review_decision_seconds),
                       review_default=self.review_default,
                       decision_timeout=dt.timedelta(seconds=self.decision_seconds),
                       credit_wait=dt.timedelta(seconds=self.credit_wait_seconds))

    def review_policy(self) -> ReviewPolicy:
        return ReviewPolicy(thresholds={c.upper(): v for c, v in self.review_thresholds.items()},
                            default_threshold=self.review_default_threshold,
                            new_customer_days=self.review_new_customer_days)


settings = SalesSettings()
timings = settings.timings()
service = Service(
    "sales",
    settings=settings,
    migrations=Path(__file__).parent / "migrations",
    subscribe=[sales.COMMANDS, finance.EVENTS, warehouse.EVENTS, logistics.EVENTS, procurement.EVENTS,
               customer.RECEIPTS],
    description="Order intake, the order saga and every order's timeline",
)
handlers.review_policy = settings.review_policy()
handlers.register(service.consumer, timings)
risk_feed.register(service.consumer)
service.http.include_router(api.router(service, timings))
service.http.include_router(review_api.router(service, timings))
service.http.include_router(risk_api.router(service))
service.http.include_router(search.router(service))
service.http.include_router(returns_api.router(service, timings))
service.http.include_router(feedback.router(service, dt.timedelta(seconds=settings.feedback_edit_seconds)))
kpi_target = dt.timedelta(seconds=settings.kpi_dispatch_target_seconds)
service.http.include_router(kpi_api.router(service, kpi_target))


@service.every(settings.saga_tick_seconds, "saga-deadlines")
async def deadlines(pool: asyncpg.Pool) -> None:
    await handlers.run_deadlines(pool, timings)


@service.every(settings.kpi_refresh_seconds, "kpi-gauges")
async def kpi_gauges(pool: asyncpg.Pool) -> None:
    await kpi_api.refresh_gauges(pool, kpi_target)


app = service.http
