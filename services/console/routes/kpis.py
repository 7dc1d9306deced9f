"""KPIs (sales' GET /kpis, where the deployed sales offers it): the whole range's figures, and each
KPI per day, month, quarter or year as a bar chart with its table."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console import access, charts
from services.console.api import ApiError
from services.console.session import User, needs

PERIODS = ("day", "month", "quarter", "year")
# (heading, KPI, figure, unit, fixed top of the scale)
SHOWN = (
    ("Time to first dispatch (median)", "order_processing_timeliness", "median_seconds", "s", None),
    ("Dispatched within target", "order_processing_timeliness", "within_target", "%", 1.0),
    ("On-time delivery", "on_time_delivery", "on_time", "%", 1.0),
    ("Order accuracy", "order_accuracy", "accurate", "%", 1.0),
    ("Customer rating (1–5)", "customer_satisfaction", "mean_rating", "", 5.0),
    ("Profit margin", "order_profit_margin", "margin_ratio", "%", 1.0),
    ("Net revenue", "order_profit_margin", "net_revenue", "", None),
    ("Inventory turnover", "inventory_turnover", "turnover", "", None),
)


def router(console: Any) -> APIRouter:
    api = APIRouter(tags=["kpis"])

    @api.get("/kpis")
    async def kpis(request: Request, user: User = needs(*access.KPI_READERS)) -> Response:
        query = dict(request.query_params)
        today = dt.date.today()
        start = query.get("from") or (today - dt.timedelta(days=13)).isoformat()
        end = query.get("to") or today.isoformat()
        period = query.get("period") if query.get("period") in PERIODS else "day"
        filters = {k: query.get(k) or None for k in ("customer_id", "sku")}
        context: dict[str, Any] = {"start": start, "end": end, "period": period, "periods": PERIODS, **{
            k: v or "" for k, v in filters.items()}, "offered": True, "errors": {}, "charts": [], "total": None}
        if not (await console.capabilities.of(user, "sales")).has("GET", "/kpis"):
            context["offered"] = False
            return console.render(request, "kpis.html", context, user=user)
        try:
            total, by_period = await asyncio.gather(
                console.departments.get(user, "sales", "/kpis", **{"from": start, "to": end}, **filters),
                console.departments.get(user, "sales", "/kpis", **{"from": start, "to": end, "period": period},
                                        **filters))
        except ApiError as exc:
            if exc.status != 422:
                raise
            context["errors"] = exc.fields or {"(request)": exc.detail}
            return console.render(request, "kpis.html", context, user=user, status_code=422)
        overall = total["periods"][0]["kpis"] if total.get("periods") else {}
        for heading, kpi, figure, unit, top in SHOWN:
            series = [(p["period"], charts.number((p["kpis"].get(kpi) or {}).get(figure)))
                      for p in by_period.get("periods", [])]
            whole = charts.number((overall.get(kpi) or {}).get(figure))
            context["charts"].append({"heading": heading, "value": charts.shown(whole, unit), "series": series,
                                      "unit": unit, "svg": charts.bars(series, title=heading, unit=unit, top=top),
                                      "rows": [(label, charts.shown(v, unit)) for label, v in series]})
        context["total"] = overall
        context["currency"] = total.get("currency", "")
        return console.render(request, "kpis.html", context, user=user)

    return api
