"""The local supervisor (services/cli/supervisor.py) on stand-in processes (`sleep`): a killed child
is reaped (no zombie), noted with how it died, restarted after its backoff, and counted; the
backoff doubles while a process keeps dying young. The real thing under `orderflow up` is exercised
by the chaos run (tests/e2e/chaos/), which SIGKILLs every service and checks the restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from services.cli import supervisor
from services.cli.stack import Stack, is_running


class SleepingStack(Stack):
    """A Stack whose processes are `sleep 60` instead of services."""

    def start(self, name: str) -> int:
        process = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self._pid_file(name).write_text(str(process.pid))
        self._children[name] = process
        return process.pid


def make(tmp_path: Path) -> supervisor.Supervisor:
    return supervisor.Supervisor(SleepingStack(run_dir=tmp_path, ports={}), ("sales", "carrier"), backoff_initial=0.2,
                                 backoff_max=1.0, stable_seconds=30)


def test_a_killed_child_is_reaped_restarted_after_backoff_and_counted(tmp_path):
    sup = make(tmp_path)
    for name in sup.names:
        sup._start(name)
    first = sup.children["sales"].pid
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while sup.children["sales"].state == "running" and time.monotonic() < deadline:
        sup._watch()
        time.sleep(0.02)
    child = sup.children["sales"]
    assert child.state == "backoff" and child.last_exit == "killed by SIGKILL"
    assert not psutil.pid_exists(first) or psutil.Process(first).status() != psutil.STATUS_ZOMBIE
    assert sup.stack.pid("sales") is None
    time.sleep(0.3)
    sup._watch()
    assert child.state == "running" and child.restarts == 1 and child.pid != first
    assert sup.stack.pid("sales") == child.pid and sup.children["carrier"].restarts == 0
    state = supervisor.read_state(tmp_path)["children"]["sales"]
    assert state["restarts"] == 1 and "killed by SIGKILL" in supervisor.restarts_text(state)
    running = [c.pid for c in sup.children.values()]
    sup._stop_all()
    assert all(c.state == "stopped" for c in sup.children.values())
    assert not any(is_running(pid) for pid in running)


def test_backoff_doubles_while_a_process_dies_young():
    sup = supervisor.Supervisor(SleepingStack(run_dir=Path("/tmp"), ports={}), ("sales",), backoff_initial=1.0,
                                backoff_max=5.0, stable_seconds=30)
    child = sup.children["sales"]
    sup.stack._pid_file = lambda name: Path(os.devnull + "-not-a-file")      # noqa: E731 - nothing to remove
    delays = []
    for _ in range(5):
        child.started_at = time.time()
        sup._exited(child, 1, time.time())
        delays.append(round(child.next_start_at - time.time()))
    assert delays == [1, 2, 4, 5, 5]
    child.started_at = time.time() - 60               # up for a minute: healthy again
    sup._exited(child, -9, time.time())
    assert round(child.next_start_at - time.time()) == 1 and child.last_exit == "killed by SIGKILL"


def test_exit_descriptions():
    assert supervisor.describe_exit(-15) == "killed by SIGTERM"
    assert supervisor.describe_exit(3) == "exit 3"
