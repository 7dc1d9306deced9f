"""Keeps the inbox bounded: rows older than `inbox_retention_seconds` are deleted by a periodic
job. A row only has to outlive every chance of its record being delivered again, i.e. the topics'
retention (7 days in the catalogue); the default keeps 8 days. (The outbox needs no job: the
relay deletes rows once Kafka has acknowledged them.)"""

from __future__ import annotations

import datetime as dt
import logging

import asyncpg

log = logging.getLogger(__name__)
CHUNK = 5000   # rows per DELETE, so that one run never holds long locks or writes a huge transaction


async def prune_inbox(pool: asyncpg.Pool, retention_seconds: float) -> int:
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=retention_seconds)
    removed = 0
    while True:
        async with pool.acquire() as conn:
            deleted = await conn.fetchval(
                "WITH old AS (SELECT message_key FROM inbox WHERE processed_at < $1 LIMIT $2),"
                " gone AS (DELETE FROM inbox i USING old WHERE i.message_key = old.message_key RETURNING 1)"
                " SELECT count(*) FROM gone", cutoff, CHUNK)
        removed += deleted
        if deleted < CHUNK:
            break
    if removed:
        log.info("pruned %d inbox rows older than %s", removed, cutoff.isoformat(timespec="seconds"))
    return removed
