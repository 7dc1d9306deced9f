"""The published figures: each scenario on a fresh stack (its own topic prefix, consumer groups and
databases, simulators' delays at 0), so that runs neither inherit each other's data nor the demo's.
Each stack is provisioned like any environment (services/provisioning: topics, Kafka users and the
ACLs for its prefixes, database roles and databases; the dev issuer's keys) and runs secured.

    orderflow bench-suite                          # capacity (with --bound), then 10, 50, 100 orders/s
    orderflow bench-suite --scenario capacity --scenario 10

Results go to `.local/bench/<stamp>/<scenario>.json`; docs/performance.md holds the table.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.cli.bench.runner import BenchOptions, run
from services.cli.client import ports as configured_ports
from services.cli.stack import Stack
from services.provisioning.environment import drop_environment, provision_environment
from services.runtime import dev_issuer
from services.runtime.config import Settings

ROOT = Path(__file__).resolve().parents[3]
ZERO_DELAYS = {"ORDERFLOW_SIM_CARRIER_DELAY": "0", "ORDERFLOW_SIM_PAYMENT_DELAY": "0",
               "ORDERFLOW_SIM_SUPPLIER_DELAY": "0", "ORDERFLOW_LOG_LEVEL": "WARNING"}


def options_for(scenario: str, *, capacity_orders: int, duration: float, bound: bool) -> BenchOptions:
    if scenario == "capacity":
        return BenchOptions(orders=capacity_orders, concurrency=20, bound=bound)
    rate = float(scenario)
    return BenchOptions(orders=int(rate * duration), rate=rate, concurrency=200, timeout=600)


def run_scenario(scenario: str, options: BenchOptions, out_dir: Path,
                 progress: Callable[[str], None]) -> dict[str, Any]:
    run_id = f"bench{time.strftime('%H%M%S')}{scenario.replace('.', '_')}"
    env = {**ZERO_DELAYS, "ORDERFLOW_TOPIC_PREFIX": f"{run_id}.", "ORDERFLOW_GROUP_PREFIX": f"{run_id}.",
           "ORDERFLOW_DB_PREFIX": f"ofb_{run_id}_"}
    settings = Settings(topic_prefix=env["ORDERFLOW_TOPIC_PREFIX"], group_prefix=env["ORDERFLOW_GROUP_PREFIX"],
                        db_prefix=env["ORDERFLOW_DB_PREFIX"])
    stack = Stack(run_dir=out_dir / "run" / scenario, env=env, ports=configured_ports())
    try:
        progress("provisioning")
        asyncio.run(provision_environment(settings))
        dev_issuer.ensure_keys()       # the services read its JWKS at start-up; the load's clerk token
        stack.start_all()
        stack.wait_ready()
        result = asyncio.run(run(options, progress, settings=settings, run_dir=stack.run_dir, ports=stack.ports))
        # Written before the teardown, so that a failing drop does not lose the figures.
        (out_dir / f"{scenario}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    finally:
        stack.stop_all()
        asyncio.run(drop_environment(settings))
    return result
