"""End-to-end benchmark: place N orders through the public API at a given concurrency and measure
how long each takes to complete across all five services (server-side timestamps: the order's
creation to its `completed` status on the timeline), plus the intake latency of POST /orders.

Run it against a running stack, ideally with the simulators' delays at 0 so that the figures
measure orderflow rather than the simulated carrier and payment provider:

    ORDERFLOW_SIM_CARRIER_DELAY=0 ORDERFLOW_SIM_PAYMENT_DELAY=0 orderflow up --no-demo
    orderflow bench --orders 300 --concurrency 20        # capacity: everything at once
    orderflow bench --orders 200 --rate 10               # latency at a steady 10 orders/s
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from dataclasses import dataclass

import httpx


@dataclass
class BenchResult:
    orders: int
    completed: int
    wall_seconds: float
    intake_ms: list[float]
    end_to_end_ms: list[float]
    statuses: dict[str, int]

    @property
    def throughput(self) -> float:
        return self.completed / self.wall_seconds if self.wall_seconds else 0.0


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


async def run(base_url: str, *, orders: int, concurrency: int, customer: str, sku: str, quantity: int,
              timeout: float, rate: float | None = None, progress=None,
              headers: dict[str, str] | None = None) -> BenchResult:
    """Place `orders` (at most `concurrency` requests at once; with `rate`, at that many orders per
    second, which measures latency under a steady load instead of behind a backlog)."""
    limits = httpx.Limits(max_connections=concurrency + 5)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits, headers=headers) as client:
        gate = asyncio.Semaphore(concurrency)
        intake: list[float] = []
        ids: list[str] = []
        stamp = time.strftime("%Y%m%d%H%M%S")

        async def place(n: int) -> None:
            if rate:
                await asyncio.sleep(n / rate)
            async with gate:
                body = {"customer_id": customer, "lines": [{"sku": sku, "quantity": quantity}],
                        "external_ref": f"bench-{stamp}-{n}"}
                started = time.perf_counter()
                response = await client.post("/orders", json=body)
                intake.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                ids.append(response.json()["order_id"])
                if progress:
                    progress("placed", len(ids))

        started = time.perf_counter()
        await asyncio.gather(*(place(n) for n in range(orders)))
        finals: dict[str, dict] = {}
        deadline = time.monotonic() + timeout
        while len(finals) < len(ids) and time.monotonic() < deadline:
            pending = [i for i in ids if i not in finals]
            for order_id in pending[:200]:
                order = (await client.get(f"/orders/{order_id}")).json()
                if order["status"] in ("completed", "rejected", "cancelled"):
                    finals[order_id] = order
            if progress:
                progress("final", len(finals))
            if len(finals) < len(ids):
                await asyncio.sleep(0.2)
        last_final = max((_parse(o["updated_at"]) for o in finals.values()), default=None)
        first_created = min((_parse(o["created_at"]) for o in finals.values()), default=None)
        wall = (last_final - first_created).total_seconds() if last_final and first_created else \
            time.perf_counter() - started

    end_to_end = []
    statuses: dict[str, int] = {}
    for order in finals.values():
        statuses[order["status"]] = statuses.get(order["status"], 0) + 1
        done = [e for e in order["timeline"] if e["kind"] == "status" and e["type"] == "completed"]
        if done:
            end_to_end.append((_parse(done[0]["at"]) - _parse(order["created_at"])).total_seconds() * 1000)
    statuses["not final"] = len(ids) - len(finals)
    return BenchResult(orders=len(ids), completed=statuses.get("completed", 0), wall_seconds=wall,
                       intake_ms=intake, end_to_end_ms=end_to_end, statuses=statuses)


def summary(result: BenchResult) -> list[tuple[str, str]]:
    def ms(values: list[float], pct: float) -> str:
        return f"{percentile(values, pct):.0f} ms"
    return [
        ("orders placed", str(result.orders)),
        ("outcome", ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items()) if v)),
        ("throughput (completed/s, first created -> last final)", f"{result.throughput:.1f}"),
        ("intake POST /orders p50 / p99", f"{ms(result.intake_ms, 50)} / {ms(result.intake_ms, 99)}"),
        ("end to end (created -> completed) p50 / p99",
         f"{ms(result.end_to_end_ms, 50)} / {ms(result.end_to_end_ms, 99)}"),
        ("end to end mean", f"{statistics.fmean(result.end_to_end_ms):.0f} ms" if result.end_to_end_ms else "-"),
    ]
