"""Procurement service: purchase orders to suppliers."""

from __future__ import annotations

from pathlib import Path

from contracts import procurement
from services.procurement import api, handlers
from services.runtime.config import Settings
from services.runtime.service import Service

service = Service(
    "procurement",
    settings=Settings(),
    migrations=Path(__file__).parent / "migrations",
    subscribe=[procurement.COMMANDS],
    description="Purchase orders to suppliers",
)
handlers.register(service.consumer)
service.http.include_router(api.router(service))
app = service.http
