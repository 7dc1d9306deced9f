"""Lag in seconds (interpolated from end-offset history) and Burrow-like group status, on synthetic
snapshots."""

from __future__ import annotations

from services.runtime.kafka_lag import PartitionLag, Snapshot
from services.runtime.lag_status import EndOffsetHistory, LagTracker, Status

G = "warehouse"


def snap(at: float, committed: int, end: int, members: int = 1, partitions: int = 1) -> Snapshot:
    rows = [PartitionLag(G, "warehouse.commands.v1", p, committed, end) for p in range(partitions)]
    return Snapshot(at=at, partitions=rows, members={G: members}, states={G: "Stable" if members else "Empty"})


def test_the_moment_the_end_offset_passed_an_offset_is_interpolated():
    history = EndOffsetHistory(keep_seconds=600)
    for at, end in [(0, 100), (10, 100), (20, 100), (30, 120)]:
        history.add(at, end)
    # Offset 100 appeared between t=20 (end still 100) and t=30 (end 120): at 20 + 0/20*10.
    assert history.produced_at(100) == 20
    assert history.produced_at(110) == 25
    assert history.produced_at(120) is None           # not produced yet
    assert history.produced_at(50) is None            # older than the history


def test_lag_seconds_grow_while_a_consumer_is_frozen_and_are_zero_without_lag():
    tracker = LagTracker(window_seconds=10)
    tracker.observe(snap(0, committed=5, end=5))
    tracker.observe(snap(2, committed=5, end=5))
    tracker.observe(snap(4, committed=5, end=9))     # records 5..8 arrive between t=2 and t=4
    (report,) = tracker.report()
    assert report.lag == 4
    assert report.lag_seconds == 2.0                  # offset 5 was produced at t=2 (the end moved on then)
    tracker.observe(snap(14, committed=5, end=9))
    assert tracker.report()[0].lag_seconds == 12.0
    tracker.observe(snap(16, committed=9, end=9))
    assert tracker.report()[0].lag_seconds == 0.0


def test_lag_older_than_the_history_is_a_lower_bound():
    tracker = LagTracker(window_seconds=10)
    tracker.observe(snap(100, committed=0, end=50))
    tracker.observe(snap(130, committed=0, end=50))
    assert tracker.report()[0].lag_seconds == 30.0


def test_stopped_when_the_group_has_no_member():
    tracker = LagTracker(window_seconds=10)
    tracker.observe(snap(0, committed=5, end=9, members=0))
    (report,) = tracker.report()
    assert report.status == Status.STOPPED and "no active member" in report.reason


def test_stalled_when_the_committed_offset_does_not_move_for_the_window_with_lag():
    tracker = LagTracker(window_seconds=10)
    for at in range(0, 10, 2):
        tracker.observe(snap(at, committed=5, end=9))
        assert tracker.report()[0].status == Status.OK      # the window is not covered yet
    tracker.observe(snap(10, committed=5, end=9))
    report = tracker.report()[0]
    assert report.status == Status.STALLED, report
    assert "warehouse.commands.v1[0]" in report.reason


def test_an_idle_group_without_lag_is_ok_even_if_nothing_moves():
    tracker = LagTracker(window_seconds=10)
    for at in range(0, 30, 2):
        tracker.observe(snap(at, committed=9, end=9))
    assert tracker.report()[0].status == Status.OK


def test_warning_when_lag_rises_at_every_poll_although_the_consumer_moves():
    tracker = LagTracker(window_seconds=10)
    for i, at in enumerate(range(0, 14, 2)):
        tracker.observe(snap(at, committed=10 * i, end=15 * i + 1))
    report = tracker.report()[0]
    assert report.status == Status.WARNING, report


def test_a_consumer_that_keeps_up_is_ok():
    tracker = LagTracker(window_seconds=10)
    for i, at in enumerate(range(0, 20, 2)):
        tracker.observe(snap(at, committed=10 * i, end=10 * i + (3 if i % 2 else 0)))
    assert tracker.report()[0].status == Status.OK


def test_a_recovered_consumer_goes_back_to_ok():
    tracker = LagTracker(window_seconds=10)
    for at in range(0, 12, 2):
        tracker.observe(snap(at, committed=5, end=9))
    assert tracker.report()[0].status == Status.STALLED
    tracker.observe(snap(12, committed=9, end=9))
    assert tracker.report()[0].status == Status.OK
