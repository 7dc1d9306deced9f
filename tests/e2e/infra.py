"""Which Kafka and PostgreSQL the end-to-end suite runs against: ORDERFLOW_TEST_INFRA.

- `local`: the processes of `deploy/local/*.sh` (started if needed), as on a machine without Docker;
- `testcontainers`: throwaway containers (Kafka in KRaft mode, PostgreSQL 15) started by the
  `testcontainers` library where a Docker engine answers (a laptop, a CI runner with Docker);
- `external`: endpoints already given in the environment (ORDERFLOW_KAFKA_BOOTSTRAP, ORDERFLOW_PG_*),
  nothing is started (also selected by the older ORDERFLOW_EXTERNAL_INFRA=1);
- `auto` (default): `testcontainers` when a Docker engine answers, else `local`.

The Kafka container is configured like the compose stack's broker (deploy/compose/kafka/start.sh:
SASL_SSL with SCRAM-SHA-512 and the StandardAuthorizer) with credentials made by
deploy/compose/secrets/init.sh, so the suite never runs against an open broker.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODES = ("auto", "local", "testcontainers", "external")
KAFKA_IMAGE = os.environ.get("ORDERFLOW_TEST_KAFKA_IMAGE", "docker.io/apache/kafka:4.1.0")
POSTGRES_IMAGE = os.environ.get("ORDERFLOW_TEST_POSTGRES_IMAGE", "docker.io/library/postgres:15-bookworm")


class InfraSelectionError(RuntimeError):
    pass


def docker_engine_answers(timeout: float = 2.0) -> bool:
    """True when a Docker engine (DOCKER_HOST or the default socket) answers a ping."""
    try:
        import docker   # testcontainers' own client library
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no socket, refused, no permission: all mean "no engine"
        return False


def select_mode(env: Mapping[str, str], docker_available: Callable[[], bool] = docker_engine_answers) -> str:
    """The infrastructure mode for this run (see the module docstring). Docker is probed only when
    the choice depends on it."""
    requested = env.get("ORDERFLOW_TEST_INFRA", "").strip().lower() or None
    if requested is None and env.get("ORDERFLOW_EXTERNAL_INFRA"):
        return "external"
    requested = requested or "auto"
    if requested not in MODES:
        raise InfraSelectionError(f"ORDERFLOW_TEST_INFRA={requested!r}: expected one of {', '.join(MODES)}")
    if requested == "auto":
        return "testcontainers" if docker_available() else "local"
    if requested == "testcontainers" and not docker_available():
        raise InfraSelectionError("ORDERFLOW_TEST_INFRA=testcontainers, but no Docker engine answers "
                                  "(DOCKER_HOST or /var/run/docker.sock); use local or auto")
    return requested


@dataclass
class Infra:
    """The chosen infrastructure: `env` holds the ORDERFLOW_* settings that point at it."""
    mode: str
    env: dict[str, str] = field(default_factory=dict)
    _stop: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        while self._stop:
            self._stop.pop()()


def start(mode: str) -> Infra:
    if mode == "external":
        return Infra(mode)
    if mode == "local":
        for script in ("postgres.sh", "kafka.sh"):
            subprocess.run([str(ROOT / "deploy/local" / script), "start"], check=True)
        return Infra(mode)
    if mode == "testcontainers":
        return _start_containers()
    raise InfraSelectionError(f"unknown mode {mode!r}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_containers() -> Infra:  # pragma: no cover - needs a Docker engine (none on the dev machine)
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    infra = Infra("testcontainers")
    state = Path(tempfile.mkdtemp(prefix="orderflow-tc-"))
    infra._stop.append(lambda: shutil.rmtree(state, ignore_errors=True))
    # Credentials exactly as the compose stack makes them (CA, broker keystore, SCRAM passwords).
    subprocess.run(["sh", str(ROOT / "deploy/compose/secrets/init.sh")], check=True,
                   env={**os.environ, "ORDERFLOW_HOME": str(state)})
    local = state / ".local"

    # The advertised address must be the one the host reaches: a fixed host port, mapped 1:1.
    port = _free_port()
    kafka = (DockerContainer(KAFKA_IMAGE)
             .with_bind_ports(port, port)
             .with_volume_mapping(str(state), "/state", "ro")
             .with_volume_mapping(str(ROOT / "deploy/compose/kafka/start.sh"), "/orderflow/start.sh", "ro")
             .with_env("ORDERFLOW_KAFKA_CLIENT_PORT", str(port))
             .with_env("ORDERFLOW_KAFKA_ADVERTISED", f"localhost:{port}")
             .with_env("ORDERFLOW_KAFKA_DATA", "/tmp/kafka-data")
             .with_kwargs(group_add=["10001"])
             .with_command("/bin/sh /orderflow/start.sh"))
    kafka.start()
    infra._stop.append(kafka.stop)
    wait_for_logs(kafka, "Kafka Server started", timeout=120)

    admin_password = (local / "postgres/roles/orderflow_admin.password").read_text().strip()
    postgres = PostgresContainer(POSTGRES_IMAGE, username="orderflow_admin", password=admin_password,
                                 dbname="postgres")
    postgres.start()
    infra._stop.append(postgres.stop)

    infra.env = {
        "ORDERFLOW_HOME": str(state),            # .local/kafka/users/<principal>.password etc.
        "ORDERFLOW_KAFKA_BOOTSTRAP": f"localhost:{port}",
        "ORDERFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ORDERFLOW_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "ORDERFLOW_KAFKA_CA_FILE": str(local / "kafka/tls/ca.crt"),
        "ORDERFLOW_PG_HOST": postgres.get_container_host_ip(),
        "ORDERFLOW_PG_PORT": str(postgres.get_exposed_port(5432)),
        "ORDERFLOW_EXTERNAL_INFRA": "1",         # the stack is up: nothing local is started
    }
    return infra
