"""Consumer lag for SREs: `orderflow lag --json` gives Kafka's own figures, and a consumer frozen
with SIGSTOP shows in the lag exporter's metrics (messages, seconds, group status) within its window
and in `orderflow lag`'s over-threshold exit code."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from services.cli import exit_codes
from services.runtime.kafka_lag import our_groups
from services.cli.stack import SERVICES
from tests.e2e.conftest import E2E, ROOT
from tests.e2e.infra import select_mode
from tests.e2e.invariants import assert_invariants

Row = tuple[str, str, int, int, int, int]      # group, topic, partition, committed, end, lag


def _cli(e2e: E2E, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **e2e.stack.env}, cwd=ROOT)


def _ours(e2e: E2E) -> set[Row]:
    result = _cli(e2e, "lag", "--json")
    assert result.returncode == 0, result.stderr
    return {(g["group"], p["topic"], p["partition"], p["committed"], p["end"], p["lag"])
            for g in json.loads(result.stdout)["groups"] for p in g["partitions"]}


def _kafkas(e2e: E2E) -> set[Row]:
    """ConsumerGroupCommand --describe, run as admin by deploy/local/kafka.sh."""
    groups = [arg for g in our_groups(e2e.settings) for arg in ("--group", g)]
    result = subprocess.run([str(ROOT / "deploy/local/kafka.sh"), "tool", "ConsumerGroupCommand", "--describe",
                             *groups], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = set()
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) >= 6 and cells[0] in our_groups(e2e.settings) and re.fullmatch(r"\d+", cells[3]):
            rows.add((cells[0], cells[1], int(cells[2]), int(cells[3]), int(cells[4]), int(cells[5])))
    return rows


def test_orderflow_lag_json_equals_kafkas_consumer_group_command(e2e: E2E) -> None:
    if select_mode(os.environ) != "local":
        pytest.skip("ConsumerGroupCommand runs from the local Kafka installation (deploy/local/kafka.sh)")
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
    # Both are snapshots of a live stack (e.g. the warehouse values its stock every few seconds):
    # compare the partitions no message moved while Kafka's tool ran (ours read before and after it).
    for _ in range(4):
        before, kafkas, after = _ours(e2e), _kafkas(e2e), _ours(e2e)
        moved = {row[:3] for row in before ^ after}
        ours = {row for row in after if row[:3] not in moved}
        kafkas = {row for row in kafkas if row[:3] not in moved}
        if ours == kafkas and len(moved) <= len(after) // 2:
            break
    assert ours == kafkas, (f"only in orderflow lag: {sorted(ours - kafkas)[:10]}; "
                            f"only in ConsumerGroupCommand: {sorted(kafkas - ours)[:10]}")
    assert len(moved) <= len(after) // 2, f"too much moved during the comparison: {sorted(moved)[:10]}"
    # Every department's group is compared (a simulator's group has offsets once it got a request).
    assert {e2e.settings.group_prefix + d for d in SERVICES} <= {row[0] for row in ours} and len(ours) >= 100


def _metrics(e2e: E2E) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{e2e.stack.exporter_port()}/metrics", timeout=3).text
    except httpx.HTTPError:
        return ""


def _sample(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{"):
            body, _, value = line.rpartition(" ")
            got = ",".join(sorted(body[len(name) + 1:-1].split(",")))
            if got == wanted:
                return float(value)
    return None


async def test_a_sigstopped_consumer_shows_in_lag_messages_seconds_and_status(e2e: E2E) -> None:
    group = e2e.settings.group_prefix + "warehouse"
    e2e.wait_for("the exporter to report warehouse OK", lambda: _sample(
        _metrics(e2e), "orderflow_consumer_group_status", group=group, status="OK") == 1.0, timeout=60)
    pid = e2e.stack.pid("warehouse")
    assert pid
    os.kill(pid, signal.SIGSTOP)
    try:
        orders = [e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])["order_id"] for _ in range(3)]

        def caught() -> dict | None:
            text = _metrics(e2e)
            seen = {status: _sample(text, "orderflow_consumer_group_status", group=group, status=status)
                    for status in ("STALLED", "STOPPED")}
            lag = _sample(text, "orderflow_consumer_group_lag_messages", group=group) or 0
            seconds = _sample(text, "orderflow_consumer_group_lag_seconds", group=group) or 0
            frozen = [s for s, v in seen.items() if v == 1.0]
            return {"status": frozen, "lag": lag, "seconds": seconds} if frozen and lag > 0 and seconds > 0 else None

        # Window 8 s (STALLED) and a 10 s session timeout (STOPPED): well within 60 s.
        seen = e2e.wait_for("the exporter to see warehouse frozen", caught, timeout=60, interval=0.5)
        assert seen["lag"] >= 1 and seen["seconds"] > 0
        over = _cli(e2e, "lag", "--group", group, "--max-lag", "0")
        assert over.returncode == exit_codes.OVER_THRESHOLD, over.stdout + over.stderr
        assert "over threshold" in over.stderr
        watched = _cli(e2e, "lag", "--group", group, "--json", "--watch", "--interval", "0.5", "--window", "2",
                       "--count", "6", "--fail-unless-ok")
        assert watched.returncode == exit_codes.OVER_THRESHOLD, watched.stderr
        polls = _documents(watched.stdout)
        assert len(polls) == 6
        assert polls[-1]["groups"][0]["status"] in ("STALLED", "STOPPED")
    finally:
        os.kill(pid, signal.SIGCONT)
    for order_id in orders:
        assert e2e.wait_final(order_id, timeout=90)["status"] == "completed"
    e2e.wait_for("warehouse back to OK with no lag", lambda: (
        (text := _metrics(e2e)) and _sample(text, "orderflow_consumer_group_status", group=group, status="OK") == 1.0
        and _sample(text, "orderflow_consumer_group_lag_messages", group=group) == 0), timeout=60)
    missing = _cli(e2e, "lag", "--group", "no-such-group")
    assert missing.returncode == exit_codes.NOT_FOUND
    await assert_invariants(e2e, orders, ["SKU-BOLT-M8"])


def _documents(text: str) -> list[dict]:
    """The JSON documents `--watch --json` printed one after the other."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found
