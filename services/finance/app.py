"""Finance service: credit review, invoicing, payments, dunning and credit hold, bank reconciliation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import asyncpg

from contracts import finance, integrations
from services.finance import (api, credit_control, credit_notes_api, credit_risk, dunning, dunning_api, handlers,
                              reconciliation_api, review, settlement)
from services.runtime.config import Settings
from services.runtime.service import Service


class FinanceSettings(Settings):
    """Credit control (see services/finance/dunning.py): ORDERFLOW_DUNNING_LEVELS (JSON list of
    {name, after_seconds, fee, interest_rate_pct}), ORDERFLOW_DUNNING_SWEEP_SECONDS,
    ORDERFLOW_CREDIT_HOLD_OVERDUE_SECONDS, ORDERFLOW_CREDIT_HOLD_MIN_OVERDUE, ORDERFLOW_CREDIT_HOLD_POLICY."""

    overdue_sweep_seconds: float = 600.0     # ORDERFLOW_OVERDUE_SWEEP_SECONDS: overdue invoices -> credit risks
    dunning_levels: list[dunning.DunningLevel] = list(dunning.DEFAULT_LEVELS)
    dunning_sweep_seconds: float = 60.0
    credit_hold_overdue_seconds: float = 30 * 86400.0
    credit_hold_min_overdue: Decimal = Decimal("0.01")
    credit_hold_policy: Literal["wait", "reject"] = "wait"

    def credit_config(self) -> credit_control.CreditConfig:
        return credit_control.CreditConfig(
            levels=dunning.check_levels(self.dunning_levels), hold_overdue_seconds=self.credit_hold_overdue_seconds,
            hold_min_overdue=self.credit_hold_min_overdue, hold_policy=self.credit_hold_policy)


settings = FinanceSettings()
config = settings.credit_config()
service = Service(
    "finance",
    settings=settings,
    migrations=Path(__file__).parent / "migrations",
    subscribe=[finance.COMMANDS, integrations.PAYMENT_EVENTS],
    description="Credit review, invoicing, payments, dunning and credit hold, bank reconciliation",
)
handlers.register(service.consumer, config)
settlement.register(service.consumer)
review.register(service.consumer)


@service.every(settings.overdue_sweep_seconds, "overdue-invoices")
async def overdue_invoices(pool: asyncpg.Pool) -> None:
    await credit_risk.sweep_overdue(pool)


service.http.include_router(api.router(service))
service.http.include_router(dunning_api.router(service, config))
service.http.include_router(reconciliation_api.router(service, config))
service.http.include_router(credit_notes_api.router(service))


@service.every(settings.dunning_sweep_seconds, "dunning")
async def dunning_run(pool: asyncpg.Pool) -> None:
    await credit_control.run_dunning(pool, config, handlers.review_credit)


app = service.http
