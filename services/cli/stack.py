"""Run the five services and the simulators as separate local processes (pid files, logs).

Used by the local supervisor behind `orderflow up/down/status` (supervisor.py) and by the
end-to-end tests, which start their own stack on other ports, databases and a topic prefix so that
they never touch the demo stack (and kill and restart services on purpose, unsupervised).

Liveness checks are zombie-safe: a process that died but was not reaped yet (a zombie: `kill -0`
still succeeds) counts as dead, and is reaped when it is our child; a pid file whose pid now
belongs to another program counts as stale. Each process leads its own process group, which
`stop` signals as a whole.
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
import psutil

from services.runtime.config import DEFAULT_HTTP_PORTS

SERVICES = ("sales", "procurement", "warehouse", "logistics", "finance")
SIMULATORS = ("carrier", "payments", "supplier", "notifier")
EXPORTER = "lag_exporter"            # watches every consumer group as `monitor` (services/lag_exporter)
EXPORTER_PORT = 8086
CONSOLE = "console"                  # the browser console: a client of the five APIs, started after them
MODULES = {**{s: f"services.{s}" for s in SERVICES}, **{s: f"services.simulators.{s}" for s in SIMULATORS},
           EXPORTER: "services.lag_exporter", CONSOLE: "services.console"}
SUPERVISED = (*SERVICES, *SIMULATORS, EXPORTER, CONSOLE)   # what `orderflow up` runs (in this order)


@dataclass
class Stack:
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)      # overrides on top of os.environ
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_HTTP_PORTS))
    urls: dict[str, str] = field(default_factory=dict)     # services running elsewhere: name -> base URL

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._children: dict[str, subprocess.Popen] = {}

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """The process's pid if it is alive (a zombie is not) and still runs `name`; a stale pid
        file is removed."""
        path = self._pid_file(name)
        try:
            pid = int(path.read_text().strip())
            written = path.stat().st_mtime
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            return None
        child = self._children.get(name)
        if child is not None and child.pid == pid:
            alive = child.poll() is None         # our own child: its exit status is the truth (and reaps it)
        else:
            alive = is_running(pid, started_before=written + 1.0)
        if not alive:
            path.unlink(missing_ok=True)
            return None
        return pid

    def child(self, name: str) -> subprocess.Popen | None:
        """The process object, when this Stack started it (the supervisor waits on it)."""
        return self._children.get(name)

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
        self._children[name] = process
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
        signal_group(pid, signal.SIGKILL if kill else signal.SIGTERM)
        if not wait_gone(pid, timeout):
            signal_group(pid, signal.SIGKILL)
            wait_gone(pid, 10.0)
        self._pid_file(name).unlink(missing_ok=True)
        self._children.pop(name, None)
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


# --- process checks that a zombie or a recycled pid cannot fool ----------------------------------

def is_running(pid: int, marker: str | None = None, started_before: float | None = None) -> bool:
    """Alive and not a zombie. Pids are recycled: with `started_before` (when its pid file was
    written) a process created later is someone else; with `marker`, one whose command line does
    not name it is someone else."""
    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return False
        if started_before is not None and process.create_time() > started_before:
            return False
        return marker is None or marker in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def reap(pid: int) -> None:
    """Collect the exit status of a dead child of ours, so that it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def signal_group(pid: int, sig: int) -> None:
    """Signal the process group the process leads (its own session), else the process alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pid)
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return False
