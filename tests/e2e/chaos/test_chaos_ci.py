"""The CI-sized chaos run (`orderflow chaos --profile ci`): 300 mixed orders at 3/s while every
service is SIGKILLed once (sales included) under the supervisor, the broker is SIGKILLed and
restarted once and PostgreSQL is stopped immediately and restarted once; then quiescence and every
invariant over the whole database. It runs on infrastructure of its own (its own ORDERFLOW_HOME,
Kafka, PostgreSQL and ports), never the one the rest of the suite uses. The full run is
`make chaos`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from services.cli.stack import SERVICES

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.e2e


def test_ci_sized_chaos_run_loses_doubles_and_strands_nothing(tmp_path: Path) -> None:
    report = tmp_path / "chaos.json"
    run = subprocess.run([sys.executable, "-m", "services.cli.main", "chaos", "--profile", "ci",
                          "--report", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=2400,
                         stdin=subprocess.DEVNULL)
    output = run.stdout + run.stderr
    print(output)                                    # the figures, with -s or on failure
    assert report.exists(), f"the chaos run did not finish:\n{output[-6000:]}"
    result = json.loads(report.read_text())
    faults = result["faults"]
    assert Counter(f["kind"] for f in faults) == {"service": 5, "broker": 1, "database": 1}, faults
    assert {f["target"] for f in faults if f["kind"] == "service"} == set(SERVICES)
    assert all(f["restarted_by_supervisor"] for f in faults if f["kind"] == "service"), faults
    assert all(f["recovered_after"] is not None for f in faults), faults
    assert result["orders_accepted"] == result["orders_requested"] == 300, result["not_placed"][:10]
    assert (result["lost"], result["doubled"], result["stuck"], result["invariant_failures"], result["problems"]) == \
        ([], [], [], [], []), output[-6000:]
    assert result["ok"] and run.returncode == 0, output[-6000:]
