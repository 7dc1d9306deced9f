"""Warehouse service: reservations, pick & pack, dispatch."""

from __future__ import annotations

from pathlib import Path

from contracts import warehouse
from services.runtime.config import Settings
from services.runtime.service import Service
from services.warehouse import api, handlers

service = Service(
    "warehouse",
    settings=Settings(),
    migrations=Path(__file__).parent / "migrations",
    subscribe=[warehouse.COMMANDS],
    description="Stock, reservations, pick & pack, dispatch",
)
handlers.register(service.consumer)
service.http.include_router(api.router(service))
app = service.http
