"""The bench's arithmetic and its /proc probes (no stack needed)."""

from __future__ import annotations

import os
import socket

from services.cli.bench.probes import Process, ProcessProbe, cpu_ms, listener_pid
from services.cli.bench.runner import percentile, versus_bound


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
