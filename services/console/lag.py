"""Consumer lag per group, sampled in the background for the lag page's table and small chart.

Offsets are read as the `monitor` principal (DESCRIBE on the environment's groups and topics, no
data: `services/runtime/kafka_acl.py`) through `services/runtime/kafka_lag.py`, as `orderflow lag`
and the lag exporter read them; the console keeps
the last `console_lag_history` samples per group in memory (nothing is stored: after a restart the
chart starts again)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass

from services.console.settings import ConsoleSettings
from services.runtime.kafka_acl import MONITOR
from services.runtime.kafka_lag import collect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupLag:
    group: str
    lag: int
    partitions: int
    topics: int


@dataclass(frozen=True)
class Sample:
    at: float
    groups: dict[str, GroupLag]


class LagHistory:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.samples: deque[Sample] = deque(maxlen=settings.console_lag_history)
        self.error: str | None = None

    def series(self, group: str) -> list[tuple[float, int]]:
        return [(s.at, s.groups[group].lag) for s in self.samples if group in s.groups]

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    async def sample(self) -> Sample:
        rows = (await collect(self.settings.as_principal(MONITOR))).partitions
        groups: dict[str, GroupLag] = {}
        for name in sorted({r.group for r in rows}):
            mine = [r for r in rows if r.group == name]
            groups[name] = GroupLag(name, sum(r.lag for r in mine), len(mine), len({r.topic for r in mine}))
        sample = Sample(time.time(), groups)
        self.samples.append(sample)
        self.error = None
        return sample

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - shown on the lag page; the sampler keeps going
                self.error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("consumer lag not read: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.console_lag_sample_seconds)
