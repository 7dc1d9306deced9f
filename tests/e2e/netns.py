"""A private network of "hosts" on this machine: one Linux network namespace per host, each with a
veth cable into a bridge (the switch), which lives in a namespace of its own.

Nothing is added to the machine's own network namespace: the switch and every host are namespaces
named `ofnet-<id>-<name>`, and the veth pairs are created directly inside them, so several runs
(by several people) can use the same private range side by side without ever seeing each other.

    net = Network.create({"kafka": 2, "sales": 11, ...})     # host name -> last octet of its address
    net.exec("kafka")                 # command prefix: ["ip", "netns", "exec", "ofnet-…-kafka"]
    with net.entered("client"): ...   # this thread's sockets open on the client host
    net.cut("warehouse"); net.restore("warehouse")   # pull / plug the host's cable at the switch
    net.destroy()                     # kill what still runs on our hosts, delete every namespace

Needs root and iproute2 (`ip netns`, veth, bridge); `unavailable()` says why not, for a skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.231.0"          # /24, private, used by nobody else on the machine: it exists only inside our namespaces
PREFIX = "ofnet-"
SWITCH = "lan"
HOST_IF = "eth0"
OWNERS = Path("/run/ofnet")  # <id>.owner: "<pid> <root>" of the run that made the namespaces (stale-run cleanup)
CLONE_NEWNET = 0x40000000


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def unavailable() -> str | None:
    """Why network namespaces cannot be used here (None when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); run as root"
    if not shutil.which("ip"):
        return "iproute2 (`ip`) is not installed; `make test` installs it on Debian"
    probe = f"{PREFIX}probe-{secrets.token_hex(3)}"
    result = ip("netns", "add", probe, check=False)
    ip("netns", "del", probe, check=False)
    if result.returncode != 0:
        return f"cannot create a network namespace: {result.stderr.strip()}"
    return None


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@dataclass
class Network:
    run: str                                   # the random part of every namespace name
    hosts: dict[str, str] = field(default_factory=dict)     # host name -> IPv4 address

    # --- names ----------------------------------------------------------------------------------

    def ns(self, host: str) -> str:
        return f"{PREFIX}{self.run}-{host}"

    @staticmethod
    def port(host: str) -> str:
        """The host's cable end at the switch (an interface name has at most 15 characters)."""
        return f"p-{host}"[:15]

    def address(self, host: str) -> str:
        return self.hosts[host]

    def exec(self, host: str) -> list[str]:
        """Command prefix that runs a program on `host`."""
        return ["ip", "netns", "exec", self.ns(host)]

    # --- life cycle -------------------------------------------------------------------------------

    @classmethod
    def create(cls, octets: dict[str, int], root: Path) -> "Network":
        """Namespaces, the switch and a cable per host. On any failure what exists is removed."""
        reap_stale(root)
        net = cls(run=secrets.token_hex(3), hosts={h: f"{SUBNET}.{o}" for h, o in octets.items()})
        OWNERS.mkdir(parents=True, exist_ok=True)
        (OWNERS / f"{net.run}.owner").write_text(f"{os.getpid()} {root}\n")
        try:
            lan = net.ns(SWITCH)
            ip("netns", "add", lan)
            ip("-n", lan, "link", "add", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0")
            ip("-n", lan, "link", "set", "br0", "up")
            for host, address in net.hosts.items():
                ns = net.ns(host)
                ip("netns", "add", ns)
                ip("-n", ns, "link", "set", "lo", "up")
                ip("link", "add", HOST_IF, "netns", ns, "type", "veth", "peer", "name", net.port(host), "netns", lan)
                ip("-n", lan, "link", "set", net.port(host), "master", "br0", "up")
                ip("-n", ns, "addr", "add", f"{address}/24", "dev", HOST_IF)
                ip("-n", ns, "link", "set", HOST_IF, "up")
        except BaseException:
            net.destroy()
            raise
        return net

    def namespaces(self) -> list[str]:
        return [self.ns(h) for h in self.hosts] + [self.ns(SWITCH)]

    def destroy(self) -> list[str]:
        """Kill whatever still runs on our hosts (only processes inside our own namespaces), then
        delete the namespaces (their veths go with them). Returns what had to be killed."""
        killed = _destroy(self.namespaces())
        (OWNERS / f"{self.run}.owner").unlink(missing_ok=True)
        return killed

    # --- using it ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def entered(self, host: str) -> Iterator[None]:
        """Run the calling thread on `host`: sockets it opens (and processes it starts) are there.
        Only this thread moves; it is moved back on exit."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.ns(host)}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def cut(self, host: str) -> None:
        """Pull the host's cable out of the switch: its packets are dropped both ways, so open TCP
        connections hang and retransmit instead of failing fast."""
        ip("-n", self.ns(SWITCH), "link", "set", self.port(host), "down")

    def restore(self, host: str) -> None:
        ip("-n", self.ns(SWITCH), "link", "set", self.port(host), "up")


def _pids(ns: str) -> list[int]:
    result = ip("netns", "pids", ns, check=False)
    return [int(p) for p in result.stdout.split()] if result.returncode == 0 else []


def _destroy(namespaces: list[str]) -> list[str]:
    killed = []
    for ns in namespaces:
        for pid in _pids(ns):
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:80]
                killed.append(f"{ns}: pid {pid} {command.decode(errors='replace')}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_pids(ns) for ns in namespaces) and time.monotonic() < deadline:
        time.sleep(0.1)
    for ns in namespaces:
        ip("netns", "del", ns, check=False)
    return killed


def reap_stale(root: Path) -> None:
    """Namespaces left by an earlier run from the same checkout whose test process is gone (killed
    before its clean-up ran): what still runs in them and the namespaces themselves are removed.
    Other people's runs (another checkout, or a live process) are never touched."""
    if not OWNERS.is_dir():
        return
    existing = ip("netns", "list", check=False).stdout.split("\n")
    names = [line.split()[0] for line in existing if line.startswith(PREFIX)]
    for owner in OWNERS.glob("*.owner"):
        try:
            pid_text, owner_root = owner.read_text().split(maxsplit=1)
            os.kill(int(pid_text), 0)
            continue                               # its test process still runs
        except ProcessLookupError:
            pass
        except (ValueError, OSError):
            continue
        if owner_root.strip() != str(root):
            continue
        run = owner.name.removesuffix(".owner")
        _destroy([n for n in names if n.startswith(f"{PREFIX}{run}-")])
        owner.unlink(missing_ok=True)
