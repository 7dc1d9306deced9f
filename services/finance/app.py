"""Finance service: credit review, invoicing, payments."""

from __future__ import annotations

from pathlib import Path

from contracts import finance, integrations
from services.finance import api, handlers
from services.runtime.config import Settings
from services.runtime.service import Service

service = Service(
    "finance",
    settings=Settings(),
    migrations=Path(__file__).parent / "migrations",
    subscribe=[finance.COMMANDS, integrations.PAYMENT_EVENTS],
    description="Credit review, invoicing and payments",
)
handlers.register(service.consumer)
service.http.include_router(api.router(service))
app = service.http
