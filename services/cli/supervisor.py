"""The local supervisor behind `orderflow up`: runs the five services and the simulators as its
children and restarts whichever exits, with exponential backoff, saying so in its log; `orderflow
status` shows the restarts from its state file; `orderflow down` asks it to stop (SIGTERM), and it
stops its children gracefully (simulators first, then the services in reverse order).

Why our own (about 200 lines) rather than supervisord or circus: the stack is already driven by
`Stack` (ports, environment, logs, pid files) which the end-to-end tests use directly; supervisord
would add a daemon with its own configuration format and XML-RPC control that repeats all of it,
for the one thing needed here: wait on the children (so none lingers as a zombie), restart with
backoff, count. It runs where `make up` runs; in containers and Kubernetes the platform restarts
processes instead.

    python -m services.cli.supervisor --run-dir DIR [--only sales,warehouse]   (what `orderflow up` spawns)

Settings: ORDERFLOW_SUPERVISOR_BACKOFF_INITIAL_SECONDS (1), ..._BACKOFF_MAX_SECONDS (30),
..._STABLE_SECONDS (30: a process up this long is healthy again and its backoff starts over).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from services.cli import client
from services.cli.stack import MODULES, SUPERVISED, Stack, is_running

log = logging.getLogger("orderflow.supervisor")

STATE_FILE = "supervisor.json"
PID_FILE = "supervisor.pid"
LOG_FILE = "supervisor.log"
MARKER = "services.cli.supervisor"


@dataclass
class Child:
    """What `orderflow status` shows about one supervised process."""

    name: str
    pid: int | None = None
    state: str = "starting"                  # running | backoff | stopped
    restarts: int = 0
    started_at: float | None = None
    last_exit: str | None = None             # "exit 1", "killed by SIGKILL"
    last_exit_at: float | None = None
    next_start_at: float | None = None
    failures_in_a_row: int = 0


def describe_exit(code: int | None) -> str:
    if code is None:
        return "unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(f"ORDERFLOW_SUPERVISOR_{name}", default))


class Supervisor:
    def __init__(self, stack: Stack, names: tuple[str, ...], *, backoff_initial: float, backoff_max: float,
                 stable_seconds: float) -> None:
        self.stack = stack
        self.names = names
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_seconds = stable_seconds
        self.children = {name: Child(name) for name in names}
        self.stopping = False

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop_requested)
        signal.signal(signal.SIGINT, self._stop_requested)
        (self.stack.run_dir / PID_FILE).write_text(str(os.getpid()))
        log.info("supervising %s (backoff %.1fs..%.0fs)", ", ".join(self.names), self.backoff_initial,
                 self.backoff_max)
        try:
            for name in self.names:
                self._start(name)
            while not self.stopping:
                self._watch()
                time.sleep(0.2)
        finally:
            self._stop_all()
            (self.stack.run_dir / PID_FILE).unlink(missing_ok=True)

    def _stop_requested(self, *_: Any) -> None:
        self.stopping = True

    def _start(self, name: str) -> None:
        child = self.children[name]
        leftover = self.stack.pid(name)
        if leftover and self.stack.child(name) is None:
            # Started by something else (an older `orderflow up`): it cannot be waited on, so it is
            # replaced by a supervised one.
            log.warning("%s already runs unsupervised (pid %d); restarting it under supervision", name, leftover)
            self.stack.stop(name)
        child.pid = self.stack.start(name)
        child.state, child.started_at, child.next_start_at = "running", time.time(), None
        self._save()

    def _watch(self) -> None:
        now = time.time()
        for name, child in self.children.items():
            if child.state == "running":
                process = self.stack.child(name)
                code = process.poll() if process is not None else None   # poll() reaps: no zombies
                if process is not None and code is None:
                    continue
                self._exited(child, code, now)
            elif child.state == "backoff" and child.next_start_at is not None and now >= child.next_start_at:
                child.restarts += 1
                log.warning("restarting %s (restart #%d, after %s)", name, child.restarts, child.last_exit)
                self._start(name)

    def _exited(self, child: Child, code: int | None, now: float) -> None:
        ran = now - (child.started_at or now)
        child.failures_in_a_row = 1 if ran >= self.stable_seconds else child.failures_in_a_row + 1
        delay = min(self.backoff_max, self.backoff_initial * 2 ** (child.failures_in_a_row - 1))
        child.state, child.pid, child.next_start_at = "backoff", None, now + delay
        child.last_exit, child.last_exit_at = describe_exit(code), now
        self.stack._pid_file(child.name).unlink(missing_ok=True)
        log.warning("%s exited (%s) after %.1fs; restarting in %.1fs", child.name, child.last_exit, ran, delay)
        self._save()

    def _stop_all(self) -> None:
        order = [n for n in reversed(SUPERVISED) if n in self.children]
        for name in order:
            if self.stack.stop(name):
                log.info("stopped %s", name)
            self.children[name].state, self.children[name].pid = "stopped", None
        self._save()

    def _save(self) -> None:
        state = {"supervisor_pid": os.getpid(), "updated_at": time.time(),
                 "children": {name: asdict(child) for name, child in self.children.items()}}
        path = self.stack.run_dir / STATE_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(path)       # readers never see half a file


# --- used by the CLI -------------------------------------------------------------------------------

def supervisor_pid(run_dir: Path) -> int | None:
    path = run_dir / PID_FILE
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_running(pid, MARKER) else None


def read_state(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def spawn(run_dir: Path, env: dict[str, str] | None = None, only: tuple[str, ...] | None = None) -> int:
    """Start a supervisor in the background (its own session, so it outlives the CLI)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", MARKER, "--run-dir", str(run_dir)]
    if only:
        command += ["--only", ",".join(only)]
    with (run_dir / LOG_FILE).open("ab") as out:
        process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return process.pid


def stop(run_dir: Path, timeout: float = 90.0) -> bool:
    """Ask the supervisor to stop its children and itself; False when none was running."""
    pid = supervisor_pid(run_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_running(pid, MARKER):
        time.sleep(0.2)
    if is_running(pid, MARKER):
        os.kill(pid, signal.SIGKILL)
    return True


def restarts_text(child: dict[str, Any]) -> str:
    text = str(child.get("restarts", 0))
    if child.get("last_exit"):
        at = dt.datetime.fromtimestamp(child["last_exit_at"]).strftime("%H:%M:%S")
        text += f" (last: {child['last_exit']} at {at})"
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated names (default: every process of the stack)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s")
    names = tuple(n for n in args.only.split(",") if n) or SUPERVISED
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown names {unknown}; known: {', '.join(MODULES)}")
    Supervisor(Stack(run_dir=args.run_dir, ports=client.ports()), names,
               backoff_initial=_env_float("BACKOFF_INITIAL_SECONDS", 1.0),
               backoff_max=_env_float("BACKOFF_MAX_SECONDS", 30.0),
               stable_seconds=_env_float("STABLE_SECONDS", 30.0)).run()


if __name__ == "__main__":
    main()
