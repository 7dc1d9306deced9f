"""What the bench reads from the machine and the infrastructure, before and after a run:

- CPU time and memory of every process of the stack, from /proc (utime+stime; for PostgreSQL the
  postmaster, its live children and the reaped ones' cutime/cstime), so that CPU per order does
  not depend on how busy the other users of the machine are;
- Kafka end offsets of the stack's topics (as the `monitor` principal, which may describe them and
  read no data) and of `__consumer_offsets` (as `admin`: the broker's internal topic is no
  environment's), through group-less consumers that commit nothing themselves;
- PostgreSQL committed transactions (`pg_stat_database.xact_commit`) of the stack's databases and
  the WAL position (as `orderflow_admin`), and the inbox rows (messages handled) of each service
  (as the service's own role).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import CATALOGUE
from services.cli.stack import SERVICES, SIMULATORS
from services.provisioning.postgres import admin_connection
from services.runtime.config import Settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- processes ------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may contain spaces), numbered from 3 (state).
    return raw[raw.rindex(")") + 2:].split()


def cpu_ms(pid: int, *, with_reaped_children: bool = False) -> float:
    """utime + stime of a process (all its threads), in ms; 0 if it is gone."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])            # utime, stime
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])       # cutime, cstime
    return ticks * 1000.0 / CLOCK_TICKS


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB. PSS splits shared pages (PostgreSQL's shared buffers) between processes."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        fields = _stat(pid)
        if fields is not None:
            rss = pss = int(fields[21]) * PAGE_KIB
    return rss, pss


def listener_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1/0.0.0.0:`port` (root can see every process's sockets)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:   # 0A = LISTEN
                inodes.add(parts[9])
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if os.readlink(f"/proc/{entry}/fd/{fd}") in wanted:
                    return int(entry)
        except OSError:
            continue
    return None


@dataclass
class Process:
    name: str
    pid: int
    tree: bool = False        # count live children and reaped ones (PostgreSQL's backends)


@dataclass
class CpuSample:
    at: float
    ms: dict[str, float]
    trees: dict[str, dict[int, float]] = field(default_factory=dict)   # name -> pid -> ms (trees only)


class ProcessProbe:
    """CPU and memory of the stack's processes. CPU deltas between samples, per process name."""

    def __init__(self, processes: list[Process]) -> None:
        self.processes = processes
        self.peak_rss_kib: dict[str, int] = {}

    def sample(self) -> CpuSample:
        ms: dict[str, float] = {}
        trees: dict[str, dict[int, float]] = {}
        for proc in self.processes:
            ms[proc.name] = cpu_ms(proc.pid, with_reaped_children=proc.tree)
            if proc.tree:
                trees[proc.name] = {proc.pid: ms[proc.name], **{c: cpu_ms(c) for c in children(proc.pid)}}
                ms[proc.name] = sum(trees[proc.name].values())
        return CpuSample(time.monotonic(), ms, trees)

    def delta(self, before: CpuSample, after: CpuSample) -> dict[str, float]:
        """CPU ms per process between two samples. For a process tree, children that appeared in
        between count from zero; children that ended are in the parent's reaped-children time."""
        result = {}
        for proc in self.processes:
            if not proc.tree:
                result[proc.name] = after.ms[proc.name] - before.ms[proc.name]
                continue
            old, new = before.trees[proc.name], after.trees[proc.name]
            result[proc.name] = sum(value - old.get(pid, 0.0) for pid, value in new.items())
        return result

    def memory(self) -> dict[str, dict[str, float]]:
        """RSS and PSS in MiB per process (a tree: summed over its processes); tracks the peak RSS."""
        result = {}
        for proc in self.processes:
            pids = [proc.pid, *(children(proc.pid) if proc.tree else [])]
            rss = pss = 0
            for pid in pids:
                r, p = memory_kib(pid)
                rss += r
                pss += p
            self.peak_rss_kib[proc.name] = max(self.peak_rss_kib.get(proc.name, 0), rss if not proc.tree else pss)
            result[proc.name] = {"rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1)}
        return result


def stack_processes(settings: Settings, run_dir: Path, ports: dict[str, int]) -> list[Process]:
    """The local stack's processes: services by their HTTP port, simulators by their pid files,
    Kafka and PostgreSQL by the ports they listen on. Missing ones are left out (and reported)."""
    found = []
    for name in SERVICES:
        pid = listener_pid(ports[name])
        if pid:
            found.append(Process(name, pid))
    for name in SIMULATORS:
        pid_file = run_dir / f"{name}.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip() or 0)
            if pid and _stat(pid) is not None:
                found.append(Process(name, pid))
    kafka_port = int(settings.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])
    if settings.kafka_bootstrap.startswith(("127.", "localhost")) and (pid := listener_pid(kafka_port)):
        found.append(Process("kafka", pid))
    if settings.pg_host in ("127.0.0.1", "localhost") and (pid := listener_pid(settings.pg_port)):
        found.append(Process("postgres", pid, tree=True))
    return found


# --- Kafka ------------------------------------------------------------------------------------------

OFFSETS_TOPIC = "__consumer_offsets"


class KafkaProbe:
    """End offsets of the stack's topics and of `__consumer_offsets` (records written).

    `client` (aiokafka kwargs of a principal that may describe the stack's topics, e.g. `monitor`)
    reads the stack's topics; `offsets_client` (e.g. `admin`) reads `__consumer_offsets`."""

    def __init__(self, prefix: str, client: dict[str, object], offsets_client: dict[str, object]) -> None:
        self.prefix = prefix
        self.clients = {"stack": client, "offsets": offsets_client}
        self.consumers: dict[str, AIOKafkaConsumer] = {}
        self.partitions: dict[str, list[TopicPartition]] = {}

    async def _partitions(self, client: dict[str, object], names: list[str]) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(**client)
        await admin.start()
        try:
            present = set(await admin.list_topics())
            described = await admin.describe_topics([n for n in names if n in present])
        finally:
            await admin.close()
        return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]

    async def start(self) -> None:
        wanted = {"stack": [self.prefix + name for name in CATALOGUE], "offsets": [OFFSETS_TOPIC]}
        for role, client in self.clients.items():
            self.partitions[role] = await self._partitions(client, wanted[role])
            consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **client)
            await consumer.start()
            self.consumers[role] = consumer

    async def stop(self) -> None:
        for consumer in self.consumers.values():
            await consumer.stop()
        self.consumers.clear()

    async def end_offsets(self) -> dict[str, int]:
        """Sum of end offsets per topic (logical name; `__consumer_offsets` as is)."""
        totals: dict[str, int] = {}
        for role, consumer in self.consumers.items():
            if not self.partitions[role]:
                continue
            for tp, end in (await consumer.end_offsets(self.partitions[role])).items():
                name = tp.topic[len(self.prefix):] if tp.topic.startswith(self.prefix) else tp.topic
                totals[name] = totals.get(name, 0) + end
        return totals


# --- PostgreSQL -------------------------------------------------------------------------------------

class PostgresProbe:
    """Committed transactions of the stack's databases, WAL written, inbox rows per service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.databases = [f"{settings.db_prefix}{name}" for name in SERVICES]

    async def sample(self) -> dict[str, int]:
        conn = await admin_connection(self.settings)
        try:
            rows = await conn.fetch("SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY($1)",
                                    self.databases)
            wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
        finally:
            await conn.close()
        result = {"wal_bytes": int(wal), "xact_commit": sum(r["xact_commit"] for r in rows)}
        result.update({f"xact_commit.{r['datname'][len(self.settings.db_prefix):]}": r["xact_commit"] for r in rows})
        return result

    async def inbox_rows(self) -> dict[str, int]:
        """Messages each service has recorded (handled or dead-lettered): the max inbox sequence
        would be cheaper, but the inbox may be pruned, so count with the pruned ones."""
        counts = {}
        for service in SERVICES:
            conn = await asyncpg.connect(self.settings.model_copy(update={"service": service}).dsn())
            try:
                counts[service] = int(await conn.fetchval(
                    "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'inbox'") or 0)
            finally:
                await conn.close()
        return counts
