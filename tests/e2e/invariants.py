"""Invariants asserted after every saga scenario, straight from each department's own database:
the cross-department checks of services/cli/invariants.py (stock conserved, money balanced and paid
when completed, no credit, reservation or booking left by a final order, the saga's view of
shipments, invoices and payments equal to each department's, no effect twice), for the scenario's
orders and SKUs.

Departments settle a moment after sales: a completion's credit release, for instance, is answered
after the order is already `completed`. So the checks are re-read until they hold (a condition,
not a sleep) and fail with every problem still found after `SETTLE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time

from services.cli import invariants
from tests.e2e.conftest import E2E

SETTLE_SECONDS = 20.0


async def _settled(e2e: E2E, order_ids: list[str] | None, skus: list[str] | None) -> invariants.Report:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        report = invariants.check(await invariants.collect(e2e.settings, order_ids, skus))
        if report.ok or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.3)


def _assert_ok(report: invariants.Report) -> None:
    assert report.ok, "invariants do not hold:\n  " + "\n  ".join(report.failures + report.doubled)


async def assert_stock_conserved(e2e: E2E, skus: list[str]) -> None:
    _assert_ok(await _settled(e2e, [], skus))


async def assert_consistent(e2e: E2E, order_id: str) -> dict:
    report = await _settled(e2e, [order_id], [])
    assert report.checked_orders == 1, f"sales does not know order {order_id}"
    _assert_ok(report)
    return e2e.order(order_id)


async def assert_invariants(e2e: E2E, order_ids: list[str], skus: list[str]) -> None:
    report = await _settled(e2e, order_ids, skus)
    assert report.checked_orders == len(set(order_ids)), f"sales knows {report.checked_orders} of {order_ids}"
    _assert_ok(report)
