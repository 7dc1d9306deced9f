"""The bound, measured in the same invocation on the same broker and database server:

- Kafka: the broker's own ProducerPerformance (acks=all, idempotent, orderflow's linger) and
  ConsumerPerformance on a scratch topic, via `deploy/local/kafka.sh tool` (which adds the admin
  principal's client config: SASL_SSL + SCRAM, like every client of the stack);
- PostgreSQL: pgbench running a message transaction (inbox insert + effect update + outbox insert,
  synchronous_commit on), one message per transaction and 20 per transaction, on a scratch database,
  over TCP with scram-sha-256 as `orderflow_admin` (the password in pgbench's environment only);
- the same-stack baseline (baseline.py) as a child process: raw aiokafka + pydantic + asyncpg doing
  inbox + effect + outbox per batch with an idempotent producer over SASL_SSL, its CPU and the
  broker's and the database's measured from /proc.
Scratch topics and databases belong to no environment's catalogue, so they are created, used and
dropped as the provisioning identities (Kafka `admin`, PostgreSQL `orderflow_admin`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.cli.bench.probes import Process, ProcessProbe
from services.provisioning.postgres import admin_connection, admin_settings
from services.runtime.config import Settings
from services.runtime.kafka_acl import ADMIN
from services.runtime.kafka_security import client_kwargs

ROOT = Path(__file__).resolve().parents[3]
KAFKA_TOOL = ROOT / "deploy/local/kafka.sh"
PGBENCH = Path("/usr/lib/postgresql/15/bin/pgbench")
# A finished client's backend counts in the postmaster's CPU only once the postmaster has reaped it.
REAP_SECONDS = 1.0

# A message transaction as orderflow's consumer does it for one record (payload ~ a real envelope).
_ENVELOPE = ('{"type": "warehouse.stock_reserved", "producer": "warehouse", "payload": {"order_id": "'
             + "0" * 36 + '", "lines": [{"sku": "SKU-BOLT-M8", "requested": 1, "reserved": 1}], "complete": true},'
             + ' "trace": {}, "schema_version": 1, "occurred_at": "2026-01-01", "padding": "'
             + "x" * 500 + '"}')
PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (message_key TEXT PRIMARY KEY, message_type TEXT, topic TEXT NOT NULL,
  kafka_partition INT NOT NULL, kafka_offset BIGINT NOT NULL, outcome TEXT NOT NULL,
  processed_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS effect (id INT PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0, updated_at TIMESTAMPTZ);
INSERT INTO effect (id) SELECT g FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS outbox (id BIGSERIAL PRIMARY KEY, message_id UUID NOT NULL UNIQUE, topic TEXT NOT NULL,
  message_key TEXT, message_type TEXT NOT NULL, envelope JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  published_at TIMESTAMPTZ);
"""
PG_ONE = f"""\\set k random(1, 1000)
BEGIN;
INSERT INTO inbox (message_key, message_type, topic, kafka_partition, kafka_offset, outcome)
  VALUES (gen_random_uuid()::text, 'warehouse.stock_reserved', 'bench', 0, :client_id, 'handled');
UPDATE effect SET n = n + 1, updated_at = now() WHERE id = :k;
INSERT INTO outbox (message_id, topic, message_key, message_type, envelope)
  VALUES (gen_random_uuid(), 'bench', 'k', 'sales.order_status_changed', '{_ENVELOPE}');
END;
"""
PG_BATCH = f"""\\set k random(1, 980)
BEGIN;
INSERT INTO inbox (message_key, message_type, topic, kafka_partition, kafka_offset, outcome)
  SELECT gen_random_uuid()::text, 'warehouse.stock_reserved', 'bench', 0, g, 'handled' FROM generate_series(1, 20) g;
UPDATE effect SET n = n + 1, updated_at = now() WHERE id BETWEEN :k AND :k + 19;
INSERT INTO outbox (message_id, topic, message_key, message_type, envelope)
  SELECT gen_random_uuid(), 'bench', 'k', 'sales.order_status_changed', '{_ENVELOPE}' FROM generate_series(1, 20);
END;
"""


def _tool(*args: str, timeout: float = 300) -> str:
    """A Kafka Java tool through kafka.sh, as `admin` (the scratch topic has no other principal's ACLs)."""
    env = {**os.environ, "ORDERFLOW_HOME": os.environ.get("ORDERFLOW_HOME", str(ROOT)),
           "ORDERFLOW_KAFKA_TOOL_PRINCIPAL": ADMIN}
    done = subprocess.run([str(KAFKA_TOOL), "tool", *args], capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"kafka.sh tool {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def admin_kafka(settings: Settings) -> dict[str, Any]:
    return client_kwargs(settings.as_principal(ADMIN))


async def kafka_bound(settings: Settings, prefix: str, probe: ProcessProbe, *, records: int = 200_000,
                      record_size: int = 700) -> dict[str, Any]:
    topic = f"{prefix}bench.bound"
    admin = AIOKafkaAdminClient(**admin_kafka(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
        before = probe.sample()
        out = await asyncio.to_thread(
            _tool, "ProducerPerformance", "--bootstrap-server", settings.kafka_bootstrap, "--topic", topic,
            "--num-records", str(records), "--record-size", str(record_size), "--throughput", "-1",
            "--producer-props", "acks=all", "enable.idempotence=true", "linger.ms=5")
        after = probe.sample()
        final = [line for line in out.splitlines() if "records sent" in line][-1]
        produce_rate = float(re.search(r"([\d.]+) records/sec", final).group(1))
        produce_cpu = probe.delta(before, after)
        out = await asyncio.to_thread(
            _tool, "ConsumerPerformance", "--bootstrap-server", settings.kafka_bootstrap, "--topic", topic,
            "--num-records", str(records), "--timeout", "60000")
        row = [line for line in out.splitlines() if line and line[0].isdigit()][-1].split(",")
        consume_rate = float(row[5])
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return {"record_size": record_size, "records": records,
            "producer_records_per_s": produce_rate, "consumer_records_per_s": consume_rate,
            "kafka_cpu_ms_per_record_produced": round(produce_cpu.get("kafka", 0) / records, 4)}


def _pgbench(settings: Settings, database: str, script: str, seconds: int, clients: int) -> float:
    admin = admin_settings(settings)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as handle:
        handle.write(script)
        handle.flush()
        done = subprocess.run(
            [str(PGBENCH), "-n", "-M", "prepared", "-c", str(clients), "-j", "1", "-T", str(seconds),
             "-h", admin.pg_host, "-p", str(admin.pg_port), "-U", admin.db_role(), "-f", handle.name, database],
            # The password only in pgbench's environment: never on a command line or in its output.
            capture_output=True, text=True, env={**os.environ, "PGPASSWORD": admin.db_password()},
            timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr.strip()[-500:]}")
    return float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))


async def postgres_bound(settings: Settings, probe: ProcessProbe, *, seconds: int = 10,
                         clients: int = 5) -> dict[str, Any]:
    database = f"{settings.db_prefix}bench_bound"
    admin = await admin_connection(settings)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        await admin.execute(f'CREATE DATABASE "{database}"')
        conn = await asyncpg.connect(admin_settings(settings).dsn(database=database))
        try:
            await conn.execute(PG_SCHEMA)
        finally:
            await conn.close()
        result: dict[str, Any] = {"clients": clients, "seconds": seconds, "synchronous_commit": "on"}
        for name, script, per_txn in (("one_message_per_txn", PG_ONE, 1), ("twenty_messages_per_txn", PG_BATCH, 20)):
            before = probe.sample()
            tps = await asyncio.to_thread(_pgbench, settings, database, script, seconds, clients)
            await asyncio.sleep(REAP_SECONDS)
            cpu = probe.delta(before, probe.sample()).get("postgres", 0.0)
            messages = tps * per_txn * seconds
            result[name] = {"transactions_per_s": round(tps, 1), "messages_per_s": round(tps * per_txn, 1),
                            "postgres_cpu_ms_per_message": round(cpu / messages, 4) if messages else None}
        return result
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def baseline_command(messages: int, database: str, prefix: str) -> list[str]:
    """The baseline child's command line: names only; it finds its credentials in the settings'
    files, as every process of the stack does (a command line is visible to every local user)."""
    return [sys.executable, "-m", "services.cli.bench.baseline", "--messages", str(messages), "--database", database,
            "--prefix", prefix]


async def same_stack_baseline(settings: Settings, prefix: str, infra: list[Process], *,
                              messages: int = 20_000) -> dict[str, Any]:
    """Run baseline.py as a child; CPU of it + Kafka + PostgreSQL over its working window."""
    database = f"{settings.db_prefix}bench_baseline"
    admin = await admin_connection(settings)
    await admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    await admin.execute(f'CREATE DATABASE "{database}"')
    child = await asyncio.create_subprocess_exec(*baseline_command(messages, database, prefix), cwd=ROOT,
                                                 stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdin is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=300)
        if line.strip() != b"READY":
            raise RuntimeError(f"baseline did not start: {line!r}")
        probe = ProcessProbe(infra)     # the child reports its own CPU (it may be gone when we sample)
        before = probe.sample()
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        report = json.loads(await asyncio.wait_for(child.stdout.readline(), timeout=600))
        await asyncio.sleep(REAP_SECONDS)
        cpu = probe.delta(before, probe.sample())
        await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        kafka = AIOKafkaAdminClient(**admin_kafka(settings))
        await kafka.start()
        try:
            await kafka.delete_topics([f"{prefix}bench.baseline.in", f"{prefix}bench.baseline.out"])
        except Exception:  # noqa: BLE001 - best effort cleanup of scratch topics
            pass
        finally:
            await kafka.close()
    handled = report["messages"]
    cpu["baseline"] = report["process_cpu_ms"]
    report["cpu_ms_per_message"] = {name: round(ms / handled, 4) for name, ms in cpu.items()}
    report["cpu_ms_per_message"]["total"] = round(sum(cpu.values()) / handled, 4)
    return report


async def measure(settings: Settings, prefix: str, infra: list[Process]) -> dict[str, Any]:
    probe = ProcessProbe(infra)
    started = time.monotonic()
    result = {
        "kafka": await kafka_bound(settings, prefix, probe),
        "postgres": await postgres_bound(settings, probe),
        "baseline": await same_stack_baseline(settings, prefix, infra),
    }
    result["seconds"] = round(time.monotonic() - started, 1)
    return result
