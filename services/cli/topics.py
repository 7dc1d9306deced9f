"""Create the catalogue's topics (and nothing else): services never auto-create topics."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import CATALOGUE


@dataclass
class TopicReport:
    created: list[str]
    existing: list[str]
    problems: list[str]


async def ensure_topics(bootstrap: str, prefix: str = "", replication: int = 1) -> TopicReport:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="orderflow-provisioning")
    await admin.start()
    try:
        present = set(await admin.list_topics())
        wanted = {prefix + spec.name: spec for spec in CATALOGUE.values()}
        missing = [name for name in wanted if name not in present]
        if missing:
            await admin.create_topics([
                NewTopic(name, num_partitions=wanted[name].partitions, replication_factor=replication,
                         topic_configs=wanted[name].kafka_configs()) for name in missing])
        problems = []
        existing = sorted(set(wanted) - set(missing))
        if existing:
            for meta in await admin.describe_topics(existing):
                spec = wanted[meta["topic"]]
                if len(meta["partitions"]) < spec.partitions:
                    problems.append(f"{meta['topic']}: {len(meta['partitions'])} partitions, catalogue says "
                                    f"{spec.partitions}")
        return TopicReport(sorted(missing), existing, problems)
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
    """Delete the catalogue's topics under a prefix (tests use a fresh prefix per run)."""
    if not prefix:
        raise ValueError("refusing to delete unprefixed (production-named) topics")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="orderflow-provisioning")
    await admin.start()
    try:
        names = [n for n in await admin.list_topics() if n.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
