"""Logistics service: carrier booking, hand-over, tracking."""

from __future__ import annotations

from pathlib import Path

from contracts import integrations, logistics, warehouse
from services.logistics import api, handlers, late
from services.runtime.config import Settings
from services.runtime.service import Service

class LogisticsSettings(Settings):
    """Late carriers (services/logistics/late.py): how often shipments with a carrier are checked,
    how long after its ETA a shipment counts as late, how long a carrier may stay silent."""

    carrier_sweep_seconds: float = 60.0
    carrier_eta_grace_seconds: float = 2 * 3600.0
    tracking_silence_seconds: float = 2 * 86400.0


settings = LogisticsSettings()
service = Service(
    "logistics",
    settings=settings,
    migrations=Path(__file__).parent / "migrations",
    subscribe=[logistics.COMMANDS, integrations.CARRIER_EVENTS, warehouse.EVENTS],
    description="Carrier choice and booking, hand-over, tracking until delivery",
)
handlers.register(service.consumer)


@service.every(settings.carrier_sweep_seconds, "late-carriers")
async def late_carriers(pool) -> None:
    await late.sweep(pool, handlers._carriers, grace_seconds=settings.carrier_eta_grace_seconds,
                     silence_seconds=settings.tracking_silence_seconds)


service.http.include_router(api.router(service))
app = service.http
