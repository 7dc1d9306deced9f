"""Waiting for dependencies instead of dying: a service's HTTP side answers from its first second
(`/health/live`), while the database and the broker are connected in the background, each retried
with exponential backoff until it answers (forever by default). `/health/ready` says which one is
still missing and why (`Dependency.state`).

Settings: ORDERFLOW_STARTUP_RETRY_INITIAL_SECONDS (0.5), ORDERFLOW_STARTUP_RETRY_MAX_SECONDS (15),
ORDERFLOW_STARTUP_MAX_WAIT_SECONDS (0 = forever; else the process gives up and exits, for platforms
that prefer a restart to a wait).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class GaveUp(RuntimeError):
    """A dependency did not answer within ORDERFLOW_STARTUP_MAX_WAIT_SECONDS."""


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 15.0
    max_wait: float = 0.0          # 0: forever

    def delay(self, attempt: int) -> float:
        """Exponential with jitter (so that five services do not knock in step after an outage)."""
        base = min(self.maximum, self.initial * 2 ** max(0, attempt - 1))
        return base * random.uniform(0.8, 1.2)


@dataclass
class Dependency:
    """What /health/ready shows about one dependency while the service waits for it."""

    name: str
    state: str = "not started"
    attempts: int = 0
    up: bool = False

    def waiting(self, error: BaseException, retry_in: float) -> None:
        self.state = f"waiting (attempt {self.attempts}, next in {retry_in:.1f}s): {describe(error)}"

    def connected(self) -> None:
        self.up, self.state = True, "ok"


def describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


async def until_up(dependency: Dependency, attempt: Callable[[], Awaitable[T]], backoff: Backoff, *,
                   retry_on: tuple[type[BaseException], ...] = (Exception,)) -> T:
    """Call `attempt` until it succeeds, sleeping with backoff in between. Errors outside `retry_on`
    (a misconfiguration, not an outage) are raised at once."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        dependency.attempts += 1
        if dependency.attempts == 1:
            dependency.state = "connecting"
        try:
            result = await attempt()
        except retry_on as exc:
            waited = loop.time() - started
            if backoff.max_wait and waited >= backoff.max_wait:
                raise GaveUp(f"{dependency.name} unreachable for {waited:.0f}s: {describe(exc)}") from exc
            pause = backoff.delay(dependency.attempts)
            dependency.waiting(exc, pause)
            # The first failure and then every tenth are logged: an outage must not flood the log.
            if dependency.attempts == 1 or dependency.attempts % 10 == 0:
                log.warning("%s not available yet (attempt %d): %s; retrying with backoff (next in %.1fs)",
                            dependency.name, dependency.attempts, describe(exc), pause)
            await asyncio.sleep(pause)
            continue
        dependency.connected()
        if dependency.attempts > 1:
            log.info("%s available after %d attempts (%.1fs)", dependency.name, dependency.attempts,
                     loop.time() - started)
        return result
