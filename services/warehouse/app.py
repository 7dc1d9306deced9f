"""Warehouse service: reservations, pick & pack, dispatch, goods receipt, stock warnings."""

from __future__ import annotations

from pathlib import Path

from contracts import finance, logistics, procurement, warehouse
from services.runtime.config import Settings
from services.runtime.service import Service
from services.warehouse import api, customer_returns, handlers, rma_api, valuation


class WarehouseSettings(Settings):
    """ORDERFLOW_RESERVATION_SWEEP_SECONDS: how often expired reservations are looked for;
    ORDERFLOW_RESERVATION_TTL_SECONDS: how long a reservation may hold stock untouched (2 days)."""

    reservation_sweep_seconds: float = 30.0
    reservation_ttl_seconds: float = 172_800.0
    stock_valuation_seconds: float = 3600.0     # a snapshot of the stock's value at cost (inventory turnover)


settings = WarehouseSettings()
service = Service(
    "warehouse",
    settings=settings,
    migrations=Path(__file__).parent / "migrations",
    # finance: PaymentReceived clears prepaid orders for dispatch;
    # procurement: a failed replenishment re-arms the SKU's stock warning;
    # logistics: a recalled shipment that came back (ShipmentReturned) is restocked.
    subscribe=[warehouse.COMMANDS, finance.EVENTS, procurement.EVENTS, logistics.EVENTS],
    description="Stock, reservations, pick & pack, dispatch, goods receipt, stock warnings",
)
handlers.register(service.consumer)
customer_returns.register(service.consumer)


@service.every(settings.reservation_sweep_seconds, "reservation-expiry")
async def expire_reservations(pool) -> None:
    await handlers.expire_reservations(pool, settings.reservation_ttl_seconds)


@service.every(settings.stock_valuation_seconds, "stock-valuation")
async def value_stock(pool) -> None:
    await valuation.take_snapshot(pool)


service.http.include_router(api.router(service))
service.http.include_router(rma_api.router(service))
app = service.http
