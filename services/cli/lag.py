"""`orderflow lag`: committed offset vs. end offset per consumer group, topic and partition."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.table import Table

from services.cli.stack import SERVICES, SIMULATORS
from services.runtime.config import Settings
from services.runtime.kafka_acl import MONITOR
from services.runtime.kafka_security import client_kwargs


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


def our_groups(settings: Settings) -> list[str]:
    return [settings.group_prefix + name for name in (*SERVICES, *SIMULATORS)]


async def collect(settings: Settings, group: str | None = None, all_groups: bool = False) -> list[PartitionLag]:
    """Committed and end offsets, read as the `monitor` principal (it may describe every group and
    topic of the environment, and read no data)."""
    kafka = client_kwargs(settings if settings.kafka_username else settings.as_principal(MONITOR))
    admin = AIOKafkaAdminClient(client_id="orderflow-cli", request_timeout_ms=5000, **kafka)
    await admin.start()
    try:
        existing = sorted({g[0] for g in await admin.list_consumer_groups()})
        if group:
            if group not in existing:
                raise LookupError(f"no consumer group {group!r} on the cluster")
            groups = [group]
        elif all_groups:
            groups = existing
        else:
            groups = [g for g in our_groups(settings) if g in existing]
        committed: dict[str, dict[TopicPartition, int]] = {}
        for name in groups:
            offsets = await admin.list_consumer_group_offsets(name)
            committed[name] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    finally:
        await admin.close()
    partitions = sorted({tp for offsets in committed.values() for tp in offsets})
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(client_id="orderflow-cli", enable_auto_commit=False, request_timeout_ms=5000,
                                **kafka)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return [PartitionLag(name, tp.topic, tp.partition, offset, ends.get(tp, offset))
            for name, offsets in committed.items()
            for tp, offset in sorted(offsets.items(), key=lambda i: (i[0].topic, i[0].partition))]


def lag_table(rows: list[PartitionLag], show_zero: bool = True) -> Table:
    table = Table(title="consumer lag", title_justify="left")
    table.add_column("group")
    table.add_column("topic")
    for column in ("partition", "committed", "end", "lag"):
        table.add_column(column, justify="right")
    groups = sorted({r.group for r in rows})
    for group in groups:
        mine = [r for r in rows if r.group == group]
        for row in mine:
            if show_zero or row.lag:
                style = "yellow" if row.lag else ""
                table.add_row(group, row.topic, str(row.partition), str(row.committed), str(row.end),
                              f"[{style}]{row.lag}[/]" if style else "0")
        total = sum(r.lag for r in mine)
        topics = len({r.topic for r in mine})
        table.add_row(f"[bold]{group} total[/]", f"{topics} topic{'' if topics == 1 else 's'}", str(len(mine)), "", "",
                      f"[bold {'yellow' if total else 'green'}]{total}[/]", end_section=True)
    return table


def run(group: str | None, all_groups: bool) -> list[PartitionLag]:
    return asyncio.run(collect(Settings(), group, all_groups))
