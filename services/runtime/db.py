"""Database access: one asyncpg pool per service, its database created when missing, and
versioned SQL migrations applied at start (under an advisory lock, so replicas can start together)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x0DE7F10  # advisory lock id, any constant shared by replicas
CONNECT_TIMEOUT_SECONDS = 10  # a server that accepts but does not answer counts as down


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON columns come back as Python objects, not strings.
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, size: int = 10, wait_seconds: float = 60.0) -> asyncpg.Pool:
    """Connect, waiting up to `wait_seconds` for the database to come up (0: one attempt; services
    retry with their own backoff, services/runtime/startup.py). The
    database and the service's role are created by provisioning (`orderflow provision`): a service
    owns its database but may not create one."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await asyncpg.create_pool(dsn, min_size=1, max_size=size, init=_init_connection,
                                             timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError,
                asyncpg.InvalidCatalogNameError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
            if isinstance(exc, asyncpg.InvalidCatalogNameError | asyncpg.InvalidAuthorizationSpecificationError):
                exc = RuntimeError(f"{exc}; run provisioning (`orderflow provision`)")
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"database unreachable at {redact(dsn)}: {exc}") from None
            log.warning("database %s not reachable yet (%s); retrying", redact(dsn), exc)
            await asyncio.sleep(1.0)


def redact(dsn: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(dsn)
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}:{parts.port}"))


async def migrate(pool: asyncpg.Pool, *directories: Path) -> list[str]:
    """Apply every `*.sql` file not yet applied, in (directory, file name) order. Returns what ran."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for directory in (RUNTIME_MIGRATIONS, *directories):
                for path in sorted(directory.glob("*.sql")):
                    version = f"{directory.parent.name}/{path.name}"
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(path.read_text())
                        await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                    applied_now.append(version)
                    log.info("applied migration %s", version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now
