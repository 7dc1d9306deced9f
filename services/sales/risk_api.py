"""GET /risks: the company's risks as the feed carries them (services/sales/risk_feed.py), open
ones by default, most severe first, each with its owning department and role.

Kept by sales, not by each department: sales already reads every department's events and writes
the feed, and one list (with the orders the risks are about) is what a sales manager, an
operator or a subscribing system wants. Credit risks (a customer's credit position) are shown only
to finance, sales managers and auditors, like the credit endpoint itself."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from contracts.risk import RiskKind
from services.runtime.http_auth import Caller, requires
from services.runtime.roles import (AUDITOR, FINANCE, LOGISTICS, OPERATOR, PROCUREMENT, SALES_MANAGER,
                                    WAREHOUSE)
from services.runtime.service import Service
from services.sales import store

CREDIT_READERS = {FINANCE, SALES_MANAGER, AUDITOR}


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["risks"])

    @api.get("/risks")
    async def risks(status: Literal["open", "closed", "all"] = "open", kind: RiskKind | None = None,
                    department: str | None = Query(default=None, max_length=30),
                    order_id: str | None = Query(default=None, max_length=64),
                    limit: int = Query(default=200, ge=1, le=1000),
                    caller: Caller = requires(SALES_MANAGER, FINANCE, WAREHOUSE, LOGISTICS, PROCUREMENT, OPERATOR,
                                              AUDITOR)) -> list[dict[str, Any]]:
        """Risks raised by the departments (open ones unless `status` says otherwise), most severe
        first: kind, cause, severity, owning department and role, what it is about, since when."""
        visible = [k.value for k in RiskKind
                   if k != RiskKind.CREDIT or CREDIT_READERS & set(caller.principal.roles)]
        kinds = [kind.value] if kind is not None and kind.value in visible else ([] if kind else visible)
        return await store.list_risks(service.pool, status=None if status == "all" else status, kinds=kinds,
                                      department=department, order_id=order_id, limit=limit)

    return api
