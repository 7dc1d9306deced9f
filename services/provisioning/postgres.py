"""PostgreSQL provisioning, as the `orderflow_admin` role: one login role per service
(`orderflow_<service>`) owning only its own database, CONNECT revoked from PUBLIC, so a service
cannot even open another department's database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

import asyncpg

from contracts.topics import DEPARTMENTS
from services.provisioning.secrets import ensure_secret
from services.runtime.config import Settings

ADMIN_ROLE = "orderflow_admin"
_LOCK = 0x0DE7F12   # provisioning runs one at a time (a test run and `orderflow up` may overlap)


def admin_settings(settings: Settings) -> Settings:
    """The same server, as the provisioning role (its password from its file unless configured)."""
    if settings.pg_user == ADMIN_ROLE:
        return settings
    return settings.model_copy(update={"pg_user": ADMIN_ROLE, "pg_password": None, "pg_password_file": None})


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5803 format, computed as
    libpq's PQencryptPasswordConn does), so the plain password never reaches the server or its log."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def admin_connection(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(admin_settings(settings).dsn(database="postgres"))


async def provision_databases(settings: Settings, db_prefix: str | None = None,
                              services: Iterable[str] = DEPARTMENTS) -> list[str]:
    """Create (or repair) each service's role and database. Returns the databases created now."""
    prefix = settings.db_prefix if db_prefix is None else db_prefix
    created = []
    conn = await admin_connection(settings)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK)
        for service in services:
            role = settings.model_copy(update={"service": service, "pg_user": ""}).db_role()
            password = ensure_secret(settings.state() / "postgres" / "roles" / f"{role}.password")
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(f"CREATE ROLE {_ident(role)} LOGIN")
            # DDL takes no parameters; the verifier is base64 and '$'-separated, safe as a literal.
            await conn.execute(f"ALTER ROLE {_ident(role)} WITH LOGIN "
                               f"PASSWORD '{scram_verifier(password)}'")
            if not await conn.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", role):
                await conn.execute(f"GRANT {_ident(role)} TO {_ident(ADMIN_ROLE)}")   # to own its database
            database = f"{prefix}{service}"
            owner = await conn.fetchval("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
                                        database)
            if owner is None:
                await conn.execute(f"CREATE DATABASE {_ident(database)} OWNER {_ident(role)}")
                created.append(database)
            elif owner != role:
                await conn.execute(f"ALTER DATABASE {_ident(database)} OWNER TO {_ident(role)}")
            await conn.execute(f"REVOKE CONNECT, TEMPORARY ON DATABASE {_ident(database)} FROM PUBLIC")
    finally:
        await conn.close()
    return created


async def drop_databases(settings: Settings, db_prefix: str, services: Iterable[str] = DEPARTMENTS) -> None:
    """Drop a (test) environment's databases; the roles stay, they are shared by environments."""
    if not db_prefix or db_prefix == "orderflow_":
        raise ValueError("refusing to drop the default (non-test) databases")
    conn = await admin_connection(settings)
    try:
        for service in services:
            await _drop_database(conn, db_prefix + service)
    finally:
        await conn.close()


async def _drop_database(conn: asyncpg.Connection, database: str, attempts: int = 5) -> None:
    """DROP DATABASE ... WITH (FORCE) ends the other sessions first, but a non-superuser may only end
    those of roles it is a member of: an autovacuum worker busy in the database (it has no role; a
    database that just took a load often has one) makes it fail. A plain DROP DATABASE stops
    autovacuum workers by itself, so fall back to it; a client that connected meanwhile -> again."""
    for attempt in range(attempts):
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)")
            return
        except asyncpg.InsufficientPrivilegeError:
            try:
                await conn.execute(f"DROP DATABASE IF EXISTS {_ident(database)}")
                return
            except asyncpg.ObjectInUseError:
                if attempt == attempts - 1:
                    raise
        await asyncio.sleep(0.2 * (attempt + 1))
