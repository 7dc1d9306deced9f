"""Run the five services and the simulators as separate local processes (pid files, logs).

Used by `orderflow up/down/status` and by the end-to-end tests, which start their own stack on
other ports, databases and a topic prefix so that they never touch the demo stack.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.runtime.config import DEFAULT_HTTP_PORTS

SERVICES = ("sales", "procurement", "warehouse", "logistics", "finance")
SIMULATORS = ("carrier", "payments", "supplier", "notifier")
EXPORTER = "lag_exporter"            # watches every consumer group as `monitor` (services/lag_exporter)
EXPORTER_PORT = 8086
CONSOLE = "console"                  # the browser console: a client of the five APIs, started after them
MODULES = {**{s: f"services.{s}" for s in SERVICES}, **{s: f"services.simulators.{s}" for s in SIMULATORS},
           EXPORTER: "services.lag_exporter", CONSOLE: "services.console"}


@dataclass
class Stack:
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)      # overrides on top of os.environ
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_HTTP_PORTS))
    urls: dict[str, str] = field(default_factory=dict)     # services running elsewhere: name -> base URL

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """The process's pid if it is alive; a stale pid file is removed."""
        path = self._pid_file(name)
        if not path.exists():
            return None
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            path.unlink(missing_ok=True)
            return None
        except PermissionError:
            pass
        return pid

    def url(self, name: str) -> str:
        return self.urls.get(name) or f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str) -> int:
        running = self.pid(name)
        if running:
            return running
        env = {**os.environ, **self.env}
        if name in SERVICES:
            env[f"ORDERFLOW_{name.upper()}_PORT"] = str(self.ports[name])
        if name == EXPORTER:
            env["ORDERFLOW_LAG_EXPORTER_PORT"] = str(self.exporter_port())
        if name == CONSOLE:       # it calls the services where this stack runs them
            env.update({f"ORDERFLOW_{s.upper()}_URL": self.url(s) for s in SERVICES})
            if CONSOLE in self.ports:
                env["ORDERFLOW_CONSOLE_PORT"] = str(self.ports[CONSOLE])
        log = self.log_file(name).open("ab")
        process = subprocess.Popen([sys.executable, "-m", MODULES[name]], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self._pid_file(name).write_text(str(process.pid))
        return process.pid

    def exporter_port(self) -> int:
        return self.ports.get(EXPORTER) or int(os.environ.get("ORDERFLOW_LAG_EXPORTER_PORT") or EXPORTER_PORT)

    def start_all(self) -> None:
        for name in (*SERVICES, *SIMULATORS, EXPORTER):
            self.start(name)

    def stop(self, name: str, *, kill: bool = False, timeout: float = 30.0) -> bool:
        """SIGTERM (graceful) or SIGKILL; waits until the process is gone. False if it was not running."""
        pid = self.pid(name)
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)   # reap our own child, if it is ours
                if done:
                    break
            except ChildProcessError:
                pass
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        self._pid_file(name).unlink(missing_ok=True)
        return True

    def stop_all(self) -> None:
        # Simulators first, so nothing new arrives while the services drain.
        for name in (EXPORTER, *SIMULATORS, *reversed(SERVICES)):
            self.stop(name)

    def ready(self, name: str) -> tuple[bool, dict]:
        try:
            response = httpx.get(f"{self.url(name)}/health/ready", timeout=3)
            return response.status_code == 200, response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return False, {"error": str(exc) or type(exc).__name__}

    def wait_ready(self, names: tuple[str, ...] = SERVICES, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if self.pid(name) is None:
                    raise RuntimeError(f"{name} exited during start-up; last log lines:\n{self.tail(name)}")
                if self.ready(name)[0]:
                    pending.remove(name)
            time.sleep(0.3)
        if pending:
            raise RuntimeError("not ready in time: " + ", ".join(
                f"{n} {self.ready(n)[1]}\n{self.tail(n)}" for n in pending))

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_file(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"
