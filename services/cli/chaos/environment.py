"""The chaos run's own world: its own ORDERFLOW_HOME (state, credentials, Kafka data, PostgreSQL
cluster), its own ports outside the ephemeral range, its own stack under the supervisor of
`orderflow up`. Killing the broker or PostgreSQL here touches only what this run started: every
kill first checks that the process belongs to this home.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from services.cli.stack import MODULES, SERVICES, SIMULATORS
from services.cli.supervisor import read_state, supervisor_pid

ROOT = Path(__file__).resolve().parents[3]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PORT_RANGE = (20000, 32000)         # below Linux's default ephemeral range (32768-60999)

# How the simulated outside world behaves during a chaos run: quick, so that orders finish.
WORLD = {
    "ORDERFLOW_SIM_CARRIER_DELAY": "0.05",
    "ORDERFLOW_SIM_PAYMENT_DELAY": "0.05",
    "ORDERFLOW_SIM_SUPPLIER_DELAY": "0.1",
    "ORDERFLOW_SIM_SUPPLIER_DELIVERY_DELAY": "1",
    "ORDERFLOW_STEP_TIMEOUT_SECONDS": "60",           # a command lost in a crash is asked again
    "ORDERFLOW_COMPENSATION_TIMEOUT_SECONDS": "10",
    "ORDERFLOW_SUPERVISOR_BACKOFF_INITIAL_SECONDS": "0.5",
    "ORDERFLOW_STARTUP_RETRY_MAX_SECONDS": "2",
    "ORDERFLOW_SHUTDOWN_GRACE_SECONDS": "10",
    "ORDERFLOW_LOG_LEVEL": "WARNING",
    # A loaded 2-core machine: a JVM or a crash-recovering PostgreSQL may need a while to answer.
    "ORDERFLOW_KAFKA_START_TIMEOUT": "300",
    "ORDERFLOW_PG_START_TIMEOUT": "180",
    "ORDERFLOW_UP_READY_TIMEOUT": "300",
}


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int, rng: random.Random) -> list[int]:
    """Free ports outside the ephemeral range, so that no reconnecting client grabs one of them as
    its source port while the broker or the database is down."""
    ports: list[int] = []
    while len(ports) < count:
        port = rng.randrange(*PORT_RANGE)
        if port not in ports and _free(port):
            ports.append(port)
    return ports


@dataclass
class ChaosEnvironment:
    home: Path
    rng: random.Random
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        cache = self.home / ".cache"
        if not cache.exists():            # the Kafka jars, not downloaded again
            cache.symlink_to((ROOT / ".cache").resolve())
        kafka, controller, pg, *http = pick_ports(3 + len(SERVICES), self.rng)
        self.ports = {"kafka": kafka, "controller": controller, "postgres": pg, **dict(zip(SERVICES, http))}
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
        self.env = {**inherited, **WORLD,
                    "ORDERFLOW_HOME": str(self.home), "ORDERFLOW_RUN_DIR": str(self.run_dir),
                    "ORDERFLOW_KAFKA_PORT": str(kafka), "ORDERFLOW_KAFKA_CONTROLLER_PORT": str(controller),
                    "ORDERFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}", "ORDERFLOW_PG_PORT": str(pg),
                    "ORDERFLOW_TEST_INFRA": "local",
                    **{f"ORDERFLOW_{name.upper()}_PORT": str(self.ports[name]) for name in SERVICES}}

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    # --- bringing it up and down ---------------------------------------------------------------

    def _run(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def up(self) -> None:
        """Kafka, PostgreSQL, provisioning, the supervisor with every service and simulator."""
        result = self._run(sys.executable, "-m", "services.cli.main", "up", "--no-demo", timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"orderflow up failed for the chaos environment:\n{result.stdout[-4000:]}"
                               f"\n{result.stderr[-4000:]}")

    def down(self) -> None:
        self._run(sys.executable, "-m", "services.cli.main", "down", timeout=300)

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    # --- looking ----------------------------------------------------------------------------------

    async def ready(self, client: httpx.AsyncClient, service: str) -> bool:
        try:
            return (await client.get(f"{self.url(service)}/health/ready", timeout=3)).status_code == 200
        except httpx.HTTPError:
            return False

    async def all_ready(self, client: httpx.AsyncClient) -> bool:
        return all(await asyncio.gather(*(self.ready(client, s) for s in SERVICES)))

    def service_pid(self, name: str) -> int | None:
        try:
            pid = int((self.run_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if self._ours(pid, MODULES[name]) else None

    def restarts(self, name: str) -> int:
        return int(read_state(self.run_dir).get("children", {}).get(name, {}).get("restarts", 0))

    def supervisor_alive(self) -> bool:
        return supervisor_pid(self.run_dir) is not None

    def _ours(self, pid: int, marker: str) -> bool:
        """Alive, running `marker`, and with this run's home in its environment or command line."""
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE or marker not in " ".join(process.cmdline()):
                return False
            command = " ".join(process.cmdline())
            return str(self.home) in command or process.environ().get("ORDERFLOW_HOME") == str(self.home)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    # --- faults -------------------------------------------------------------------------------------

    def kill_service(self, name: str) -> int:
        pid = self.service_pid(name)
        if pid is None:
            raise RuntimeError(f"{name} of the chaos run is not running")
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_broker(self) -> int:
        pid_file = self.home / ".local" / "kafka" / "kafka.pid"
        pid = int(pid_file.read_text().strip())
        if not self._ours(pid, "kafka.Kafka"):
            raise RuntimeError(f"pid {pid} is not the chaos run's broker; refusing to kill it")
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        return pid

    def start_broker(self) -> None:
        result = self._run(str(ROOT / "deploy/local/kafka.sh"), "start")
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh start failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def _pgdata(self) -> Path:
        local = self.home / ".local"
        base = Path((local / "pg-location").read_text().strip()) if (local / "pg-location").exists() else local
        return base / "pgdata"

    def crash_database(self) -> int:
        """An immediate stop (no checkpoint, crash recovery at the next start), as pg_ctl does it."""
        pgdata = self._pgdata()
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        process = psutil.Process(pid)
        if str(pgdata) not in " ".join(process.cmdline()) and str(pgdata) != process.cwd():
            raise RuntimeError(f"pid {pid} is not the chaos run's PostgreSQL; refusing to stop it")
        os.kill(pid, signal.SIGQUIT)          # the postmaster's "immediate shutdown"
        _wait_gone(pid)
        return pid

    def start_database(self) -> None:
        result = self._run(str(ROOT / "deploy/local/postgres.sh"), "start")
        if result.returncode != 0:
            raise RuntimeError(f"postgres.sh start failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def _wait_gone(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)
    raise RuntimeError(f"pid {pid} did not exit within {timeout}s")


__all__ = ["ChaosEnvironment", "SERVICES", "SIMULATORS"]
