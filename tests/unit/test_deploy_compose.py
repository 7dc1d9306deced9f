"""deploy/compose: valid against the Compose Specification (offline), secured like the local stack,
each department with only its own credentials, and the one-shot credentials job really works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed (pip install -e '.[test]')")

from contracts.topics import DEPARTMENTS, EXTERNAL_PARTIES  # noqa: E402
from services.runtime.kafka_acl import SUPER_USERS, kafka_principals  # noqa: E402
from services.runtime.version import version_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy/compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"


def _check_jsonschema() -> str:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    if tool is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    return tool


def _validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_validates_against_the_compose_specification():
    result = _validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validation_catches_a_mistake(tmp_path):
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["sales"]["depends_on"] = {"provision": {"condition": "service_finished"}}
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert _validate(path).returncode != 0


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_every_component_and_the_infrastructure_are_there(compose):
    services = compose["services"]
    assert set(DEPARTMENTS) | set(EXTERNAL_PARTIES) | {"kafka", "postgres", "provision", "init-secrets",
                                                       "prometheus", "grafana"} <= set(services)
    assert services["provision"]["command"] == ["provision"]
    assert services["provision"]["image"].startswith("localhost/orderflow-cli:")


@pytest.mark.parametrize("name", [*DEPARTMENTS, *EXTERNAL_PARTIES])
def test_component_is_configured_by_orderflow_settings_and_its_own_credentials_only(compose, name):
    service = compose["services"][name]
    env = service["environment"]
    assert all(key.startswith("ORDERFLOW_") for key in env)
    assert env["ORDERFLOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["ORDERFLOW_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["ORDERFLOW_KAFKA_USERNAME"] == name
    assert not any("PASSWORD" in key and not key.endswith("_FILE") for key in env), "a password in the file"
    (mount,) = service["volumes"]
    assert mount["source"] == "secrets" and mount["read_only"] is True
    assert mount["volume"]["subpath"] == f"principals/{name}"
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert service["depends_on"]["provision"]["condition"] == "service_completed_successfully"
    if name in DEPARTMENTS:
        assert env["ORDERFLOW_PG_USER"] == f"orderflow_{name}"
        variable = f"ORDERFLOW_{name.upper()}_VERSION"
    else:
        assert not any(key.startswith("ORDERFLOW_PG_") for key in env)
        variable = "ORDERFLOW_SIMULATORS_VERSION"
    assert service["image"] == f"localhost/orderflow-{name}:${{{variable}:-{version_of(name)}}}"


def test_prometheus_and_grafana_load_the_projects_rules_and_dashboards(compose):
    prometheus = compose["services"]["prometheus"]["volumes"]
    assert "../observability/rules:/etc/prometheus/rules:ro" in prometheus
    config = yaml.safe_load((COMPOSE_DIR / "prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert list((ROOT / "deploy/observability/rules").glob("*.yml"))
    grafana = compose["services"]["grafana"]["volumes"]
    assert "../observability/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    assert list((ROOT / "deploy/observability/dashboards").glob("*.json"))
    targets = [t for group in config["scrape_configs"][0]["static_configs"] for t in group["targets"]]
    assert sorted(targets) == sorted(f"{n}:8080" for n in (*DEPARTMENTS, *EXTERNAL_PARTIES))


def test_init_secrets_generates_every_credential(tmp_path):
    """Runs deploy/compose/secrets/init.sh for real (openssl, the catalogue's principals)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    if os.geteuid() != 0:
        pytest.skip("init.sh sets file owners (it runs as root in its container); run as root to check it")
    env = {**os.environ, "ORDERFLOW_HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    run = subprocess.run(["sh", str(COMPOSE_DIR / "secrets/init.sh")], env=env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    local = tmp_path / ".local"
    for principal in (*SUPER_USERS, *kafka_principals()):
        assert len((local / f"kafka/users/{principal}.password").read_text().strip()) == 48
    for dept in DEPARTMENTS:
        assert (local / f"postgres/roles/orderflow_{dept}.password").exists()
        assert sorted(p.name for p in (tmp_path / "principals" / dept).iterdir()) == \
            ["ca.crt", "kafka.password", "postgres.password"]
        assert (tmp_path / "principals" / dept / "kafka.password").read_text() == \
            (local / f"kafka/users/{dept}.password").read_text()
    assert not (tmp_path / "principals" / "admin").exists()
    assert (local / "kafka/tls/ca.key").stat().st_mode & 0o077 == 0
    san = subprocess.run(["openssl", "x509", "-in", str(local / "kafka/tls/broker.crt"), "-noout", "-ext",
                          "subjectAltName"], capture_output=True, text=True)
    assert "DNS:kafka" in san.stdout
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(local / "kafka/tls/ca.crt"),
                             str(local / "kafka/tls/broker.crt")], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    # Idempotent: a second run changes nothing.
    before = (local / "kafka/users/sales.password").read_text()
    again = subprocess.run(["sh", str(COMPOSE_DIR / "secrets/init.sh")], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert (local / "kafka/users/sales.password").read_text() == before


@pytest.mark.parametrize("script", ["secrets/init.sh", "kafka/start.sh"])
def test_scripts_parse(script):
    assert subprocess.run(["sh", "-n", str(COMPOSE_DIR / script)]).returncode == 0
