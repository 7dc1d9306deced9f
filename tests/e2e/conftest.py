"""End-to-end harness: a whole orderflow stack (5 services + 3 simulators as real processes)
against the real, secured Kafka broker (SASL_SSL, ACLs) and PostgreSQL server (a role per service).

Each test session gets its own topic prefix, consumer-group prefix, databases and HTTP ports, so
it never touches the demo stack from `make up` and leaves nothing behind (topics, their ACLs and
databases are dropped at the end). The infrastructure itself is started by `deploy/local/*.sh`
(idempotent) and provisioned like any environment (`services/provisioning`); endpoints given in
the environment (ORDERFLOW_KAFKA_BOOTSTRAP, ORDERFLOW_PG_*) are used as is. The tests use the same
identities as the services: a message "from finance" is written with finance's credentials.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
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
from contracts.topics import CATALOGUE
from services.cli.client import resolve_token
from services.cli.stack import SERVICES, Stack
from services.provisioning.kafka import (delete_environment_acls, delete_environment_groups, delete_topics,
                                         provision_kafka)
from services.provisioning.postgres import drop_databases, provision_databases
from services.runtime import dev_issuer, roles
from services.runtime.config import Settings
from services.runtime.kafka_security import client_kwargs
from tests.e2e.infra import Infra, select_mode, start as start_infra

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"completed", "rejected", "cancelled"}
# Test customers (tests/e2e/masterdata.new_customer) whose bills the payment simulator never pays:
# bank statements and dunning decide what happens to them.
NEVER_PAYING = ("CUST-T-DUNWAIT", "CUST-T-DUNREJ", "CUST-T-BANK")
RUNNER = "e2e-runner"            # the harness's own user: places orders, operates, reads everything
RUNNER_ROLES = [roles.CLERK, roles.OPERATOR, roles.AUDITOR]


def _free_port() -> int:
    """A port nobody listens on now, so that a stale or parallel stack can never answer for ours."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _infra_up() -> Infra:
    """ORDERFLOW_TEST_INFRA=auto|local|testcontainers|external, see tests/e2e/infra.py."""
    infra = start_infra(select_mode(os.environ))
    os.environ.update(infra.env)      # Settings() here and every service process read these
    return infra


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
        """A connection to a department's database, as that department's own role."""
        return await asyncpg.connect(self.settings.model_copy(update={"service": service}).dsn())

    async def rows(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.db(service)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    # --- raw Kafka access ---------------------------------------------------------------------

    def topic(self, logical: str) -> str:
        return self.settings.topic(logical)

    def kafka(self, principal: str) -> dict[str, Any]:
        """aiokafka client settings for one of the environment's Kafka principals."""
        return client_kwargs(self.settings.as_principal(principal))

    async def publish_raw(self, logical_topic: str, value: bytes, key: bytes | None = None,
                          headers: list[tuple[str, bytes]] | None = None, principal: str | None = None) -> None:
        """Write one record, by default as the topic's first allowed writer (per the catalogue)."""
        principal = principal or sorted(CATALOGUE[logical_topic].writers)[0]
        producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **self.kafka(principal))
        await producer.start()
        try:
            await producer.send_and_wait(self.topic(logical_topic), value, key=key, headers=headers)
        finally:
            await producer.stop()

    async def publish(self, message: Message, *, correlation_id: str, producer: str = "integration",
                      envelope: Envelope | None = None, principal: str | None = None) -> Envelope:
        envelope = envelope or Envelope.wrap(message, correlation_id=correlation_id, producer=producer)
        body = envelope.model_dump(mode="json")
        await self.publish_raw(message.TOPIC, json.dumps(body).encode(), key=correlation_id.encode(),
                               headers=[(k, v.encode()) for k, v in kafka_headers(body).items()], principal=principal)
        return envelope

    async def read_topic(self, logical_topic: str, *, until: Any = None, timeout: float = 20.0,
                         principal: str = "admin") -> list[dict]:
        """Every record on the topic from the beginning (JSON bodies), until `until(records)` is true.
        Read as `admin` unless a principal is given (tests inspect any topic)."""
        consumer = AIOKafkaConsumer(self.topic(logical_topic), auto_offset_reset="earliest", enable_auto_commit=False,
                                    group_id=None, **self.kafka(principal))
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
    infra = _infra_up()
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
        # Review, decisions and late carriers (tests/e2e/test_review_and_risk.py).
        "ORDERFLOW_REVIEW_DECISION_SECONDS": "20",      # a silent sales manager: the default applies
        "ORDERFLOW_DECISION_SECONDS": "300",            # decisions are taken by the tests, never by default
        "ORDERFLOW_SIM_SUPPLIER_LATE": "SUP-T-LATE",
        "ORDERFLOW_SIM_SUPPLIER_LATE_DELAY": "15",
        "ORDERFLOW_SIM_CARRIER_LATE": "T-LATE",         # a test carrier that never collects
        "ORDERFLOW_SIM_CARRIER_LATE_ETA_SECONDS": "2",
        "ORDERFLOW_CARRIER_SWEEP_SECONDS": "0.5",
        "ORDERFLOW_CARRIER_ETA_GRACE_SECONDS": "1",
        "ORDERFLOW_SIM_PAYMENT_NEVER_PAY": ",".join(("CUST-SLOW", *NEVER_PAYING)),
        # Credit control in seconds: reminder levels 1 s, 2 s (fee) and 3 s (fee + interest) after the due
        # date, credit hold 3.5 s after it (test customers with 0 days' terms, see masterdata.new_customer).
        "ORDERFLOW_DUNNING_LEVELS": '[{"name": "reminder", "after_seconds": 1},'
                                    ' {"name": "second reminder", "after_seconds": 2, "fee": "5.00"},'
                                    ' {"name": "final notice", "after_seconds": 3, "fee": "10.00",'
                                    ' "interest_rate_pct": "8"}]',
        "ORDERFLOW_DUNNING_SWEEP_SECONDS": "0.5",
        "ORDERFLOW_CREDIT_HOLD_OVERDUE_SECONDS": "3.5",
        # Feedback can be changed for 4 s; stock valued every 2 s (inventory turnover); KPI gauges every 10 s.
        "ORDERFLOW_FEEDBACK_EDIT_SECONDS": "4",
        "ORDERFLOW_STOCK_VALUATION_SECONDS": "2",
        "ORDERFLOW_KPI_REFRESH_SECONDS": "10",
    }
    settings = Settings(topic_prefix=env["ORDERFLOW_TOPIC_PREFIX"], group_prefix=env["ORDERFLOW_GROUP_PREFIX"],
                        db_prefix=env["ORDERFLOW_DB_PREFIX"])
    report = asyncio.run(provision_kafka(settings, topic_prefix=settings.topic_prefix,
                                         group_prefix=settings.group_prefix))
    assert not report.topics.problems, report.topics.problems
    asyncio.run(provision_databases(settings))
    dev_issuer.ensure_keys()             # the services verify tokens with its JWKS from start-up on
    ports = {name: _free_port() for name in SERVICES}
    env["ORDERFLOW_NOTIFIER_PORT"] = str(_free_port())      # the tests read what it sent on its /metrics
    stack = Stack(run_dir=ROOT / ".local" / "test-runs" / run_id, env=env, ports=ports)
    stack.start_all()
    try:
        stack.wait_ready()
        yield E2E(stack, settings, run_id)
    finally:
        stack.stop_all()
        if not os.environ.get("ORDERFLOW_KEEP_TEST_STATE"):
            asyncio.run(_drop_everything(settings))
        infra.stop()


async def _drop_everything(settings: Settings) -> None:
    await delete_topics(settings, settings.topic_prefix)
    await asyncio.to_thread(delete_environment_groups, settings, settings.group_prefix)
    await asyncio.to_thread(delete_environment_acls, settings, settings.topic_prefix, settings.group_prefix)
    await drop_databases(settings, settings.db_prefix)

