"""Procurement service: purchase orders to suppliers, with backup suppliers and replenishment."""

from __future__ import annotations

from pathlib import Path

from contracts import integrations, procurement, warehouse
from services.procurement import api, handlers, supplier_risk
from services.runtime.config import Settings
from services.runtime.service import Service


class ProcurementSettings(Settings):
    """ORDERFLOW_SUPPLIER_CONFIRM_SECONDS: how long a supplier has to confirm a purchase order
    before the next supplier gets it; ORDERFLOW_PROCUREMENT_SWEEP_SECONDS: how often that is checked."""

    supplier_confirm_seconds: float = 3600.0
    procurement_sweep_seconds: float = 5.0


settings = ProcurementSettings()
service = Service(
    "procurement",
    settings=settings,
    migrations=Path(__file__).parent / "migrations",
    # supplier events: confirmations, rejections, deliveries; warehouse events: StockLow, GoodsReceived.
    subscribe=[procurement.COMMANDS, integrations.SUPPLIER_EVENTS, warehouse.EVENTS],
    description="Purchase orders to suppliers: primary first, backups on rejection, silence or a late promise",
)
handlers.register(service.consumer, confirm_seconds=settings.supplier_confirm_seconds)


@service.every(settings.procurement_sweep_seconds, "supplier-confirmation-deadlines")
async def expire_unconfirmed(pool) -> None:
    await handlers.expire_unconfirmed(pool, settings.supplier_confirm_seconds)
    await supplier_risk.sweep(pool)


service.http.include_router(api.router(service))
app = service.http
