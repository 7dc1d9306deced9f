"""KPI calculation (services/sales/kpis.py) on hand-made facts: each KPI's population and formula,
periods, filters by customer and product."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from contracts.common import ReturnReason, StockLine
from services.sales import kpis
from services.sales.saga import ReturnCase
from services.sales.saga.state import updated
from tests.unit.test_order_saga_returns import completed

D = Decimal
T0 = dt.datetime(2031, 1, 1, 9, 0, tzinfo=dt.timezone.utc)
TARGET = dt.timedelta(hours=2)


def facts(order=None, *, dispatch_after: float = 600, delivered_on: dt.date = dt.date(2031, 1, 9),
          rating: int | None = None, customer: str | None = None) -> kpis.OrderFacts:
    order = order or completed()
    if customer:
        order = updated(order, customer_id=customer)
    return kpis.OrderFacts(order=order, created_at=T0, dispatched_at={"SHP-1": T0 + dt.timedelta(seconds=dispatch_after)},
                           delivered_at={"SHP-1": dt.datetime.combine(delivered_on, dt.time(12), dt.timezone.utc)},
                           eta={"SHP-1": dt.date(2031, 1, 10)}, rating=rating)


def one(orders, snapshots=(), start=T0, end=T0 + dt.timedelta(days=30), **kw):
    return kpis.compute(list(orders), list(snapshots), start, end, target=TARGET, **kw)


def test_timeliness_median_p90_and_share_within_target():
    orders = [facts(dispatch_after=s) for s in (600, 1200, 1800, 3600, 36000)]
    k = one(orders)["order_processing_timeliness"]
    assert (k["orders"], k["median_seconds"], k["p90_seconds"]) == (5, 1800, 36000)
    assert k["within_target"] == D("0.8000")


def test_on_time_is_delivery_by_the_eta_and_accuracy_counts_wrong_items_and_corrections():
    late = facts(delivered_on=dt.date(2031, 1, 11))
    wrong = facts()
    wrong.order = updated(wrong.order, returns=(ReturnCase(rma="RMA-1", lines=(StockLine(sku="SKU-A", quantity=1),),
                                                           reason=ReturnReason.WRONG_ITEM, requested_at=T0),))
    corrected = facts()
    corrected.corrected_at.append(T0 + dt.timedelta(days=3))
    damaged = facts()
    damaged.order = updated(damaged.order, returns=(ReturnCase(rma="RMA-2", lines=(StockLine(sku="SKU-A", quantity=1),),
                                                               reason=ReturnReason.DAMAGED, requested_at=T0),))
    k = one([facts(), late, wrong, corrected, damaged])
    assert k["on_time_delivery"] == {"shipments": 5, "on_time": D("0.8000")}
    assert k["order_accuracy"] == {"orders": 5, "accurate": D("0.6000")}      # the wrong item and the correction
    assert one([wrong], sku="SKU-B")["order_accuracy"]["accurate"] == D("1.0000")   # the wrong item was SKU-A


def test_satisfaction_is_the_mean_rating_and_the_response_rate_of_delivered_orders():
    k = one([facts(rating=5), facts(rating=2), facts(), facts()])["customer_satisfaction"]
    assert (k["orders"], k["responses"], k["response_rate"], k["mean_rating"]) == (4, 2, D("0.5000"), D("3.50"))


def test_margin_and_turnover_with_a_product_filter():
    snapshots = [kpis.Snapshot("V1", T0, "SKU-A", D("100.00")), kpis.Snapshot("V1", T0, "SKU-B", D("900.00")),
                 kpis.Snapshot("V2", T0 + dt.timedelta(days=1), "SKU-A", D("140.00")),
                 kpis.Snapshot("V2", T0 + dt.timedelta(days=1), "SKU-B", D("700.00"))]
    k = one([facts()], snapshots)
    assert k["order_profit_margin"]["margin"] == D("78.00")      # 225 - 133 - 14 (see the saga economics test)
    assert k["order_profit_margin"]["margin_ratio"] == D("0.3467")
    assert k["inventory_turnover"] == {"cost_of_goods_sold": D("133.00"), "average_stock_value": D("920.00"),
                                       "snapshots": 2, "turnover": D("0.1446")}
    a = one([facts()], snapshots, sku="SKU-A")
    assert a["inventory_turnover"]["turnover"] == D("0.1000")    # 12.00 / 120.00
    assert (a["order_profit_margin"]["net_revenue"], a["order_profit_margin"]["margin"]) == (D("25.00"), D("13.00"))
    assert one([facts()], snapshots, customer_id="CUST-ACME")["inventory_turnover"] is None


def test_filters_and_periods():
    orders = [facts(customer="CUST-X", rating=5), facts(customer="CUST-Y", rating=1)]
    assert one(orders, customer_id="CUST-X")["customer_satisfaction"]["mean_rating"] == D("5.00")
    outside = one(orders, start=T0 + dt.timedelta(days=40), end=T0 + dt.timedelta(days=50))
    assert outside["order_processing_timeliness"]["orders"] == 0 and outside["on_time_delivery"]["on_time"] is None
    buckets = kpis.periods(dt.datetime(2031, 1, 15, tzinfo=dt.timezone.utc),
                           dt.datetime(2031, 7, 2, tzinfo=dt.timezone.utc), "quarter")
    assert [(label, a.date().isoformat(), b.date().isoformat()) for label, a, b in buckets] == [
        ("2031-Q1", "2031-01-15", "2031-04-01"), ("2031-Q2", "2031-04-01", "2031-07-01"),
        ("2031-Q3", "2031-07-01", "2031-07-02")]
    assert [label for label, *_ in kpis.periods(T0, T0 + dt.timedelta(days=40), "month")] == ["2031-01", "2031-02"]
