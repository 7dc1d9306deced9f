"""A scratch environment in one call: its own topic prefix, consumer-group prefix and databases on a
shared cluster and server, provisioned like any environment and dropped without a trace.

Used by `orderflow bench-suite` (a fresh stack per scenario) and by tests that run a private
instance beside the e2e harness's stack (which does the same steps in tests/e2e/conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from contracts.topics import DEPARTMENTS
from services.provisioning.kafka import (KafkaProvisioning, delete_environment_acls, delete_environment_groups,
                                         delete_topics, provision_kafka)
from services.provisioning.postgres import drop_databases, provision_databases
from services.runtime.config import Settings


async def provision_environment(settings: Settings, services: Iterable[str] = DEPARTMENTS) -> KafkaProvisioning:
    """The catalogue's topics under `settings.topic_prefix`, every principal's user and the ACLs for
    this prefix and `settings.group_prefix`, and the `services`' roles and databases."""
    report = await provision_kafka(settings, topic_prefix=settings.topic_prefix, group_prefix=settings.group_prefix)
    if report.topics.problems:
        raise RuntimeError("topics differ from the catalogue: " + "; ".join(report.topics.problems))
    await provision_databases(settings, services=services)
    return report


async def drop_environment(settings: Settings, services: Iterable[str] = DEPARTMENTS) -> None:
    """Delete the environment's topics, consumer groups, topic/group ACLs and databases (the users,
    roles and cluster-level ACLs are shared by every environment and stay). Refuses an unprefixed one."""
    await delete_topics(settings, settings.topic_prefix)
    await asyncio.to_thread(delete_environment_groups, settings, settings.group_prefix)
    await asyncio.to_thread(delete_environment_acls, settings, settings.topic_prefix, settings.group_prefix)
    await drop_databases(settings, settings.db_prefix, services)
