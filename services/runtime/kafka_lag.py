"""Consumer-group offsets as the `monitor` principal: committed offset, end offset and members per
group, topic and partition. Used by `orderflow lag` (one snapshot) and the lag exporter (one every
poll, services/lag_exporter).

`monitor` may DESCRIBE every topic and group of the environment and read no data (kafka_acl.py):
OffsetFetch, ListOffsets and DescribeGroups need nothing more. That is also why lag in seconds is
estimated from the history of end offsets (lag_status.py) rather than from the timestamp of the
record at the committed position, which would need READ on every topic: customers' addresses and
amounts are no business of a monitoring principal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.config import Settings
from services.runtime.kafka_acl import MONITOR
from services.runtime.kafka_security import client_kwargs
from services.runtime.version import DEPARTMENTS, SIMULATORS


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


@dataclass
class Snapshot:
    """Offsets of a set of groups at one moment (`at`: epoch seconds)."""

    at: float
    partitions: list[PartitionLag] = field(default_factory=list)
    members: dict[str, int] = field(default_factory=dict)    # group -> active members
    states: dict[str, str] = field(default_factory=dict)     # group -> coordinator's state (Stable, Empty, ...)


def our_groups(settings: Settings) -> list[str]:
    """The orderflow consumer groups of this environment (departments and simulators)."""
    return [settings.group_prefix + name for name in (*DEPARTMENTS, *SIMULATORS)]


def monitor_settings(settings: Settings) -> Settings:
    return settings if settings.kafka_username else settings.as_principal(MONITOR)


class LagReader:
    """Long-lived admin client + offset client (the exporter polls through one of each)."""

    def __init__(self, settings: Settings, client_id: str = "orderflow-lag") -> None:
        self.settings = settings
        kafka = client_kwargs(monitor_settings(settings))
        self._admin = AIOKafkaAdminClient(client_id=client_id, request_timeout_ms=5000, **kafka)
        self._offsets = AIOKafkaConsumer(client_id=client_id, enable_auto_commit=False, request_timeout_ms=5000,
                                         **kafka)

    async def start(self) -> None:
        await self._admin.start()
        try:
            await self._offsets.start()
        except BaseException:
            await self._admin.close()
            raise

    async def stop(self) -> None:
        await self._offsets.stop()
        await self._admin.close()

    async def __aenter__(self) -> "LagReader":
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def existing_groups(self) -> list[str]:
        return sorted({g[0] for g in await self._admin.list_consumer_groups()})

    async def snapshot(self, groups: list[str]) -> Snapshot:
        """Committed offsets, end offsets and members of `groups` (absent groups are left out)."""
        existing = set(await self.existing_groups())
        groups = [g for g in groups if g in existing]
        committed: dict[str, dict[TopicPartition, int]] = {}
        for name in groups:
            offsets = await self._admin.list_consumer_group_offsets(name)
            committed[name] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        members, states = await self._describe(groups)
        partitions = sorted({tp for offsets in committed.values() for tp in offsets})
        ends = await self._offsets.end_offsets(partitions) if partitions else {}
        at = time.time()
        rows = [PartitionLag(name, tp.topic, tp.partition, offset, ends.get(tp, offset))
                for name, offsets in committed.items()
                for tp, offset in sorted(offsets.items(), key=lambda i: (i[0].topic, i[0].partition))]
        return Snapshot(at=at, partitions=rows, members=members, states=states)

    async def _describe(self, groups: list[str]) -> tuple[dict[str, int], dict[str, str]]:
        members: dict[str, int] = {}
        states: dict[str, str] = {}
        if not groups:
            return members, states
        # One group per request: aiokafka 0.14 fails to decode Kafka 4's answer for several groups at once.
        responses = [r for name in groups for r in await self._admin.describe_consumer_groups([name])]
        for response in responses:
            for group in response.groups:
                # (error_code, group_id, state, protocol_type, protocol, members[, authorized_operations])
                group_id, state, group_members = group[1], group[2], group[5]
                members[group_id] = len(group_members)
                states[group_id] = state
        return members, states


async def collect(settings: Settings, group: str | None = None, all_groups: bool = False) -> Snapshot:
    """One snapshot: `group`, else every group on the cluster (`all_groups`), else orderflow's."""
    async with LagReader(settings, client_id="orderflow-cli") as reader:
        if group:
            if group not in await reader.existing_groups():
                raise LookupError(f"no consumer group {group!r} on the cluster")
            return await reader.snapshot([group])
        groups = await reader.existing_groups() if all_groups else our_groups(settings)
        return await reader.snapshot(groups)
