"""Payment provider simulator: settles every payment request after ORDERFLOW_SIM_PAYMENT_DELAY
seconds (default 0.5), and every refund request after the same delay (refund reference
REF-<payment_ref>). Customers in ORDERFLOW_SIM_PAYMENT_NEVER_PAY never pay."""

from __future__ import annotations

import asyncio
import datetime as dt

from contracts import integrations
from contracts.envelope import Envelope
from services.simulators.base import Simulator, env_float, env_set

sim = Simulator("payments", integrations.PAYMENT_REQUESTS)
DELAY = env_float("ORDERFLOW_SIM_PAYMENT_DELAY", 0.5)
NEVER_PAY = env_set("ORDERFLOW_SIM_PAYMENT_NEVER_PAY")
# A second refund of the same payment (a partial refund, then the rest) gets its own reference,
# since finance dedupes settlements on it; a repeated request (same message id) keeps its reference.
_refund_refs: dict[str, str] = {}
_refunds_per_payment: dict[str, int] = {}


@sim.on(integrations.PaymentRequested)
async def collect(request: integrations.PaymentRequested, cause: Envelope) -> None:
    if request.customer_id in NEVER_PAY:
        return
    sim.later(DELAY, integrations.PaymentSettled(
        payment_ref=f"PAY-{request.invoice_number}", invoice_number=request.invoice_number,
        order_id=request.order_id, amount=request.amount, settled_at=dt.datetime.now(dt.timezone.utc)), cause)


@sim.on(integrations.RefundRequested)
async def refund(request: integrations.RefundRequested, cause: Envelope) -> None:
    ref = _refund_refs.get(str(cause.message_id))
    if ref is None:
        n = _refunds_per_payment.get(request.payment_ref, 0) + 1
        _refunds_per_payment[request.payment_ref] = n
        ref = f"REF-{request.payment_ref}" if n == 1 else f"REF-{request.payment_ref}-{n}"
        _refund_refs[str(cause.message_id)] = ref
    sim.later(DELAY, integrations.RefundSettled(
        refund_ref=ref, payment_ref=request.payment_ref, order_id=request.order_id, amount=request.amount), cause)


if __name__ == "__main__":
    asyncio.run(sim.run_forever())
