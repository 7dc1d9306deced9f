"""One chaos run: its own stack (environment.py), mixed orders at a rate (load.py) while services,
the broker and PostgreSQL are killed on a schedule, then quiescence and every invariant over the
whole database (services/cli/invariants.py). The result says what was lost, doubled, stuck or
inconsistent, and how long each fault took to recover from."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import asyncpg
import httpx

from services.cli import invariants
from services.cli.chaos.environment import ChaosEnvironment
from services.cli.chaos.load import Load, LoadResult
from services.cli.stack import SERVICES
from services.runtime import dev_issuer, roles
from services.runtime.config import Settings


@dataclass(frozen=True)
class Plan:
    orders: int
    rate: float
    service_kills: int
    broker_restarts: int
    db_restarts: int
    downtime: tuple[float, float] = (2.0, 6.0)     # seconds the broker or the database stays down
    quiesce_timeout: float = 900.0


PROFILES = {
    # CI-sized, part of `make test`: every service killed once, one broker and one database restart.
    "ci": Plan(orders=300, rate=3.0, service_kills=5, broker_restarts=1, db_restarts=1, downtime=(2.0, 4.0),
               quiesce_timeout=600.0),
    "full": Plan(orders=10_000, rate=6.0, service_kills=20, broker_restarts=2, db_restarts=2, quiesce_timeout=1800.0),
}


@dataclass
class Fault:
    kind: str                      # service | broker | database
    target: str
    at: float                      # seconds into the run
    down_for: float = 0.0          # kill -> back (process restarted / broker or database answering)
    recovered_after: float | None = None   # kill -> every service ready again; None: never
    restarted_by_supervisor: bool | None = None
    note: str = ""


@dataclass
class Result:
    run: str
    plan: dict[str, Any]
    started_at: str
    seconds: float = 0.0
    orders_requested: int = 0
    orders_accepted: int = 0
    not_placed: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    invariant_failures: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    client_retries: int = 0
    faults: list[Fault] = field(default_factory=list)
    quiesced_after: float | None = None
    load: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.not_placed or self.lost or self.doubled or self.stuck or self.invariant_failures
                    or self.problems) and all(f.recovered_after is not None for f in self.faults)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok}, indent=1, default=str)


def schedule(plan: Plan, rng: random.Random) -> list[tuple[float, str, str]]:
    """(fraction of the load phase, kind, target): service kills cycle through every service (in a
    shuffled order, sales included) so each dies at least once; broker and database restarts are
    spread between them."""
    services: list[str] = []
    while len(services) < plan.service_kills:
        services += rng.sample(SERVICES, len(SERVICES))
    faults = [("service", name) for name in services[:plan.service_kills]]
    infra = [("broker", "kafka")] * plan.broker_restarts + [("database", "postgres")] * plan.db_restarts
    rng.shuffle(infra)
    for number, fault in enumerate(infra, start=1):
        faults.insert(round(number * len(faults) / (len(infra) + 1)) + number - 1, fault)
    count = len(faults)
    return [(0.08 + 0.8 * i / max(1, count - 1), kind, target) for i, (kind, target) in enumerate(faults)]


class ChaosRun:
    def __init__(self, plan: Plan, home: Path, *, seed: int, say: Callable[[str], None] = print) -> None:
        self.plan, self.seed, self.say = plan, seed, say
        self.rng = random.Random(seed)
        self.world = ChaosEnvironment(home, random.Random(seed + 1))
        self.run_id = f"{dt.datetime.now():%H%M%S}{seed % 1000:03d}"
        self.result = Result(self.run_id, asdict(plan), dt.datetime.now().isoformat(timespec="seconds"))
        self.t0 = 0.0

    def now(self) -> float:
        return time.monotonic() - self.t0

    # --- the run -------------------------------------------------------------------------------------

    async def run(self) -> Result:
        self.result.load["before"] = os.getloadavg()
        self.say(f"chaos: own stack in {self.world.home} (Kafka :{self.world.ports['kafka']}, "
                 f"PostgreSQL :{self.world.ports['postgres']}); starting it")
        await asyncio.to_thread(self.world.up)
        os.environ.update({k: v for k, v in self.world.env.items() if k.startswith("ORDERFLOW_")})
        token = dev_issuer.issue_token("chaos-driver", [roles.CLERK, roles.SALES_MANAGER], name="chaos driver",
                                       ttl_seconds=12 * 3600)
        self.t0 = time.monotonic()
        load = Load(self.world.url("sales"), token, orders=self.plan.orders, rate=self.plan.rate, run=self.run_id,
                    rng=self.rng)
        self.say(f"chaos: {self.plan.orders} orders at {self.plan.rate:g}/s with {self.plan.service_kills} service "
                 f"kills, {self.plan.broker_restarts} broker and {self.plan.db_restarts} database restarts")
        load_task = asyncio.create_task(load.run())
        await self._faults(self.plan.orders / self.plan.rate)
        placed: LoadResult = await load_task
        self.say(f"chaos: load done at {self.now():.0f}s ({len(placed.accepted)} accepted); waiting for quiescence")
        await self._quiesce(placed)
        self.result.load["after"] = os.getloadavg()
        self.result.seconds = round(self.now(), 1)
        return self.result

    async def _faults(self, load_seconds: float) -> None:
        async with httpx.AsyncClient() as client:
            for fraction, kind, target in schedule(self.plan, self.rng):
                wait = self.t0 + fraction * load_seconds - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                fault = Fault(kind, target, round(self.now(), 1))
                self.result.faults.append(fault)
                try:
                    await self._inject(client, fault)
                except Exception as exc:  # noqa: BLE001 - a fault that could not be injected is reported
                    fault.note = f"{type(exc).__name__}: {exc}"
                    self.result.problems.append(f"{kind} fault on {target} failed: {fault.note}")
                self.say(f"  {fault.at:7.1f}s {kind:8} {target:11} back after {fault.down_for:5.1f}s, all ready after "
                         f"{fault.recovered_after if fault.recovered_after is not None else 'never'}s {fault.note}")

    async def _inject(self, client: httpx.AsyncClient, fault: Fault) -> None:
        start = time.monotonic()
        if fault.kind == "service":
            restarts = self.world.restarts(fault.target)
            old = self.world.kill_service(fault.target)
            while (self.world.service_pid(fault.target) in (None, old)) and time.monotonic() - start < 120:
                await asyncio.sleep(0.1)
            fault.down_for = round(time.monotonic() - start, 1)
            fault.restarted_by_supervisor = self.world.restarts(fault.target) > restarts
            if not fault.restarted_by_supervisor:
                self.result.problems.append(f"{fault.target} was not restarted by the supervisor")
        else:
            kill, back = ((self.world.kill_broker, self.world.start_broker) if fault.kind == "broker"
                          else (self.world.crash_database, self.world.start_database))
            await asyncio.to_thread(kill)
            await asyncio.sleep(self.rng.uniform(*self.plan.downtime))
            await asyncio.to_thread(back)
            fault.down_for = round(time.monotonic() - start, 1)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if await self.world.all_ready(client):
                fault.recovered_after = round(time.monotonic() - start, 1)
                return
            await asyncio.sleep(0.25)

    # --- quiescence and the verdict ---------------------------------------------------------------

    async def _quiesce(self, placed: LoadResult) -> None:
        r = self.result
        r.orders_requested = len(placed.placed)
        r.orders_accepted = len(placed.accepted)
        r.kinds = dict(Counter(p.kind for p in placed.placed))
        r.actions = dict(placed.actions)
        r.client_retries = placed.retries
        r.not_placed = [f"{p.ref}: {p.answered}" for p in placed.placed if not p.order_id]
        settings = Settings()
        wanted = {p.order_id for p in placed.accepted}
        start = time.monotonic()
        statuses: dict[str, str] = {}
        while time.monotonic() - start < self.plan.quiesce_timeout:
            statuses = await _statuses(settings)
            open_orders = [o for o, s in statuses.items() if s not in invariants.FINAL]
            if not open_orders and not await _outbox_backlog(settings):
                r.quiesced_after = round(time.monotonic() - start, 1)
                break
            await asyncio.sleep(2)
        refs = await _external_refs(settings, f"chaos-{self.run_id}-")
        r.lost = sorted(f"{p.ref} ({p.order_id})" for p in placed.accepted if p.ref not in refs
                        or p.order_id not in statuses)
        r.doubled = sorted(f"{ref}: {n} orders" for ref, n in refs.items() if n > 1)
        r.stuck = sorted(f"{o} {s}" for o, s in statuses.items() if s not in invariants.FINAL)
        r.statuses = dict(Counter(statuses.get(o, "missing") for o in wanted))
        report = await _settled_invariants(settings)
        r.invariant_failures = report.failures
        r.doubled += report.doubled


async def _settled_invariants(settings: Settings, seconds: float = 45.0) -> invariants.Report:
    deadline = time.monotonic() + seconds
    while True:
        report = invariants.check(await invariants.collect(settings))      # every order, every SKU
        if report.ok or time.monotonic() > deadline:
            return report
        await asyncio.sleep(1.0)


async def _connect(settings: Settings, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(settings.model_copy(update={"service": service}).dsn(), timeout=30)


async def _statuses(settings: Settings) -> dict[str, str]:
    conn = await _connect(settings, "sales")
    try:
        return {str(r["order_id"]): r["status"] for r in await conn.fetch("SELECT order_id, status FROM orders")}
    finally:
        await conn.close()


async def _external_refs(settings: Settings, prefix: str) -> dict[str, int]:
    conn = await _connect(settings, "sales")
    try:
        rows = await conn.fetch("SELECT external_ref, count(*) AS n FROM orders WHERE external_ref LIKE $1 || '%'"
                                " GROUP BY external_ref", prefix)
        return {r["external_ref"]: r["n"] for r in rows}
    finally:
        await conn.close()


async def _outbox_backlog(settings: Settings) -> int:
    total = 0
    for service in SERVICES:
        conn = await _connect(settings, service)
        try:
            total += await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        finally:
            await conn.close()
    return total


# --- printing ------------------------------------------------------------------------------------------

def summary(result: Result) -> list[str]:
    lines = [f"chaos run {result.run}: {result.seconds:.0f}s, plan {result.plan}",
             f"orders: {result.orders_requested} requested, {result.orders_accepted} accepted, kinds {result.kinds}",
             f"final statuses: {result.statuses}; client actions {result.actions}; client retries {result.client_retries}",
             f"faults: {len(result.faults)} ({Counter(f.kind for f in result.faults)})"]
    for kind in ("service", "broker", "database"):
        times = [f.recovered_after for f in result.faults if f.kind == kind and f.recovered_after is not None]
        back = [f.down_for for f in result.faults if f.kind == kind]
        if back:
            lines.append(f"  {kind:8}: back after {_spread(back)}; every service ready after {_spread(times)}")
    lines += [f"lost: {len(result.lost)}", f"doubled: {len(result.doubled)}", f"stuck: {len(result.stuck)}",
              f"not placed: {len(result.not_placed)}", f"invariant failures: {len(result.invariant_failures)}",
              f"quiescent after the load: {result.quiesced_after}s",
              f"machine load (1/5/15 min): before {_load(result.load.get('before'))}, after "
              f"{_load(result.load.get('after'))} on {os.cpu_count()} cores"]
    for title, items in (("lost", result.lost), ("doubled", result.doubled), ("stuck", result.stuck),
                         ("not placed", result.not_placed), ("invariant failures", result.invariant_failures),
                         ("problems", result.problems)):
        lines += [f"  {title}: {item}" for item in items[:15]]
        if len(items) > 15:
            lines.append(f"  {title}: ... {len(items) - 15} more")
    lines.append("verdict: " + ("OK" if result.ok else "FAILED"))
    return lines


def _spread(values: list[float]) -> str:
    if not values:
        return "never"
    return f"min {min(values):.1f}s / median {statistics.median(values):.1f}s / max {max(values):.1f}s"


def _load(values: Any) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"
