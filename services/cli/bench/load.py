"""The bench's load: orders placed through the public API, and their completion seen on Kafka.

Two shapes of load:
- open model (`rate`): order n is due at start + n/rate whatever happened to the earlier ones,
  so a slow system faces the same arrivals (no coordinated omission); its end-to-end latency
  counts from when it was due, not from when the request could be sent;
- capacity (`rate=None`): every order is placed at once (at most `concurrency` requests in
  flight), the system works through the backlog, and completions per second are its capacity.

Completion is read from `sales.events.v1` (`sales.order_status_changed`, filtered on the `type`
header before parsing) by a group-less consumer, as a subscribing system would (the
`outside-reader` principal): nothing is polled over HTTP, so the bench adds no load to sales
beyond the orders themselves. Orders are placed with a bearer token, as a clerk.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

STATUS_CHANGED = b"sales.order_status_changed"
FINAL = ("completed", "rejected", "cancelled")


@dataclass
class Placed:
    due: float                 # monotonic time the order was due (open model) or queued (capacity)
    sent: float
    answered: float
    order_id: str


@dataclass
class LoadResult:
    placed: list[Placed] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    final: dict[str, tuple[str, float]] = field(default_factory=dict)   # order id -> (status, seen at)
    started: float = 0.0
    placing_done: float = 0.0
    finished: float = 0.0
    late_starts: int = 0       # open model: requests sent > 50 ms after they were due (generator overloaded)


class CompletionWatcher:
    """Follows `sales.events.v1` from its end at start; records when each order became final."""

    def __init__(self, topic: str, **client: object) -> None:
        """`client`: aiokafka kwargs of a principal that may read the topic (kafka_security.client_kwargs)."""
        self._consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **client)
        self._topic = topic
        self._task: asyncio.Task | None = None
        self.final: dict[str, tuple[str, float]] = {}
        self.changed = asyncio.Event()

    async def start(self) -> None:
        await self._consumer.start()
        partitions = [TopicPartition(self._topic, p) for p in sorted(self._consumer.partitions_for_topic(self._topic)
                                                                      or await self._partitions())]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:                      # resolve the positions now, before any order exists
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run(), name="completion-watcher")

    async def _partitions(self) -> set[int]:
        await self._consumer._client.force_metadata_update()   # noqa: SLF001 - no public metadata refresh
        return self._consumer.partitions_for_topic(self._topic) or set()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=1000)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    if dict(record.headers or ()).get("type") != STATUS_CHANGED:
                        continue            # skipped on the header, never parsed
                    payload = json.loads(record.value)["payload"]
                    if payload["status"] in FINAL and payload["order_id"] not in self.final:
                        self.final[payload["order_id"]] = (payload["status"], now)
            if batches:
                self.changed.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


async def place_orders(base_url: str, watcher: CompletionWatcher, *, orders: int, rate: float | None,
                       concurrency: int, body: Callable[[int], dict], timeout: float, headers: dict[str, str],
                       progress: Callable[[str], None] | None = None) -> LoadResult:
    """Place `orders` (with `headers`: the clerk's Authorization) and wait until each is final (or
    `timeout` after the last was placed)."""
    result = LoadResult()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits, headers=headers) as client:
        async def place(n: int, due: float) -> None:
            async with gate:
                sent = time.monotonic()
                if rate and sent - due > 0.05:
                    result.late_starts += 1
                try:
                    response = await client.post("/orders", json=body(n))
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    result.failed_requests.append(f"{type(exc).__name__}: {exc}")
                    return
                result.placed.append(Placed(due, sent, time.monotonic(), response.json()["order_id"]))

        result.started = start = time.monotonic()
        tasks = []
        for n in range(orders):
            due = start + n / rate if rate else start
            if rate and (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(place(n, due)))
            if progress and n % 50 == 0:
                progress(f"placing {n}/{orders}, final {len(watcher.final)}")
        await asyncio.gather(*tasks)
        result.placing_done = time.monotonic()

    wanted = {p.order_id for p in result.placed}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = wanted & watcher.final.keys()
        if progress:
            progress(f"final {len(done)}/{len(wanted)}")
        if len(done) == len(wanted):
            break
        watcher.changed.clear()
        try:
            await asyncio.wait_for(watcher.changed.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass
    result.final = {oid: watcher.final[oid] for oid in wanted if oid in watcher.final}
    result.finished = max((seen for _, seen in result.final.values()), default=time.monotonic())
    return result
