"""Sales HTTP API and gauges for the KPIs (calculation: kpis.py). `GET /kpis` per period, filtered by
customer or product, or broken down by either; Prometheus gauges `orderflow_kpi_*` for the trailing
30 days, refreshed every ORDERFLOW_KPI_REFRESH_SECONDS, for the dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import Gauge

from services.runtime.http_auth import requires
from services.runtime.http_hardening import IsoDateOrDateTime
from services.runtime.roles import AUDITOR, FINANCE, SALES_MANAGER
from services.runtime.service import Service
from services.sales import kpis, store

PARAMETERS = frozenset({"from", "to", "period", "customer_id", "sku", "group_by"})
WINDOW = dt.timedelta(days=30)

GAUGES = {
    "dispatch_median": Gauge("orderflow_kpi_dispatch_median_seconds", "Median time from order to first dispatch"),
    "dispatch_p90": Gauge("orderflow_kpi_dispatch_p90_seconds", "p90 time from order to first dispatch"),
    "within_target": Gauge("orderflow_kpi_dispatched_within_target_ratio", "Orders dispatched within the target"),
    "on_time": Gauge("orderflow_kpi_on_time_delivery_ratio", "Shipments delivered by the promised date"),
    "accuracy": Gauge("orderflow_kpi_order_accuracy_ratio", "Orders delivered as ordered"),
    "rating": Gauge("orderflow_kpi_customer_rating", "Mean feedback rating (1-5)"),
    "response": Gauge("orderflow_kpi_feedback_response_ratio", "Delivered orders with feedback"),
    "turnover": Gauge("orderflow_kpi_inventory_turnover", "Cost of goods sold / average stock value"),
    "margin": Gauge("orderflow_kpi_profit_margin_ratio", "(Net revenue - cost of goods - shipping) / net revenue"),
}


def _utc(value: dt.date | dt.datetime, *, end: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    day = dt.datetime.combine(value, dt.time.min, tzinfo=dt.timezone.utc)
    return day + dt.timedelta(days=1) if end else day


async def evaluate(pool: asyncpg.Pool, start: dt.datetime, end: dt.datetime, *, target: dt.timedelta,
                   period: str | None = None, customer_id: str | None = None, sku: str | None = None,
                   group_by: str | None = None) -> dict[str, Any]:
    orders = await store.kpi_facts(pool, start, end, customer_id)
    snapshots = await store.stock_snapshots(pool, start, end, sku)
    result = []
    for label, a, b in kpis.periods(start, end, period):
        entry: dict[str, Any] = {"period": label, "from": a, "to": b,
                                 "kpis": kpis.compute(orders, snapshots, a, b, target=target, customer_id=customer_id,
                                                      sku=sku)}
        if group_by == "customer":
            customers = sorted({o.order.customer_id for o in orders})
            entry["by_customer"] = {c: kpis.compute(orders, snapshots, a, b, target=target, customer_id=c, sku=sku)
                                    for c in customers}
        elif group_by == "product":
            skus = sorted({line.sku for o in orders for line in o.order.lines} if sku is None else {sku})
            entry["by_product"] = {s: kpis.compute(orders, snapshots, a, b, target=target, customer_id=customer_id,
                                                   sku=s) for s in skus}
        result.append(entry)
    return {"from": start, "to": end, "customer_id": customer_id, "sku": sku, "currency": "EUR", "periods": result}


async def refresh_gauges(pool: asyncpg.Pool, target: dt.timedelta) -> None:
    end = dt.datetime.now(dt.timezone.utc)
    k = (await evaluate(pool, end - WINDOW, end, target=target))["periods"][0]["kpis"]
    values = {"dispatch_median": k["order_processing_timeliness"]["median_seconds"],
              "dispatch_p90": k["order_processing_timeliness"]["p90_seconds"],
              "within_target": k["order_processing_timeliness"]["within_target"],
              "on_time": k["on_time_delivery"]["on_time"], "accuracy": k["order_accuracy"]["accurate"],
              "rating": k["customer_satisfaction"]["mean_rating"],
              "response": k["customer_satisfaction"]["response_rate"], "turnover": k["inventory_turnover"]["turnover"],
              "margin": k["order_profit_margin"]["margin_ratio"]}
    for name, value in values.items():
        GAUGES[name].set(float(value) if value is not None else float("nan"))


MAX_PERIODS = 400                  # buckets in one answer (a day per bucket over years is not a report)
DAYS_PER = {"day": 1, "month": 30.44, "quarter": 91.31, "year": 365.25}


def router(service: Service, target: dt.timedelta) -> APIRouter:
    api = APIRouter(tags=["performance"])

    @api.get("/kpis", dependencies=[requires(SALES_MANAGER, FINANCE, AUDITOR)],
             responses={422: {"description": "A bad or unknown parameter"}})
    async def kpi(request: Request,
                  start: IsoDateOrDateTime | None = Query(default=None, alias="from",
                                                              description="Inclusive; default: this month's start"),
                  end: IsoDateOrDateTime | None = Query(default=None, alias="to",
                                                            description="Exclusive (a date: its whole day); default: now"),
                  period: str | None = Query(default=None, pattern="^(day|month|quarter|year)$",
                                             description="Calendar buckets within [from, to)"),
                  customer_id: str | None = Query(default=None, max_length=64),
                  sku: str | None = Query(default=None, max_length=64),
                  group_by: str | None = Query(default=None, pattern="^(customer|product)$")) -> dict[str, Any]:
        """The KPIs of DESIGN §10 per period (see services/sales/kpis.py for the definitions)."""
        unknown = sorted(set(request.query_params.keys()) - PARAMETERS)
        if unknown:
            raise RequestValidationError([{"loc": ["query", name], "msg": f"unknown query parameter {name!r}; known: "
                                           f"{', '.join(sorted(PARAMETERS))}", "type": "value_error"} for name in unknown])
        now = dt.datetime.now(dt.timezone.utc)
        a = _utc(start, end=False) if start else now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        b = _utc(end, end=True) if end else now
        if b <= a:
            raise RequestValidationError([{"loc": ["query", "to"], "msg": "must be after from", "type": "value_error"}])
        if period and (b - a).days / DAYS_PER[period] > MAX_PERIODS:
            raise RequestValidationError([{"loc": ["query", "period"], "type": "value_error",
                                           "msg": f"at most {MAX_PERIODS} {period}s in one answer; narrow from/to "
                                                  "or choose a longer period"}])
        return await evaluate(service.pool, a, b, target=target, period=period, customer_id=customer_id, sku=sku,
                              group_by=group_by)

    return api
