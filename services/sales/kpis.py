"""Performance evaluation (DESIGN §1.12, §10), the calculation (pure): KPIs per period from the facts
sales' read model keeps of every order (its saga document and its timeline, which records each
department's events as they arrive), customer feedback, and the warehouse's stock valuations.

For a period [start, end):
- timeliness      orders first dispatched in the period: median and p90 seconds from order received
                  to first dispatch, and the share dispatched within the target (setting
                  ORDERFLOW_KPI_DISPATCH_TARGET_SECONDS, default 2 days)
- on-time         shipments delivered in the period: share delivered on or before the promised date
                  (the ETA given at booking; the requested date when no ETA is known)
- accuracy        orders first delivered in the period: share with no return for a wrong item or
                  quantity and no correction (manual credit note) after dispatch
- satisfaction    the same orders: mean rating (1-5) of their feedback and the share that gave any
- turnover        cost of goods sold in the period (shipped at cost, less returned goods restocked)
                  / average stock value at cost (mean of the warehouse's snapshots in the period)
- margin          orders first dispatched in the period: (net revenue - cost of goods - shipping)
                  / net revenue, summed over them (economics.py; in the base currency)

Filters: a customer (turnover: not per customer -> null) or a product (line-level: that SKU's
shipments, returns, revenue and cost; timeliness and accuracy of the orders containing it).
Times are when sales learnt each event (the order's timeline), which trails the department's own
clock by the event latency.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.sales.saga import Order
from services.sales.saga.economics import margin as order_margin

ACCURACY_FAILURES = ("wrong_item", "wrong_quantity")
PERIODS = ("day", "month", "quarter", "year")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass
class OrderFacts:
    order: Order
    created_at: dt.datetime
    dispatched_at: dict[str, dt.datetime] = field(default_factory=dict)     # shipment -> when sales learnt it
    delivered_at: dict[str, dt.datetime] = field(default_factory=dict)      # shipment -> the carrier's time
    eta: dict[str, dt.date] = field(default_factory=dict)                   # shipment -> ETA at booking
    inspected_at: dict[str, dt.datetime] = field(default_factory=dict)      # RMA -> when inspected
    corrected_at: list[dt.datetime] = field(default_factory=list)           # manual credit notes
    rating: int | None = None

    @property
    def first_dispatch(self) -> dt.datetime | None:
        return min(self.dispatched_at.values()) if self.dispatched_at else None

    @property
    def first_delivery(self) -> dt.datetime | None:
        return min(self.delivered_at.values()) if self.delivered_at else None

    def has(self, sku: str | None) -> bool:
        return sku is None or any(line.sku == sku for line in self.order.lines)


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    taken_at: dt.datetime
    sku: str
    value: Decimal


def within(at: dt.datetime | None, start: dt.datetime, end: dt.datetime) -> bool:
    return at is not None and start <= at < end


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def timeliness(orders: list[OrderFacts], start: dt.datetime, end: dt.datetime, target: dt.timedelta,
               sku: str | None) -> dict[str, Any]:
    seconds = [(o.first_dispatch - o.created_at).total_seconds() for o in orders
               if o.has(sku) and within(o.first_dispatch, start, end)]
    if not seconds:
        return {"orders": 0, "median_seconds": None, "p90_seconds": None, "within_target": None,
                "target_seconds": target.total_seconds()}
    return {"orders": len(seconds), "median_seconds": round(statistics.median(seconds), 3),
            "p90_seconds": round(nearest_rank(seconds, 0.9), 3),
            "within_target": ratio(sum(s <= target.total_seconds() for s in seconds), len(seconds)),
            "target_seconds": target.total_seconds()}


def shipment_has(o: OrderFacts, shipment_id: str, sku: str | None) -> bool:
    return sku is None or any(line.sku == sku for line in o.order.shipment_lines.get(shipment_id, []))


def on_time(orders: list[OrderFacts], start: dt.datetime, end: dt.datetime, sku: str | None) -> dict[str, Any]:
    delivered = on = 0
    for o in orders:
        for shipment_id, at in o.delivered_at.items():
            if not within(at, start, end) or not shipment_has(o, shipment_id, sku):
                continue
            promised = o.eta.get(shipment_id) or o.order.requested_delivery_date
            delivered += 1
            on += promised is None or at.date() <= promised
    return {"shipments": delivered, "on_time": ratio(on, delivered)}


def accurate(o: OrderFacts, sku: str | None) -> bool:
    wrong = [c for c in o.order.returns if c.status != "rejected" and c.reason.value in ACCURACY_FAILURES
             and (sku is None or any(line.sku == sku for line in c.lines))]
    corrected = [t for t in o.corrected_at if o.first_dispatch is not None and t >= o.first_dispatch]
    return not wrong and not (corrected and sku is None)


def accuracy_and_satisfaction(orders: list[OrderFacts], start: dt.datetime, end: dt.datetime,
                              sku: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    delivered = [o for o in orders if o.has(sku) and within(o.first_delivery, start, end)]
    rated = [o.rating for o in delivered if o.rating is not None]
    accuracy = {"orders": len(delivered), "accurate": ratio(sum(accurate(o, sku) for o in delivered), len(delivered))}
    satisfaction = {"orders": len(delivered), "responses": len(rated), "response_rate": ratio(len(rated), len(delivered)),
                    "mean_rating": (Decimal(sum(rated)) / len(rated)).quantize(CENT, rounding=ROUND_HALF_UP)
                    if rated else None}
    return accuracy, satisfaction


def cost_of_goods(orders: list[OrderFacts], start: dt.datetime, end: dt.datetime, sku: str | None) -> Decimal:
    """Goods shipped in the period at cost, less returned goods restocked in the period (at the cost
    they left with)."""
    total = ZERO
    for o in orders:
        shipped_units: dict[str, tuple[int, Decimal]] = {}
        for shipment_id, costs in o.order.goods_costs.items():
            for c in costs:
                units, value = shipped_units.get(c.sku, (0, ZERO))
                shipped_units[c.sku] = (units + c.quantity, value + c.unit_cost * c.quantity)
                if (sku is None or c.sku == sku) and within(o.dispatched_at.get(shipment_id), start, end):
                    total += c.unit_cost * c.quantity
        for case in o.order.returns:
            if not within(o.inspected_at.get(case.rma), start, end):
                continue
            for line in case.restocked:
                units, value = shipped_units.get(line.sku, (0, ZERO))
                if units and (sku is None or line.sku == sku):
                    total -= value / units * line.quantity
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def turnover(orders: list[OrderFacts], snapshots: list[Snapshot], start: dt.datetime, end: dt.datetime,
             sku: str | None) -> dict[str, Any]:
    values: dict[str, Decimal] = {}
    for s in snapshots:
        if within(s.taken_at, start, end) and (sku is None or s.sku == sku):
            values[s.snapshot_id] = values.get(s.snapshot_id, ZERO) + s.value
    cogs = cost_of_goods(orders, start, end, sku)
    average = (sum(values.values(), ZERO) / len(values)).quantize(CENT, rounding=ROUND_HALF_UP) if values else None
    return {"cost_of_goods_sold": cogs, "average_stock_value": average, "snapshots": len(values),
            "turnover": ratio(cogs, average) if average else None}


def profit_margin(orders: list[OrderFacts], start: dt.datetime, end: dt.datetime, sku: str | None) -> dict[str, Any]:
    revenue = cost = shipping = ZERO
    counted = 0
    for o in orders:
        if not o.has(sku) or not within(o.first_dispatch, start, end):
            continue
        m = order_margin(o.order)
        counted += 1
        if sku is None:
            revenue += m["net_revenue"]
            cost += m["cost_of_goods"]
            shipping += m["shipping"]
        else:
            for line in m["lines"]:
                if line["sku"] == sku:
                    revenue += line["revenue"]
                    cost += line["cost_of_goods"]
    result = revenue - cost - shipping
    return {"orders": counted, "net_revenue": revenue, "cost_of_goods": cost, "shipping": shipping,
            "margin": result, "margin_ratio": ratio(result, revenue) if revenue > 0 else None}


def compute(orders: list[OrderFacts], snapshots: list[Snapshot], start: dt.datetime, end: dt.datetime, *,
            target: dt.timedelta, customer_id: str | None = None, sku: str | None = None) -> dict[str, Any]:
    mine = [o for o in orders if customer_id is None or o.order.customer_id == customer_id]
    accuracy, satisfaction = accuracy_and_satisfaction(mine, start, end, sku)
    return {
        "order_processing_timeliness": timeliness(mine, start, end, target, sku),
        "on_time_delivery": on_time(mine, start, end, sku),
        "order_accuracy": accuracy,
        "customer_satisfaction": satisfaction,
        "inventory_turnover": turnover(mine, snapshots, start, end, sku) if customer_id is None else None,
        "order_profit_margin": profit_margin(mine, start, end, sku),
    }


def periods(start: dt.datetime, end: dt.datetime, period: str | None) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Calendar buckets (UTC) covering [start, end), cut to it; one bucket without a period."""
    if period is None:
        return [(f"{start.isoformat()}/{end.isoformat()}", start, end)]
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    buckets, cursor = [], _floor(start, period)
    while cursor < end:
        following = _next(cursor, period)
        buckets.append((_label(cursor, period), max(cursor, start), min(following, end)))
        cursor = following
    return buckets


def _floor(at: dt.datetime, period: str) -> dt.datetime:
    at = at.astimezone(dt.timezone.utc)
    if period == "day":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    month = {"month": at.month, "quarter": 3 * ((at.month - 1) // 3) + 1, "year": 1}[period]
    return at.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def _next(at: dt.datetime, period: str) -> dt.datetime:
    if period == "day":
        return at + dt.timedelta(days=1)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    month = at.month - 1 + months
    return at.replace(year=at.year + month // 12, month=month % 12 + 1)


def _label(at: dt.datetime, period: str) -> str:
    return {"day": f"{at:%Y-%m-%d}", "month": f"{at:%Y-%m}", "quarter": f"{at.year}-Q{(at.month - 1) // 3 + 1}",
            "year": f"{at.year}"}[period]
