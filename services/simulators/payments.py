"""Payment provider simulator: settles every payment request after ORDERFLOW_SIM_PAYMENT_DELAY
seconds (default 0.5). Customers in ORDERFLOW_SIM_PAYMENT_NEVER_PAY never pay."""

from __future__ import annotations

import asyncio
import datetime as dt

from contracts import integrations
from contracts.envelope import Envelope
from services.simulators.base import Simulator, env_float, env_set

sim = Simulator("payments", integrations.PAYMENT_REQUESTS)
DELAY = env_float("ORDERFLOW_SIM_PAYMENT_DELAY", 0.5)
NEVER_PAY = env_set("ORDERFLOW_SIM_PAYMENT_NEVER_PAY")


@sim.on(integrations.PaymentRequested)
async def collect(request: integrations.PaymentRequested, cause: Envelope) -> None:
    if request.customer_id in NEVER_PAY:
        return
    sim.later(DELAY, integrations.PaymentSettled(
        payment_ref=f"PAY-{request.invoice_number}", invoice_number=request.invoice_number,
        order_id=request.order_id, amount=request.amount, settled_at=dt.datetime.now(dt.timezone.utc)), cause)


if __name__ == "__main__":
    asyncio.run(sim.run_forever())
