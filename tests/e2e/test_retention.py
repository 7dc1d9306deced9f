"""The inbox stays bounded: rows older than the retention are pruned, newer ones (which may still
dedupe a redelivery) stay; the outbox holds only what is not yet published."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from services.runtime.config import Settings
from services.runtime.retention import prune_inbox
from tests.e2e.conftest import E2E


async def test_inbox_rows_older_than_the_retention_are_pruned_and_newer_ones_kept(e2e: E2E) -> None:
    order = e2e.place("CUST-ACME")
    e2e.wait_final(order["order_id"])
    dsn = Settings(service="finance", db_prefix=e2e.settings.db_prefix).dsn()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        recent = await pool.fetchval("SELECT count(*) FROM inbox")
        assert recent > 0
        await pool.execute(
            "INSERT INTO inbox (message_key, message_type, topic, kafka_partition, kafka_offset, outcome, processed_at)"
            " SELECT 'old-' || g, 'test', 'test', 0, g, 'handled', now() - interval '9 days'"
            " FROM generate_series(1, 12) g")
        assert await prune_inbox(pool, retention_seconds=8 * 86400) == 12
        assert await pool.fetchval("SELECT count(*) FROM inbox WHERE message_key LIKE 'old-%'") == 0
        assert await pool.fetchval("SELECT count(*) FROM inbox") == recent
    finally:
        await pool.close()


async def test_the_outbox_is_empty_once_everything_is_published(e2e: E2E) -> None:
    order = e2e.place("CUST-ACME")
    e2e.wait_final(order["order_id"])
    deadline = time.monotonic() + 15
    for service in ("sales", "warehouse", "logistics", "finance"):
        while (left := (await e2e.rows(service, "SELECT count(*) n FROM outbox"))[0]["n"]) > 0:
            assert time.monotonic() < deadline, f"{service} outbox still holds {left} rows"
            await asyncio.sleep(0.2)
