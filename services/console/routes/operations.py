"""Operations pages: approvals (samples and joint reviews), decisions, alerts with parked
compensations, risks, dead letters (replay/skip where the department's API offers them), consumer
lag with a small chart."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.console import access
from services.console.api import ApiError
from services.console.session import User, needs
from services.console.settings import DEPARTMENTS

RISK_KINDS = ("credit", "stock", "supplier", "carrier")


def _flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session["flash"] = {"kind": kind, "text": text}


def sparkline(points: list[tuple[float, int]], width: int = 220, height: int = 44,
              window: tuple[float, float] | None = None) -> dict[str, Any]:
    """An SVG polyline's points for a lag series (x: time over `window`, the same for every group;
    y: lag, zero at the bottom)."""
    if not points:
        return {"points": "", "width": width, "height": height, "max": 0}
    t0, t1 = window or (points[0][0], points[-1][0])
    top = max(v for _, v in points) or 1
    span = (t1 - t0) or 1.0
    coords = [(2 + (t - t0) / span * (width - 4) if len(points) > 1 else width / 2,
               height - 3 - v / top * (height - 6)) for t, v in points]
    return {"points": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords), "width": width, "height": height,
            "max": max(v for _, v in points)}


def router(console: Any) -> APIRouter:
    api = APIRouter(tags=["operations"])
    departments = console.departments

    # --- approvals and decisions --------------------------------------------------------------------

    @api.get("/approvals")
    async def approvals(request: Request, user: User = needs(*access.REVIEW_READERS)) -> Response:
        samples, reviews = await asyncio.gather(
            departments.get(user, "sales", "/orders", status="awaiting_approval", limit=200),
            departments.get(user, "sales", "/reviews"))
        return console.render(request, "approvals.html", {"samples": samples, "reviews": reviews,
                                                          "may_approve": user.has(*access.APPROVERS)}, user=user)

    @api.get("/decisions")
    async def decisions(request: Request, user: User = needs(*access.DECISION_READERS)) -> Response:
        waiting = await departments.get(user, "sales", "/decisions")
        return console.render(request, "decisions.html", {"decisions": waiting,
                                                          "may_read_orders": user.has(*access.ORDER_READERS)},
                              user=user)

    # --- alerts -------------------------------------------------------------------------------------

    @api.get("/alerts")
    async def alerts(request: Request, user: User = needs(*access.ALERT_READERS)) -> Response:
        rows = await departments.get(user, "sales", "/alerts")
        return console.render(request, "alerts.html", {"rows": rows, "may_retry": user.has(*access.RETRIERS)},
                              user=user)

    # --- risks --------------------------------------------------------------------------------------

    @api.get("/risks")
    async def risks(request: Request, status: str = "open", kind: str = "", department: str = "",
                    user: User = needs(*access.RISK_READERS)) -> Response:
        status = status if status in ("open", "closed", "all") else "open"
        rows = await departments.get(user, "sales", "/risks", status=status, kind=kind or None,
                                     department=department or None)
        by_severity: dict[str, int] = {}
        for row in rows:
            by_severity[row.get("severity", "info")] = by_severity.get(row.get("severity", "info"), 0) + 1
        return console.render(request, "risks.html", {
            "rows": rows, "status": status, "kind": kind, "department": department, "kinds": RISK_KINDS,
            "departments": DEPARTMENTS, "by_severity": by_severity,
            "may_read_orders": user.has(*access.ORDER_READERS)}, user=user)

    # --- dead letters -------------------------------------------------------------------------------

    @api.get("/dead-letters")
    async def dead_letters(request: Request, status: str = "", user: User = needs(*access.DEAD_LETTER_READERS)
                           ) -> Response:
        async def one(service: str) -> dict[str, Any]:
            caps = await console.capabilities.of(user, service)
            params: dict[str, Any] = {"limit": 100}
            if "status" in caps.query("GET", "/dead-letters") and status:
                params["status"] = status
            try:
                letters = await departments.get(user, service, "/dead-letters", **params)
                error = None
            except ApiError as exc:
                letters, error = [], exc.detail
            return {"service": service, "letters": letters, "error": error,
                    "skip": caps.has("POST", "/dead-letters/{letter_id}/skip"),
                    "replay": caps.has("POST", "/dead-letters/{letter_id}/replay"),
                    "filters": "status" in caps.query("GET", "/dead-letters")}
        services = await asyncio.gather(*(one(s) for s in DEPARTMENTS))
        return console.render(request, "dead_letters.html", {
            "services": services, "status": status, "total": sum(len(s["letters"]) for s in services),
            "may_act": user.has(*access.DEAD_LETTER_ACTORS),
            "actions_offered": any(s["skip"] or s["replay"] for s in services)}, user=user)

    async def letter_action(request: Request, user: User, service: str, letter_id: int, action: str) -> Response:
        if service not in DEPARTMENTS:
            _flash(request, f"no department {service!r}", "error")
            return RedirectResponse("/dead-letters", status_code=303)
        caps = await console.capabilities.of(user, service)
        if not caps.has("POST", f"/dead-letters/{{letter_id}}/{action}"):
            _flash(request, f"{service} does not offer {action} for dead letters (its API has no such endpoint)",
                   "error")
            return RedirectResponse("/dead-letters", status_code=303)
        form = await request.form()
        body = {"note": form.get("note")} if form.get("note") else {}
        try:
            await departments.post(user, service, f"/dead-letters/{letter_id}/{action}", body)
        except ApiError as exc:
            _flash(request, f"{action} refused by {service} ({exc.status}): {exc.detail}", "error")
        else:
            _flash(request, f"{service} dead letter {letter_id}: {'skipped' if action == 'skip' else 'replayed'}")
        return RedirectResponse("/dead-letters", status_code=303)

    @api.post("/dead-letters/{service}/{letter_id}/skip")
    async def skip(request: Request, service: str, letter_id: int,
                   user: User = needs(*access.DEAD_LETTER_ACTORS)) -> Response:
        return await letter_action(request, user, service, letter_id, "skip")

    @api.post("/dead-letters/{service}/{letter_id}/replay")
    async def replay(request: Request, service: str, letter_id: int,
                     user: User = needs(*access.DEAD_LETTER_ACTORS)) -> Response:
        return await letter_action(request, user, service, letter_id, "replay")

    # --- consumer lag -------------------------------------------------------------------------------

    @api.get("/lag")
    async def lag(request: Request, user: User = needs(*access.LAG_READERS)) -> Response:
        history = console.lag
        latest = history.latest()
        window = (history.samples[0].at, latest.at) if latest else None
        groups = []
        for name, group in sorted((latest.groups if latest else {}).items()):
            groups.append({"group": group, "chart": sparkline(history.series(name), window=window)})
        return console.render(request, "lag.html", {
            "groups": groups, "error": history.error,
            "sampled_at": dt.datetime.fromtimestamp(latest.at, dt.timezone.utc) if latest else None,
            "samples": len(history.samples), "every": console.settings.console_lag_sample_seconds}, user=user)

    return api
