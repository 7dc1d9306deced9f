"""One bench run against the running local stack: warm up, sample every probe, apply the load,
wait until the stack is quiet, sample again, and turn the differences into figures per order."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.topics import CATALOGUE, OUTSIDE_READER
from services.cli import client
from services.cli.bench import bound as bound_mod
from services.cli.bench.load import CompletionWatcher, LoadResult, place_orders
from services.cli.bench.probes import OFFSETS_TOPIC, KafkaProbe, PostgresProbe, ProcessProbe, stack_processes
from services.runtime import roles
from services.runtime.config import Settings
from services.runtime.kafka_acl import ADMIN, MONITOR
from services.runtime.kafka_security import client_kwargs

ROOT = Path(__file__).resolve().parents[3]
PG_STATS_FLUSH_SECONDS = 11.0   # PostgreSQL 15 flushes an idle backend's statistics within 10 s
BENCH_USER = "orderflow-bench"  # the dev-token subject the load is placed as (the audit log names it)


@dataclass
class BenchOptions:
    orders: int = 500
    rate: float | None = None          # orders/s (open model); None = capacity (backlog)
    concurrency: int = 20              # requests in flight at most
    warmup: int = 20
    customer: str = "CUST-NORD"
    sku: str = "SKU-BOLT-M8"
    quantity: int = 1
    timeout: float = 300.0
    bound: bool = False


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = pct / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms_stats(values: list[float]) -> dict[str, float | None]:
    return {name: (round(v * 1000, 1) if (v := percentile(values, pct)) is not None else None)
            for name, pct in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))}


async def _wait_quiet(kafka: KafkaProbe, *, stable: float = 1.0, limit: float = 20.0) -> None:
    """Until no topic of the stack grows for `stable` seconds (trailing events, relays, commits)."""
    deadline = time.monotonic() + limit
    last = await kafka.end_offsets()
    since = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = await kafka.end_offsets()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= stable:
            return


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def clerk_headers(ttl_seconds: float = 6 * 3600) -> dict[str, str]:
    """Authorization for placing orders as a clerk: ORDERFLOW_TOKEN / ORDERFLOW_TOKEN_FILE when given
    (an identity provider's token), else a dev token for the bench's own user."""
    token = client.resolve_token(BENCH_USER, [roles.CLERK], name="orderflow bench", ttl_seconds=ttl_seconds)
    return {"Authorization": f"Bearer {token}"}


async def run(options: BenchOptions, progress: Callable[[str], None] | None = None, *,
              settings: Settings | None = None, run_dir: Path | None = None,
              ports: dict[str, int] | None = None) -> dict[str, Any]:
    """Bench the stack whose services listen on `ports` (default: the CLI's), simulators' pid files
    in `run_dir` (default: `orderflow up`'s), topics and databases named by `settings`."""
    settings = settings or Settings()
    ports = ports or client.ports()
    sales_url = f"http://127.0.0.1:{ports['sales']}"
    prefix = settings.topic_prefix
    processes = stack_processes(settings, run_dir or ROOT / ".local" / "run", ports)
    missing = {"sales", "procurement", "warehouse", "logistics", "finance", "kafka", "postgres"} - \
        {p.name for p in processes}
    cpu = ProcessProbe(processes)
    # Each probe as the least principal that can do its job: `monitor` describes the stack's topics,
    # `admin` only the broker's own `__consumer_offsets`, completion is read as a subscribing system.
    kafka = KafkaProbe(prefix, client_kwargs(settings.as_principal(MONITOR)),
                       client_kwargs(settings.as_principal(ADMIN)))
    pg = PostgresProbe(settings)
    watcher = CompletionWatcher(settings.topic("sales.events.v1"),
                                **client_kwargs(settings.as_principal(OUTSIDE_READER)))
    headers = clerk_headers()
    stamp = time.strftime("%Y%m%d%H%M%S")
    say = progress or (lambda _: None)

    def body(n: int) -> dict:
        return {"customer_id": options.customer, "lines": [{"sku": options.sku, "quantity": options.quantity}],
                "external_ref": f"bench-{stamp}-{n}"}

    await kafka.start()
    await watcher.start()
    try:
        if options.warmup:
            say("warm-up")
            await place_orders(sales_url, watcher, orders=options.warmup, rate=None, concurrency=5,
                               body=lambda n: {**body(n), "external_ref": f"bench-{stamp}-warmup-{n}"},
                               timeout=options.timeout, headers=headers)
        say("waiting until the stack is quiet")
        await _wait_quiet(kafka)
        await asyncio.sleep(PG_STATS_FLUSH_SECONDS)
        load_before = _load()
        offsets_before, pg_before, inbox_before = await kafka.end_offsets(), await pg.sample(), await pg.inbox_rows()
        cpu_before = cpu.sample()
        cpu.memory()

        async def watch_memory() -> None:
            while True:
                await asyncio.sleep(1.0)
                cpu.memory()
        memory_task = asyncio.create_task(watch_memory())
        try:
            load: LoadResult = await place_orders(
                sales_url, watcher, orders=options.orders, rate=options.rate,
                concurrency=options.concurrency, body=body, timeout=options.timeout, headers=headers,
                progress=say)
            say("waiting until the stack is quiet")
            await _wait_quiet(kafka)
            cpu_after = cpu.sample()
            memory = cpu.memory()
        finally:
            memory_task.cancel()
        offsets_after = await kafka.end_offsets()
        load_after = _load()
        say("waiting for PostgreSQL statistics")
        await asyncio.sleep(PG_STATS_FLUSH_SECONDS)
        pg_after, inbox_after = await pg.sample(), await pg.inbox_rows()
        bound = None
        if options.bound:
            say("measuring the bound (Kafka perf tools, pgbench, same-stack baseline)")
            bound = await bound_mod.measure(settings, f"{prefix}b{stamp}.",
                                            [p for p in processes if p.name in ("kafka", "postgres")])
    finally:
        await watcher.stop()
        await kafka.stop()

    statuses: dict[str, int] = {}
    for status, _ in load.final.values():
        statuses[status] = statuses.get(status, 0) + 1
    statuses["not final"] = len(load.placed) - len(load.final)
    completed = statuses.get("completed", 0)
    per_order = max(completed, 1)
    window = load.finished - load.started
    cpu_ms = cpu.delta(cpu_before, cpu_after)
    services = [p.name for p in processes if p.name not in ("kafka", "postgres")]
    by_id = {p.order_id: p for p in load.placed}
    e2e = [seen - by_id[oid].due for oid, (status, seen) in load.final.items() if status == "completed"]
    business = {t: offsets_after.get(t, 0) - offsets_before.get(t, 0) for t in CATALOGUE}
    handled = {s: inbox_after[s] - inbox_before[s] for s in inbox_after}
    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after},
        "mode": f"open model at {options.rate:g} orders/s" if options.rate else f"capacity (backlog of {options.orders})",
        "options": {k: v for k, v in vars(options).items()},
        "missing_processes": sorted(missing),
        "orders": {"placed": len(load.placed), "failed_requests": len(load.failed_requests),
                   "late_starts": load.late_starts, "outcome": {k: v for k, v in statuses.items() if v}},
        "seconds": round(window, 2),
        "throughput_orders_per_s": round(completed / window, 2) if window > 0 else None,
        "end_to_end_ms": _ms_stats(e2e),
        "intake_ms": _ms_stats([p.answered - p.sent for p in load.placed]),
        "cpu_ms_per_order": {name: round(ms / per_order, 2) for name, ms in cpu_ms.items()},
        "per_order": {
            "kafka_records": round(sum(business.values()) / per_order, 2),
            "offset_commit_records": round((offsets_after.get(OFFSETS_TOPIC, 0) - offsets_before.get(OFFSETS_TOPIC, 0))
                                           / per_order, 2),
            "messages_handled": round(sum(handled.values()) / per_order, 2),
            "pg_transactions": round((pg_after["xact_commit"] - pg_before["xact_commit"]) / per_order, 2),
            "wal_bytes": round((pg_after["wal_bytes"] - pg_before["wal_bytes"]) / per_order),
        },
        "per_order_by_service": {
            "messages_handled": {s: round(n / per_order, 2) for s, n in handled.items()},
            "pg_transactions": {s: round((pg_after.get(f"xact_commit.{s}", 0) - pg_before.get(f"xact_commit.{s}", 0))
                                         / per_order, 2) for s in handled},
        },
        "kafka_records_per_order_by_topic": {t: round(n / per_order, 2) for t, n in business.items() if n},
        "memory_mib": memory,
        "peak_rss_mib": {name: round(kib / 1024, 1) for name, kib in cpu.peak_rss_kib.items()},
    }
    totals = result["cpu_ms_per_order"]
    totals["services"] = round(sum(cpu_ms[s] for s in services) / per_order, 2)
    totals["total"] = round(sum(cpu_ms.values()) / per_order, 2)
    if bound:
        result["bound"] = bound
        result["versus_bound"] = versus_bound(result, bound)
    return result


def versus_bound(result: dict[str, Any], bound: dict[str, Any]) -> dict[str, Any]:
    """orderflow as a share of what the broker, the database and the bare stack can do per order."""
    records = result["per_order"]["kafka_records"] or 1
    handled = result["per_order"]["messages_handled"] or 1
    throughput = result["throughput_orders_per_s"] or 0
    cpu = result["cpu_ms_per_order"]["total"] or 1
    kafka_orders = bound["kafka"]["producer_records_per_s"] / records
    pg_orders = bound["postgres"]["one_message_per_txn"]["messages_per_s"] / handled
    pg_batched_orders = bound["postgres"]["twenty_messages_per_txn"]["messages_per_s"] / handled
    base = bound["baseline"]
    base_orders = (base["messages_per_s"] or 0) / handled
    base_cpu = base["cpu_ms_per_message"]["total"] * handled
    return {
        "kafka_bound_orders_per_s": round(kafka_orders, 1),
        "postgres_bound_orders_per_s": {"one_message_per_txn": round(pg_orders, 1),
                                        "twenty_messages_per_txn": round(pg_batched_orders, 1)},
        "baseline_orders_per_s": round(base_orders, 1),
        "baseline_cpu_ms_per_order": round(base_cpu, 2),
        "throughput_pct_of_kafka_bound": round(100 * throughput / kafka_orders, 1),
        "throughput_pct_of_postgres_bound_batched": round(100 * throughput / pg_batched_orders, 1),
        "throughput_pct_of_baseline": round(100 * throughput / base_orders, 1) if base_orders else None,
        "cpu_efficiency_pct_of_baseline": round(100 * base_cpu / cpu, 1),
    }
