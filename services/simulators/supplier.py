"""Supplier simulator: answers purchase orders for every supplier id.

Per supplier id (comma lists):
  ORDERFLOW_SIM_SUPPLIER_REJECT   rejects every purchase order
  ORDERFLOW_SIM_SUPPLIER_SILENT   never answers
  ORDERFLOW_SIM_SUPPLIER_SLOW     confirms, but delivers only after ORDERFLOW_SIM_SUPPLIER_SLOW_DELAY s (default 60)
  ORDERFLOW_SIM_SUPPLIER_LATE     promises a date ORDERFLOW_SIM_SUPPLIER_LATE_DAYS days from today (default 30,
                                  later than most orders need) and delivers after ORDERFLOW_SIM_SUPPLIER_LATE_DELAY s
                                  (default 60) what has not been cancelled
Every other supplier confirms after ORDERFLOW_SIM_SUPPLIER_DELAY s (default 0.3) with a delivery date
ORDERFLOW_SIM_SUPPLIER_LEAD_DAYS days from today (default 3), and delivers after
ORDERFLOW_SIM_SUPPLIER_DELIVERY_DELAY s (default 1.0) what has not been cancelled meanwhile
(cancellations are tracked in memory, per purchase order)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os

from contracts import integrations
from contracts.envelope import Envelope
from services.simulators.base import Simulator, env_float, env_set

log = logging.getLogger(__name__)

sim = Simulator("supplier", integrations.SUPPLIER_REQUESTS)
DELAY = env_float("ORDERFLOW_SIM_SUPPLIER_DELAY", 0.3)
DELIVERY_DELAY = env_float("ORDERFLOW_SIM_SUPPLIER_DELIVERY_DELAY", 1.0)
SLOW_DELAY = env_float("ORDERFLOW_SIM_SUPPLIER_SLOW_DELAY", 60.0)
LEAD_DAYS = int(os.environ.get("ORDERFLOW_SIM_SUPPLIER_LEAD_DAYS", "3"))
REJECTING = env_set("ORDERFLOW_SIM_SUPPLIER_REJECT")
SILENT = env_set("ORDERFLOW_SIM_SUPPLIER_SILENT")
SLOW = env_set("ORDERFLOW_SIM_SUPPLIER_SLOW")
LATE = env_set("ORDERFLOW_SIM_SUPPLIER_LATE")
LATE_DAYS = int(os.environ.get("ORDERFLOW_SIM_SUPPLIER_LATE_DAYS", "30"))
LATE_DELAY = env_float("ORDERFLOW_SIM_SUPPLIER_LATE_DELAY", 60.0)

_ordered: dict[str, int] = {}      # purchase order id -> quantity ordered
_cancelled: dict[str, int] = {}    # purchase order id -> quantity cancelled
_delivered: set[str] = set()


@sim.on(integrations.SupplierOrderRequested)
async def order(request: integrations.SupplierOrderRequested, cause: Envelope) -> None:
    po = request.purchase_order_id
    if request.supplier_id in SILENT:
        log.info("%s stays silent about %s", request.supplier_id, po)
        return
    if request.supplier_id in REJECTING:
        sim.later(DELAY, integrations.SupplierOrderRejected(
            purchase_order_id=po, supplier_id=request.supplier_id, reason="cannot supply this item"), cause)
        return
    if po in _ordered:
        return                       # a repeated request: already being handled
    _ordered[po] = request.quantity
    late = request.supplier_id in LATE
    sim.later(DELAY, integrations.SupplierOrderConfirmed(
        purchase_order_id=po, supplier_id=request.supplier_id,
        delivery_date=dt.date.today() + dt.timedelta(days=LATE_DAYS if late else LEAD_DAYS)), cause)
    delay = LATE_DELAY if late else SLOW_DELAY if request.supplier_id in SLOW else DELIVERY_DELAY
    asyncio.get_running_loop().call_later(max(delay, DELAY), _deliver, request, cause)


def _deliver(request: integrations.SupplierOrderRequested, cause: Envelope) -> None:
    po = request.purchase_order_id
    left = _ordered.get(po, 0) - _cancelled.get(po, 0)
    if po in _delivered or left <= 0:
        log.info("%s: nothing left to deliver (cancelled)", po)
        return
    _delivered.add(po)
    sim.later(0, integrations.SupplierGoodsDelivered(
        purchase_order_id=po, supplier_id=request.supplier_id, sku=request.sku, quantity=left), cause)


@sim.on(integrations.SupplierOrderCancelRequested)
async def cancel(request: integrations.SupplierOrderCancelRequested, cause: Envelope) -> None:
    _cancelled[request.purchase_order_id] = _cancelled.get(request.purchase_order_id, 0) + request.quantity
    log.info("%s: %d cancelled", request.purchase_order_id, request.quantity)


if __name__ == "__main__":
    asyncio.run(sim.run_forever())
