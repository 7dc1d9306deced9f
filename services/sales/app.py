"""Sales service: order intake (HTTP and `sales.commands.v1`) and the order saga."""

from __future__ import annotations

from pathlib import Path

from contracts import finance, logistics, procurement, sales, warehouse
from services.runtime.config import Settings
from services.runtime.service import Service
from services.sales import api, handlers

service = Service(
    "sales",
    settings=Settings(),
    migrations=Path(__file__).parent / "migrations",
    subscribe=[sales.COMMANDS, finance.EVENTS, warehouse.EVENTS, logistics.EVENTS, procurement.EVENTS],
    description="Order intake, the order saga and every order's timeline",
)
handlers.register(service.consumer)
service.http.include_router(api.router(service))
app = service.http
