"""Lag in seconds and a per-group status in the spirit of Burrow, from a series of offset snapshots
(kafka_lag.py). Pure: no I/O, unit-tested with synthetic snapshots.

Lag in seconds: how long ago the record at the committed position was produced. `monitor` reads
no data, so the time is not read from the record; it is interpolated from the history of the
partition's end offset (when did the end offset pass the committed offset?), the method of
Lightbend's kafka-lag-exporter. Its precision is the poll interval. When the committed offset is
older than the whole history, the answer is a lower bound (time since the first observation).

Status of a group, evaluated over the last `window` seconds (the window must be covered by
snapshots before STALLED or WARNING can be said):
- STOPPED: the group has no active member (every consumer died, or was frozen past its session
  timeout: a SIGSTOPped process is evicted by the coordinator);
- STALLED: a partition has lag, and its committed offset has not moved for the whole window
  (members still registered, nothing committed: a frozen or wedged consumer);
- WARNING: the group's lag rose at every snapshot across the window (consuming, but falling behind);
- OK: otherwise.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from services.runtime.kafka_lag import PartitionLag, Snapshot


class Status(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    STALLED = "STALLED"
    STOPPED = "STOPPED"


SEVERITY = {Status.OK: 0, Status.WARNING: 1, Status.STALLED: 2, Status.STOPPED: 3}

Key = tuple[str, int]   # (topic, partition)


@dataclass
class PartitionReport:
    group: str
    topic: str
    partition: int
    committed: int
    end: int
    lag: int
    lag_seconds: float


@dataclass
class GroupReport:
    group: str
    status: Status
    reason: str
    members: int
    state: str
    lag: int
    lag_seconds: float
    partitions: list[PartitionReport] = field(default_factory=list)


class EndOffsetHistory:
    """(time, end offset) samples of one partition, oldest first: for each end offset the first and
    the last time it was seen, so that the moment it moved on is bracketed."""

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self.times: deque[float] = deque()
        self.ends: deque[int] = deque()

    def add(self, at: float, end: int) -> None:
        if self.ends and end < self.ends[-1]:      # topic recreated or truncated: start again
            self.times.clear()
            self.ends.clear()
        if len(self.ends) >= 2 and self.ends[-1] == end == self.ends[-2]:
            self.times[-1] = at                    # a run of one end offset keeps its first and last sighting
        else:
            self.times.append(at)
            self.ends.append(end)
        while len(self.times) > 2 and at - self.times[1] > self.keep_seconds:
            self.times.popleft()
            self.ends.popleft()

    def produced_at(self, offset: int) -> float | None:
        """When the record at `offset` was (about to be) appended: the moment the end offset passed it.
        None when the history does not reach back that far."""
        if not self.ends or offset >= self.ends[-1]:
            return None
        ends = list(self.ends)
        i = bisect.bisect_right(ends, offset)      # first sample whose end offset > offset
        if i == 0:
            return None                            # older than the history
        t1, e1, t2, e2 = self.times[i - 1], ends[i - 1], self.times[i], ends[i]
        return t1 + (offset - e1) * (t2 - t1) / (e2 - e1)

    def first_seen(self) -> float | None:
        return self.times[0] if self.times else None


def lag_seconds(history: EndOffsetHistory, row: PartitionLag, now: float) -> float:
    if row.lag <= 0:
        return 0.0
    produced = history.produced_at(row.committed)
    if produced is None:
        first = history.first_seen()
        return max(now - first, 0.0) if first is not None else 0.0
    return max(now - produced, 0.0)


class LagTracker:
    """Feed snapshots with `observe`; `report()` gives every group's status and lags."""

    def __init__(self, window_seconds: float, keep_seconds: float | None = None) -> None:
        self.window = window_seconds
        self.keep = max(keep_seconds or 0.0, 4 * window_seconds, 600.0)
        self._history: dict[Key, EndOffsetHistory] = {}
        self._snapshots: deque[Snapshot] = deque()

    def observe(self, snapshot: Snapshot) -> None:
        for row in snapshot.partitions:
            key = (row.topic, row.partition)
            self._history.setdefault(key, EndOffsetHistory(self.keep)).add(snapshot.at, row.end)
        self._snapshots.append(snapshot)
        # Keep what the window needs plus the snapshot just before it (the window's start).
        while len(self._snapshots) > 2 and snapshot.at - self._snapshots[1].at >= self.window:
            self._snapshots.popleft()

    def report(self) -> list[GroupReport]:
        if not self._snapshots:
            return []
        latest = self._snapshots[-1]
        groups = sorted({r.group for r in latest.partitions} | set(latest.members))
        return [self._group(group, latest) for group in groups]

    def _window(self, latest: Snapshot) -> list[Snapshot] | None:
        """Snapshots spanning the whole window (oldest at least `window` old), else None."""
        snapshots = list(self._snapshots)
        if latest.at - snapshots[0].at < self.window:
            return None
        return snapshots

    def _group(self, group: str, latest: Snapshot) -> GroupReport:
        rows = [r for r in latest.partitions if r.group == group]
        partitions = [PartitionReport(group, r.topic, r.partition, r.committed, r.end, r.lag,
                                      lag_seconds(self._history[(r.topic, r.partition)], r, latest.at))
                      for r in rows]
        members = latest.members.get(group, 0)
        total = sum(p.lag for p in partitions)
        worst = max((p.lag_seconds for p in partitions), default=0.0)
        status, reason = self._status(group, rows, members, latest)
        return GroupReport(group, status, reason, members, latest.states.get(group, "Unknown"), total, worst,
                           partitions)

    def _status(self, group: str, rows: list[PartitionLag], members: int, latest: Snapshot) -> tuple[Status, str]:
        if members == 0:
            return Status.STOPPED, f"no active member (state {latest.states.get(group, 'unknown')})"
        window = self._window(latest)
        if window is None:
            return Status.OK, "window not yet covered"
        start = window[0]
        committed_then = {(r.topic, r.partition): r.committed for r in start.partitions if r.group == group}
        stuck = [r for r in rows if r.lag > 0 and committed_then.get((r.topic, r.partition)) == r.committed]
        if stuck:
            where = ", ".join(f"{r.topic}[{r.partition}]" for r in stuck[:3])
            return Status.STALLED, (f"committed offset unmoved for {latest.at - start.at:.0f}s with lag on {where}"
                                    + (f" and {len(stuck) - 3} more" if len(stuck) > 3 else ""))
        lags = [sum(r.lag for r in s.partitions if r.group == group) for s in window]
        if len(lags) >= 3 and lags[-1] > lags[0] and all(b >= a for a, b in zip(lags, lags[1:])):
            return Status.WARNING, f"lag rose at every poll for {latest.at - start.at:.0f}s ({lags[0]} -> {lags[-1]})"
        return Status.OK, "consuming"
