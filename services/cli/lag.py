"""`orderflow lag`: committed offset vs. end offset per consumer group, topic and partition, read as
`monitor` (services/runtime/kafka_lag.py); with `--watch`, also lag in seconds and each group's
status (services/runtime/lag_status.py, the lag exporter's logic) once a window is covered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from rich.table import Table

from services.runtime.config import Settings
from services.runtime.kafka_lag import LagReader, PartitionLag, Snapshot, collect, our_groups
from services.runtime.lag_status import GroupReport, LagTracker, Status

__all__ = ["PartitionLag", "as_json", "lag_table", "over_threshold", "run", "watch"]


def run(group: str | None, all_groups: bool) -> Snapshot:
    return asyncio.run(collect(Settings(), group, all_groups))


def as_json(snapshot: Snapshot, reports: list[GroupReport] | None = None) -> dict[str, Any]:
    """The figures ConsumerGroupCommand prints (group, topic, partition, current offset, log-end
    offset, lag), per group with members, and with --watch the lag in seconds and the status."""
    by_group = {r.group: r for r in reports or []}
    groups = []
    for name in sorted({p.group for p in snapshot.partitions} | set(snapshot.members)):
        rows = [p for p in snapshot.partitions if p.group == name]
        report = by_group.get(name)
        seconds = {(p.topic, p.partition): p.lag_seconds for p in report.partitions} if report else {}
        entry: dict[str, Any] = {
            "group": name, "members": snapshot.members.get(name, 0), "state": snapshot.states.get(name),
            "lag": sum(p.lag for p in rows),
            "partitions": [{"topic": p.topic, "partition": p.partition, "committed": p.committed, "end": p.end,
                            "lag": p.lag, **({"lag_seconds": round(seconds[(p.topic, p.partition)], 3)}
                                             if (p.topic, p.partition) in seconds else {})}
                           for p in rows],
        }
        if report:
            entry.update(status=report.status.value, reason=report.reason, lag_seconds=round(report.lag_seconds, 3))
        groups.append(entry)
    return {"at": snapshot.at, "groups": groups}


def over_threshold(snapshot: Snapshot, reports: list[GroupReport] | None, max_lag: int | None,
                   max_lag_seconds: float | None, fail_on_status: bool) -> list[str]:
    """Why the run should exit with OVER_THRESHOLD (empty: within every threshold)."""
    problems = []
    for group in sorted({p.group for p in snapshot.partitions}):
        total = sum(p.lag for p in snapshot.partitions if p.group == group)
        if max_lag is not None and total > max_lag:
            problems.append(f"{group}: lag {total} > {max_lag} messages")
    for report in reports or []:
        if max_lag_seconds is not None and report.lag_seconds > max_lag_seconds:
            problems.append(f"{report.group}: lag {report.lag_seconds:.1f}s > {max_lag_seconds:g}s")
        if fail_on_status and report.status != Status.OK:
            problems.append(f"{report.group}: {report.status.value} ({report.reason})")
    return problems


async def watch(settings: Settings, group: str | None, all_groups: bool, interval: float, window: float,
                on_snapshot: Callable[[Snapshot, list[GroupReport]], bool], count: int | None = None) -> None:
    """Poll every `interval` seconds; `on_snapshot` returns False to stop. `count` bounds the polls."""
    tracker = LagTracker(window)
    async with LagReader(settings, client_id="orderflow-cli") as reader:
        existing = await reader.existing_groups()
        if group and group not in existing:
            raise LookupError(f"no consumer group {group!r} on the cluster")
        polls = 0
        while count is None or polls < count:
            started = time.monotonic()
            groups = [group] if group else (await reader.existing_groups() if all_groups else our_groups(settings))
            snapshot = await reader.snapshot(groups)
            tracker.observe(snapshot)
            polls += 1
            if not on_snapshot(snapshot, tracker.report()):
                return
            if count is None or polls < count:
                await asyncio.sleep(max(interval - (time.monotonic() - started), 0.0))


STATUS_STYLE = {Status.OK: "green", Status.WARNING: "yellow", Status.STALLED: "red", Status.STOPPED: "red"}


def lag_table(snapshot: Snapshot, reports: list[GroupReport] | None = None, show_zero: bool = True) -> Table:
    by_group = {r.group: r for r in reports or []}
    table = Table(title="consumer lag", title_justify="left")
    table.add_column("group")
    table.add_column("topic")
    for column in ("partition", "committed", "end", "lag"):
        table.add_column(column, justify="right")
    if reports is not None:
        table.add_column("lag s", justify="right")
    for group in sorted({r.group for r in snapshot.partitions}):
        report = by_group.get(group)
        seconds = {(p.topic, p.partition): p.lag_seconds for p in report.partitions} if report else {}
        mine = [r for r in snapshot.partitions if r.group == group]
        for row in mine:
            if show_zero or row.lag:
                style = "yellow" if row.lag else ""
                cells = [group, row.topic, str(row.partition), str(row.committed), str(row.end),
                         f"[{style}]{row.lag}[/]" if style else "0"]
                if reports is not None:
                    cells.append(f"{seconds.get((row.topic, row.partition), 0.0):.1f}")
                table.add_row(*cells)
        total = sum(r.lag for r in mine)
        topics = len({r.topic for r in mine})
        members = snapshot.members.get(group, 0)
        label = f"[bold]{group} total[/] ({members} member{'' if members == 1 else 's'})"
        if report:
            label += f" [{STATUS_STYLE[report.status]}]{report.status.value}[/]"
        cells = [label, f"{topics} topic{'' if topics == 1 else 's'}", str(len(mine)), "", "",
                 f"[bold {'yellow' if total else 'green'}]{total}[/]"]
        if reports is not None:
            cells.append(f"{report.lag_seconds:.1f}" if report else "")
        table.add_row(*cells, end_section=True)
    return table
