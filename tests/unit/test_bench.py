"""The bench's arithmetic, its /proc probes and how it authenticates (no stack needed)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from services.cli.bench import bound
from services.cli.bench.probes import Process, ProcessProbe, cpu_ms, listener_pid
from services.cli.bench.runner import BENCH_USER, clerk_headers, percentile, versus_bound
from services.runtime.tokens import AuthSettings, TokenVerifier

SECRET = "s3cret-never-on-a-command-line"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A state directory of our own: the dev issuer's keys and the admin role's password file."""
    for name in list(os.environ):
        if name.upper().startswith("ORDERFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ORDERFLOW_HOME", str(tmp_path))
    roles = tmp_path / ".local" / "postgres" / "roles"
    roles.mkdir(parents=True)
    (roles / "orderflow_admin.password").write_text(SECRET + "\n")
    return tmp_path


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]          # 1..100
    assert percentile(values, 50) == 50.5
    assert percentile(values, 99) == 99.01
    assert percentile(values, 100) == 100.0
    assert percentile([], 50) is None


def test_versus_bound_divides_the_bound_by_this_runs_costs_per_order() -> None:
    result = {"per_order": {"kafka_records": 32.0, "messages_handled": 22.0},
              "throughput_orders_per_s": 20.0, "cpu_ms_per_order": {"total": 44.0}}
    bound = {"kafka": {"producer_records_per_s": 64000.0},
             "postgres": {"one_message_per_txn": {"messages_per_s": 4400.0},
                          "twenty_messages_per_txn": {"messages_per_s": 22000.0}},
             "baseline": {"messages_per_s": 4400.0, "cpu_ms_per_message": {"total": 0.1}}}
    vs = versus_bound(result, bound)
    assert vs["kafka_bound_orders_per_s"] == 2000.0
    assert vs["postgres_bound_orders_per_s"] == {"one_message_per_txn": 200.0, "twenty_messages_per_txn": 1000.0}
    assert vs["baseline_orders_per_s"] == 200.0 and vs["throughput_pct_of_baseline"] == 10.0
    assert vs["baseline_cpu_ms_per_order"] == 2.2 and vs["cpu_efficiency_pct_of_baseline"] == 5.0


def test_cpu_of_this_process_grows_when_it_works() -> None:
    probe = ProcessProbe([Process("me", os.getpid())])
    before = probe.sample()
    sum(i * i for i in range(3_000_000))                # ~0.2 s of CPU, well above a clock tick
    assert probe.delta(before, probe.sample())["me"] > 0
    assert cpu_ms(os.getpid()) > 0
    assert probe.memory()["me"]["rss_mib"] > 0


def test_the_process_listening_on_a_port_is_found() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert listener_pid(server.getsockname()[1]) == os.getpid()


async def test_the_load_is_placed_as_a_clerk_with_a_token_the_services_accept(home: Path) -> None:
    scheme, raw = clerk_headers()["Authorization"].split(" ", 1)
    caller = await TokenVerifier(AuthSettings()).verify(raw)
    assert scheme == "Bearer" and caller.subject == BENCH_USER and caller.roles == {"clerk"}


def test_an_identity_providers_token_is_used_as_given(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_TOKEN", "token-from-the-idp")
    assert clerk_headers() == {"Authorization": "Bearer token-from-the-idp"}


def test_pgbench_gets_the_admin_password_only_in_its_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        calls.append((argv, kwargs["env"]))
        return subprocess.CompletedProcess(argv, 0, stdout="tps = 812.5 (without initial connection time)\n",
                                           stderr="")

    monkeypatch.setattr(bound.subprocess, "run", fake_run)
    assert bound._pgbench(bound.Settings(), "scratch", "SELECT 1;", seconds=1, clients=1) == 812.5
    (argv, env), = calls
    assert argv[argv.index("-U") + 1] == "orderflow_admin" and env["PGPASSWORD"] == SECRET
    assert not any(SECRET in arg for arg in argv)


def test_the_baseline_child_gets_no_credentials_on_its_command_line(home: Path) -> None:
    argv = bound.baseline_command(20_000, "ofb_x_bench_baseline", "bench1.")
    assert "--dsn" not in argv and not any(SECRET in arg or "postgresql://" in arg for arg in argv)
    assert argv[argv.index("--database") + 1] == "ofb_x_bench_baseline"
