"""Finance service: credit review, invoicing, payments."""

from __future__ import annotations

from pathlib import Path

from contracts import finance, integrations
from services.finance import api, credit_risk, handlers, review
from services.runtime.config import Settings
from services.runtime.service import Service

class FinanceSettings(Settings):
    """ORDERFLOW_OVERDUE_SWEEP_SECONDS: how often overdue invoices are looked for (credit risks)."""

    overdue_sweep_seconds: float = 600.0


settings = FinanceSettings()
service = Service(
    "finance",
    settings=settings,
    migrations=Path(__file__).parent / "migrations",
    subscribe=[finance.COMMANDS, integrations.PAYMENT_EVENTS],
    description="Credit review, invoicing and payments",
)
handlers.register(service.consumer)
review.register(service.consumer)


@service.every(settings.overdue_sweep_seconds, "overdue-invoices")
async def overdue_invoices(pool) -> None:
    await credit_risk.sweep_overdue(pool)


service.http.include_router(api.router(service))
app = service.http
