"""A multi-host run on one machine: the services assume nothing about sharing a machine.

Kafka, PostgreSQL, each of the five departments and the outside parties (carrier, payment provider,
supplier simulators) each run on a host of their own: a network namespace cabled to a bridge
(tests/e2e/netns.py, tests/e2e/multihost.py). Kafka speaks only SASL_SSL + SCRAM (its certificate
names its address; clients check it), every department logs into PostgreSQL with its own role,
`orderflow provision` provisions the environment from the client host, and this test, on the
client host too, drives it through the sales HTTP API and the CLI over the bridge.

Then one department's cable is pulled at the switch for CUT_SECONDS while orders are in flight
(its packets vanish both ways: open connections hang, nothing fails fast), plugged back in, and
every order must still complete exactly once: the saga invariants (tests/e2e/invariants.py) over
the departments' own databases, stock moved exactly by what was ordered, no dead letter, no order
twice. The run's figures (how long the department took to recover, its consumer lag, the commands
re-sent while it was away, the duplicates its inbox absorbed) are printed and kept in
`.local/test-runs/<run>/report.txt`.

Skipped, with the reason, only where network namespaces cannot be made (not root, no iproute2).
Alone: `.venv/bin/python -m pytest tests/e2e/test_multi_host.py -q -s`.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka.errors import KafkaError

from services.cli import lag
from services.cli.stack import SERVICES
from services.runtime import dev_issuer
from tests.e2e import netns
from tests.e2e.conftest import E2E, FINAL
from tests.e2e.invariants import assert_invariants
from tests.e2e.masterdata import new_product
from tests.e2e.multihost import HOSTS, MultiHost
from tests.e2e.test_zz_no_secrets_in_logs import _secrets

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CUT_HOST = os.environ.get("ORDERFLOW_MULTIHOST_CUT", "warehouse")      # procurement, warehouse, logistics or finance
CUT_SECONDS = float(os.environ.get("ORDERFLOW_MULTIHOST_CUT_SECONDS", "15"))
PLENTY = 500         # opening stock of the SKU most orders buy
WAIT = 240.0          # generous: the machine is shared and slow at times; every wait ends as soon as its condition holds


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[MultiHost, E2E]]:
    reason = netns.unavailable()
    if reason:
        pytest.skip(reason)
    run_id = f"mh{int(time.time())}{uuid.uuid4().hex[:4]}"
    run_dir = ROOT / ".local" / "test-runs" / run_id
    run_dir.mkdir(parents=True)
    net = netns.Network.create(HOSTS, root=ROOT)
    hosts = MultiHost(net, run_dir)
    try:
        hosts.prepare_binaries()
        hosts.start_infra()
        with net.entered("client"):
            provisioned = hosts.cli("provision")
            assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
            # Bearer tokens come from the suite's dev issuer (as in conftest.py); the hosts get its public keys only.
            hosts.distribute_credentials(jwks=dev_issuer.ensure_keys())
            hosts.stack.start_all()
            hosts.stack.wait_ready(timeout=WAIT)
            e2e = E2E(hosts.stack, hosts.operator_settings(), run_id)
            hosts.give_operator_token(e2e.issued_tokens()[0])
            yield hosts, e2e
    finally:
        hosts.stack.stop_all()
        hosts.stop_infra()
        killed = net.destroy()            # also when the run failed: nothing of it stays behind
        hosts.keep_logs_drop_state(keep_state=bool(os.environ.get("ORDERFLOW_KEEP_TEST_STATE")))
    assert not killed, f"still running on the test's hosts after every process was stopped: {killed}"


# --- helpers --------------------------------------------------------------------------------------

async def group_lag(e2e: E2E, group: str) -> int | None:
    """Records the department's consumer group has not committed yet (None: Kafka did not answer)."""
    try:
        return sum(p.lag for p in (await lag.collect(e2e.settings, group)).partitions)
    except (KafkaError, OSError, asyncio.TimeoutError):    # Kafka did not answer: missing, not fatal
        return None


def metric_sum(e2e: E2E, service: str, name: str, **labels: str) -> float:
    text = e2e.http.get(f"{e2e.stack.url(service)}/metrics").text
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and all(w in line for w in wanted))


async def seconds_until_drained(e2e: E2E, group: str, since: float) -> float:
    """Wait until the group has committed everything there is; seconds from `since`."""
    deadline = time.monotonic() + WAIT
    while await group_lag(e2e, group) != 0:
        assert time.monotonic() < deadline, f"{group} did not catch up within {WAIT:g}s"
        await asyncio.sleep(0.5)
    return time.monotonic() - since


async def assert_each_effect_once(e2e: E2E, order_ids: list[str], ordered: dict[str, int], plenty: str) -> None:
    """Beyond the saga invariants: stock moved by exactly what was ordered, one dispatch and one
    invoice per order (one shipment each), no order taken twice, nothing dead-lettered."""
    skus = list(ordered)
    await assert_invariants(e2e, order_ids, skus)
    stock = {r["sku"]: r for r in await e2e.rows("warehouse", "SELECT sku, on_hand, reserved FROM stock"
                                                              " WHERE sku = ANY($1)", skus)}
    assert stock[plenty]["on_hand"] == PLENTY - ordered[plenty], (stock[plenty], ordered)
    assert all(row["reserved"] == 0 for row in stock.values()), stock
    for service, table in (("warehouse", "dispatches"), ("finance", "invoices")):
        counts = {r["order_id"]: r["n"] for r in await e2e.rows(
            service, f"SELECT order_id, count(*) n FROM {table} WHERE order_id = ANY($1::text[]) GROUP BY 1", order_ids)}
        assert counts == {o: 1 for o in order_ids}, (table, counts)
    assert len(await e2e.rows("sales", "SELECT 1 FROM orders")) == len(order_ids), "an order was taken twice"
    for name in SERVICES:
        assert e2e.get(name, "/dead-letters") == [], (name, e2e.get(name, "/dead-letters"))


def assert_no_secret_in_logs(hosts: MultiHost, e2e: E2E) -> None:
    """None of this run's passwords, keys or tokens in any of its logs (services, broker, database)."""
    secrets = _secrets(hosts.infra_home / ".local")
    assert len(secrets) >= 10, secrets
    secrets.update({token: "a bearer token issued in this run" for token in e2e.issued_tokens()})
    logs = [*hosts.run_dir.glob("*.log"), *hosts.infra_logs().values()]
    leaks = [f"{log}: {what}" for log in logs if log.exists()
             for secret, what in secrets.items() if secret in log.read_text(errors="replace")]
    assert not leaks, leaks


def resent_steps(order: dict) -> int:
    return sum("sent again" in str(entry.get("detail")) for entry in order["timeline"])


def stage(e2e: E2E, order_id: str) -> str:
    return e2e.order(order_id)["status"]


# --- the run ----------------------------------------------------------------------------------------

async def test_departments_on_their_own_hosts_complete_every_order_exactly_once_across_a_cut_link(
        cluster: tuple[MultiHost, E2E]) -> None:
    hosts, e2e = cluster
    assert CUT_HOST in ("procurement", "warehouse", "logistics", "finance"), CUT_HOST
    report: list[str] = [f"multi-host run {e2e.run_id}: hosts {hosts.net.hosts}"]
    urls = [f"--{name}-url={hosts.url(name)}" for name in SERVICES]

    # The operator's CLI on the client host sees every department at its remote address.
    status = hosts.cli(*urls, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    for name in SERVICES:
        assert hosts.url(name) in status.stdout, status.stdout

    plenty = await new_product(e2e, stock=PLENTY)
    scarce = await new_product(e2e, stock=0, suppliers=["SUP-T-OK"])    # bought from the supplier on the partners host

    # One order end to end, placed and followed with the CLI.
    started = time.monotonic()
    placed = hosts.cli(*urls, "order", "place", "--customer", "CUST-ACME", "--line", f"{plenty}:2",
                       "--wait", "--timeout", str(WAIT))
    assert placed.returncode == 0 and "completed" in placed.stdout, placed.stdout + placed.stderr
    ordered = {plenty: 2, scarce: 0}
    order_ids = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", placed.stdout)[:1]
    assert order_ids, placed.stdout
    report.append(f"first order through the CLI: completed in {time.monotonic() - started:.1f}s")

    def place(customer: str, sku: str, quantity: int) -> str:
        ordered[sku] += quantity
        order_ids.append(e2e.place(customer, [(sku, quantity)])["order_id"])
        return order_ids[-1]

    # Orders in flight: the cable is pulled as soon as the first of them has reached the departments
    # (orders here take a second or two from end to end, so most are half-way then).
    batch = [place(("CUST-ACME", "CUST-NORD")[i % 2], plenty, 3) for i in range(8)] + [place("CUST-NORD", scarce, 2)]
    e2e.wait_for("an order of the batch past its credit check",
                 lambda: any(stage(e2e, o) not in ("received", "credit_check") for o in batch), WAIT, interval=0.05)
    hosts.net.cut(CUT_HOST)
    cut_at = time.monotonic()
    samples: list[tuple[float, int | None]] = []
    try:
        at_cut = sorted(stage(e2e, o) for o in batch)
        # Sales still takes orders while a department is away.
        during = [place("CUST-ACME", plenty, 1) for _ in range(3)]
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{hosts.url(CUT_HOST)}/health/live", timeout=2)
        while time.monotonic() - cut_at < CUT_SECONDS:       # the deliberate outage
            samples.append((round(time.monotonic() - cut_at, 1), await group_lag(e2e, CUT_HOST)))
            await asyncio.sleep(1.0)
        in_flight = [o for o in order_ids if stage(e2e, o) not in FINAL]
    finally:
        hosts.net.restore(CUT_HOST)
    back_at = time.monotonic()
    assert in_flight, "the cut caught no order in flight: it proves nothing"

    e2e.wait_for(f"{CUT_HOST} ready again", lambda: hosts.stack.ready(CUT_HOST)[0], WAIT)
    ready_after = time.monotonic() - back_at
    caught_up_after = await seconds_until_drained(e2e, CUT_HOST, since=back_at)
    finals = {o: e2e.wait_final(o, timeout=WAIT) for o in order_ids}
    all_final_after = time.monotonic() - back_at
    assert {o: f["status"] for o, f in finals.items() if f["status"] != "completed"} == {}
    await assert_each_effect_once(e2e, order_ids, ordered, plenty)

    lag_cli = hosts.cli("lag", "--group", CUT_HOST)
    assert lag_cli.returncode == 0, lag_cli.stdout + lag_cli.stderr

    resent = sum(resent_steps(f) for f in finals.values())
    duplicates = metric_sum(e2e, CUT_HOST, "orderflow_consumed_total", outcome="duplicate")
    lags = [v for _, v in samples if v is not None]
    rejoins = hosts.stack.log_file(CUT_HOST).read_text(errors="replace").count("Joined group") - 1
    commands = {r["message_type"]: r["n"] for r in await e2e.rows(
        CUT_HOST, "SELECT message_type, count(*) n FROM inbox WHERE topic = $1 GROUP BY 1", f"{CUT_HOST}.commands.v1")}
    report += [
        f"cut: {CUT_HOST} for {back_at - cut_at:.1f}s; the batch when the cable was pulled: {at_cut};"
        f" {len(in_flight)} of {len(order_ids)} orders not final when it came back ({len(during)} placed during the cut)",
        f"{CUT_HOST} consumer lag: max {max(lags, default=None)} during the cut"
        f" (samples {samples}), 0 again {caught_up_after:.1f}s after reconnecting",
        f"{CUT_HOST} ready again {ready_after:.1f}s after reconnecting",
        f"all {len(order_ids)} orders completed {all_final_after:.1f}s after reconnecting",
        f"commands re-sent by the saga (no answer within the step timeout): {resent};"
        f" duplicates absorbed by {CUT_HOST}'s inbox: {duplicates:g}; its consumer group re-joined {rejoins} time(s)",
        f"commands {CUT_HOST} received (a re-sent one is a new message; each applied once), for {len(order_ids)} orders:"
        f" {commands}",
        f"orderflow lag --group {CUT_HOST} (CLI, client host):\n{lag_cli.stdout.rstrip()}",
    ]
    (hosts.run_dir / "report.txt").write_text("\n".join(report) + "\n")
    print("\n" + "\n".join(report))

    assert_no_secret_in_logs(hosts, e2e)
