"""deploy/observability: the alert rules pass `promtool check rules` and their `promtool test rules`
cases (synthetic series, incl. a SIGSTOPped consumer), and the rules and the Grafana dashboard use
only metrics that the services and the lag exporter really export."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy/observability"
RULES = sorted((OBSERVABILITY / "rules").glob("*.yml"))
RULE_TESTS = sorted((OBSERVABILITY / "tests").glob("*.yml"))
DASHBOARDS = sorted((OBSERVABILITY / "dashboards").glob("*.json"))
METRIC = re.compile(r"\b(orderflow_[a-z0-9_]+|up)\b")
PROMQL_WORDS = {"up"}


def _promtool() -> str:
    """promtool from PATH, or Debian's prometheus package unpacked by deploy/local/tools.sh (make test
    runs it first, so this only installs when the test is run on its own)."""
    result = subprocess.run([str(ROOT / "deploy/local/tools.sh"), "promtool"], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "ORDERFLOW_HOME": os.environ.get("ORDERFLOW_HOME", str(ROOT))})
    if result.returncode != 0:
        pytest.skip(f"promtool could not be installed (no apt-get, or Debian's archive unreachable): "
                    f"{result.stderr.strip()[-300:]}")
    return result.stdout.strip().splitlines()[-1]


def test_the_placeholders_are_gone_and_there_is_something_to_load():
    assert RULES and DASHBOARDS and RULE_TESTS
    assert not list(OBSERVABILITY.rglob("*placeholder*"))


def test_promtool_checks_the_rules():
    result = subprocess.run([_promtool(), "check", "rules", *map(str, RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_rule_tests_pass(case):
    result = subprocess.run([_promtool(), "test", "rules", str(case)], capture_output=True, text=True,
                            cwd=case.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_test_case_that_makes_it_fire():
    alerts = {rule["alert"] for path in RULES for group in yaml.safe_load(path.read_text())["groups"]
              for rule in group["rules"] if "alert" in rule}
    firing = {check["alertname"] for path in RULE_TESTS for case in yaml.safe_load(path.read_text())["tests"]
              for check in case.get("alert_rule_test", []) if check.get("exp_alerts")}
    assert alerts - firing == set(), f"alerts never shown firing in a promtool case: {sorted(alerts - firing)}"


def _exported_metric_names() -> set[str]:
    """Every sample name the services (any department, built in-process), the simulators and the lag
    exporter can expose."""
    from prometheus_client import REGISTRY

    import services.sales.app  # noqa: F401  (builds a service: HTTP instrumentation, FastStream metrics)
    from services.lag_exporter.app import Exporter, ExporterSettings

    exporter = Exporter(ExporterSettings(service="lag_exporter"))
    names = set()
    for registry in (REGISTRY, exporter.registry):
        for family in registry.collect():
            suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
                        "summary": ("_count", "_sum", "_created")}.get(family.type, ("",))
            names |= {family.name + suffix for suffix in suffixes} | {family.name}
    return names


def _expressions() -> list[tuple[str, str]]:
    found = [(f"{path.name}:{rule['alert']}", rule["expr"]) for path in RULES
             for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found += [(f"{path.name}:{panel['title']}", t["expr"]) for t in panel.get("targets", [])]
    return found


def test_rules_and_dashboards_use_only_exported_metrics():
    exported = _exported_metric_names() | PROMQL_WORDS
    unknown = sorted({(where, name) for where, expr in _expressions() for name in METRIC.findall(expr)
                      if name not in exported})
    assert not unknown, f"metrics that nothing exports: {unknown}"


def test_the_dashboard_is_a_grafana_dashboard_on_the_provisioned_datasource():
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), "panel ids must be unique"
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
                assert panel["targets"], panel["title"]
    provisioned = yaml.safe_load((ROOT / "deploy/compose/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert provisioned["datasources"][0]["uid"] == "prometheus"
