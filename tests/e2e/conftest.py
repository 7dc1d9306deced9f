"""End-to-end harness: a whole orderflow stack (5 services + 2 simulators as real processes)
against the real Kafka broker and PostgreSQL server.

Each test session gets its own topic prefix, consumer-group prefix, databases and HTTP ports, so
it never touches the demo stack from `make up` and leaves nothing behind (topics and databases
are dropped at the end). The infrastructure itself is started by `deploy/local/*.sh` (idempotent);
endpoints given in the environment (ORDERFLOW_KAFKA_BOOTSTRAP, ORDERFLOW_PG_*) are used as is.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.envelope import Envelope, Message, kafka_headers
from services.cli.client import resolve_token
from services.cli.stack import SERVICES, Stack
from services.cli.topics import delete_topics, ensure_topics
from services.runtime import dev_issuer, roles
from services.runtime.config import Settings

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"completed", "rejected", "cancelled"}
RUNNER = "e2e-runner"            # the harness's own user: places orders, operates, reads everything
RUNNER_ROLES = [roles.CLERK, roles.OPERATOR, roles.AUDITOR]


def _free_port() -> int:
    """A port nobody listens on now, so that a stale or parallel stack can never answer for ours."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _infra_up() -> None:
    if os.environ.get("ORDERFLOW_EXTERNAL_INFRA"):
        return
    for script in ("postgres.sh", "kafka.sh"):
        subprocess.run([str(ROOT / "deploy/local" / script), "start"], check=True)


class E2E:
    """What a test needs: the stack, its settings, and helpers to drive and inspect it."""

    def __init__(self, stack: Stack, settings: Settings, run_id: str) -> None:
        self.stack = stack
        self.settings = settings
        self.run_id = run_id
        self._tokens = [resolve_token(RUNNER, RUNNER_ROLES, name="e2e test runner", ttl_seconds=6 * 3600)]
        self.http = httpx.Client(timeout=10, headers={"Authorization": f"Bearer {self._tokens[0]}"})

    def issued_tokens(self) -> list[str]:
        """Every bearer token handed out in this run, for the log checks."""
        return list(self._tokens)

    # --- who calls ----------------------------------------------------------------------------

    def as_user(self, user: str, *role_names: str, **claims: Any) -> dict[str, str]:
        """Headers for a request as a dev user (default: the dev user's own roles; none for a stranger)."""
        known = dev_issuer.dev_user(user)
        token = dev_issuer.issue_token(user, list(role_names or (known.roles if known else ())), **claims)
        self._tokens.append(token)           # remembered: the log check looks for every one of them
        return {"Authorization": f"Bearer {token}"}

    # --- orders through the public API -------------------------------------------------------

    def place(self, customer: str = "CUST-ACME", lines: list[tuple[str, int]] | None = None, **extra: Any) -> dict:
        body = {"customer_id": customer, "order_type": "standard",
                "lines": [{"sku": s, "quantity": q} for s, q in (lines or [("SKU-BOLT-M8", 3)])], **extra}
        response = self.http.post(f"{self.stack.url('sales')}/orders", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, service: str, path: str, **params: Any) -> Any:
        response = self.http.get(f"{self.stack.url(service)}{path}", params=params)
        response.raise_for_status()
        return response.json()

    def post(self, service: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(f"{self.stack.url(service)}{path}", json=body, **kwargs)

    def wait_for(self, what: str, probe: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
        """Poll `probe()` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {value!r}")
            time.sleep(interval)

    def order(self, order_id: str) -> dict:
        response = self.http.get(f"{self.stack.url('sales')}/orders/{order_id}")
        response.raise_for_status()
        return response.json()

    def wait_final(self, order_id: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                order = self.order(order_id)
                if order["status"] in FINAL:
                    return order
            except httpx.HTTPError:
                order = {"status": "sales unreachable"}
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} not final after {timeout}s: {order.get('status')}\n"
                                     + "\n".join(f"--- {s}\n{self.stack.tail(s, 15)}" for s in SERVICES))
            time.sleep(0.2)

    # --- direct inspection of each department's own database --------------------------------

    async def db(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(Settings(service=service, db_prefix=self.settings.db_prefix).dsn())

    async def rows(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.db(service)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    # --- raw Kafka access ---------------------------------------------------------------------

    def topic(self, logical: str) -> str:
        return self.settings.topic(logical)

    async def publish_raw(self, logical_topic: str, value: bytes, key: bytes | None = None,
                          headers: list[tuple[str, bytes]] | None = None) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(self.topic(logical_topic), value, key=key, headers=headers)
        finally:
            await producer.stop()

    async def publish(self, message: Message, *, correlation_id: str, producer: str = "integration",
                      envelope: Envelope | None = None) -> Envelope:
        envelope = envelope or Envelope.wrap(message, correlation_id=correlation_id, producer=producer)
        body = envelope.model_dump(mode="json")
        await self.publish_raw(message.TOPIC, json.dumps(body).encode(), key=correlation_id.encode(),
                               headers=[(k, v.encode()) for k, v in kafka_headers(body).items()])
        return envelope

    async def read_topic(self, logical_topic: str, *, until: Any = None, timeout: float = 20.0) -> list[dict]:
        """Every record on the topic from the beginning (JSON bodies), until `until(records)` is true."""
        consumer = AIOKafkaConsumer(self.topic(logical_topic), bootstrap_servers=self.settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
        await consumer.start()
        records: list[dict] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=300)
                for partition_records in batch.values():
                    for record in partition_records:
                        try:
                            records.append({"partition": record.partition, "offset": record.offset,
                                            "key": record.key, "value": json.loads(record.value)})
                        except ValueError:
                            records.append({"partition": record.partition, "offset": record.offset,
                                            "key": record.key, "value": None})
                if until is None and not batch:
                    break
                if until is not None and until(records):
                    break
            return records
        finally:
            await consumer.stop()


@pytest.fixture(scope="session")
def e2e() -> Iterator[E2E]:
    _infra_up()
    run_id = f"t{int(time.time())}{uuid.uuid4().hex[:4]}"
    env = {
        "ORDERFLOW_TOPIC_PREFIX": f"{run_id}.",
        "ORDERFLOW_GROUP_PREFIX": f"{run_id}.",
        "ORDERFLOW_DB_PREFIX": f"oft_{run_id}_",
        "ORDERFLOW_SIM_CARRIER_DELAY": "0.05",
        "ORDERFLOW_SIM_CARRIER_SLOW_COUNTRIES": "PL",
        "ORDERFLOW_SIM_PAYMENT_DELAY": "0.05",
        "ORDERFLOW_SHUTDOWN_GRACE_SECONDS": "10",
        # Saga deadlines in seconds, so that timeouts happen within a test.
        "ORDERFLOW_PAYMENT_DEADLINE_SECONDS": "15",
        "ORDERFLOW_STEP_TIMEOUT_SECONDS": "30",
        "ORDERFLOW_COMPENSATION_TIMEOUT_SECONDS": "1",
        "ORDERFLOW_SAGA_MAX_ATTEMPTS": "3",
        "ORDERFLOW_SAGA_TICK_SECONDS": "0.5",
        "ORDERFLOW_SUPPLIER_CONFIRM_SECONDS": "2",
        "ORDERFLOW_PROCUREMENT_SWEEP_SECONDS": "0.5",
        "ORDERFLOW_RESERVATION_SWEEP_SECONDS": "1",
        # External parties' behaviour, per test supplier / customer (see tests/e2e/masterdata.py).
        "ORDERFLOW_SIM_SUPPLIER_REJECT": "SUP-T-REJECT",
        "ORDERFLOW_SIM_SUPPLIER_SILENT": "SUP-T-SILENT",
        "ORDERFLOW_SIM_SUPPLIER_SLOW": "SUP-T-SLOW",
        "ORDERFLOW_SIM_SUPPLIER_SLOW_DELAY": "120",
        "ORDERFLOW_SIM_SUPPLIER_DELAY": "0.1",
        "ORDERFLOW_SIM_SUPPLIER_DELIVERY_DELAY": "0.5",
        "ORDERFLOW_SIM_PAYMENT_NEVER_PAY": "CUST-SLOW",
    }
    settings = Settings(topic_prefix=env["ORDERFLOW_TOPIC_PREFIX"], group_prefix=env["ORDERFLOW_GROUP_PREFIX"],
                        db_prefix=env["ORDERFLOW_DB_PREFIX"])
    report = asyncio.run(ensure_topics(settings.kafka_bootstrap, settings.topic_prefix))
    assert not report.problems, report.problems
    dev_issuer.ensure_keys()             # the services verify tokens with its JWKS from start-up on
    ports = {name: _free_port() for name in SERVICES}
    stack = Stack(run_dir=ROOT / ".local" / "test-runs" / run_id, env=env, ports=ports)
    stack.start_all()
    try:
        stack.wait_ready()
        yield E2E(stack, settings, run_id)
    finally:
        stack.stop_all()
        if not os.environ.get("ORDERFLOW_KEEP_TEST_STATE"):
            asyncio.run(_drop_everything(settings))


async def _drop_everything(settings: Settings) -> None:
    await delete_topics(settings.kafka_bootstrap, settings.topic_prefix)
    admin = await asyncpg.connect(Settings(service="postgres", db_prefix="").dsn())
    try:
        for service in SERVICES:
            await admin.execute(f'DROP DATABASE IF EXISTS "{settings.db_prefix}{service}" WITH (FORCE)')
    finally:
        await admin.close()

