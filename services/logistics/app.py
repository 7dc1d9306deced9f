"""Logistics service: carrier booking, hand-over, tracking."""

from __future__ import annotations

from pathlib import Path

from contracts import integrations, logistics, warehouse
from services.logistics import api, handlers
from services.runtime.config import Settings
from services.runtime.service import Service

service = Service(
    "logistics",
    settings=Settings(),
    migrations=Path(__file__).parent / "migrations",
    subscribe=[logistics.COMMANDS, integrations.CARRIER_EVENTS, warehouse.EVENTS],
    description="Carrier choice and booking, hand-over, tracking until delivery",
)
handlers.register(service.consumer)
service.http.include_router(api.router(service))
app = service.http
