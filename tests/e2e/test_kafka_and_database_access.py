"""The broker and the databases enforce who may do what (issue: secure by default).

Against the real, secured broker of the suite: SASL_SSL with SCRAM-SHA-512, StandardAuthorizer with
`allow.everyone.if.no.acl.found=false`, ACLs generated from the topic catalogue; and the real
PostgreSQL server with one role per service."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import struct
import time
import uuid

import asyncpg
import pytest
from pydantic import SecretStr
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (ClusterAuthorizationFailedError, KafkaConnectionError, KafkaError,
                             TopicAuthorizationFailedError)

from contracts import finance
from contracts.topics import CATALOGUE, OUTSIDE_READER
from services.cli.stack import SERVICES
from services.provisioning.kafka import acl_diff, confluent_config
from tests.e2e.conftest import E2E

EVENT_TOPICS = sorted(name for name in CATALOGUE if name.endswith(".events.v1"))
# A producer without any write permission is already refused its idempotent producer id.
REFUSED = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)


def _host_port(e2e: E2E) -> tuple[str, int]:
    host, _, port = e2e.settings.kafka_bootstrap.rpartition(":")
    return host, int(port)


async def _write(e2e: E2E, principal: str, logical_topic: str, **overrides) -> None:
    kwargs = {**e2e.kafka(principal), **overrides}
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, request_timeout_ms=8000, **kwargs)
    try:
        await producer.start()
        await producer.send_and_wait(e2e.topic(logical_topic), b'{"forged": true}', key=b"forged")
    finally:
        await producer.stop()


async def test_a_department_cannot_publish_another_departments_events(e2e: E2E) -> None:
    # What an outsider with warehouse's credentials would need to fake a payment.
    forged = finance.PaymentReceived(order_id=str(uuid.uuid4()), invoice_number="INV-FORGED", payment_ref="forged",
                                     amount="640.00", order_paid_in_full=True)
    with pytest.raises(TopicAuthorizationFailedError):
        await e2e.publish(forged, correlation_id=forged.order_id, producer="finance", principal="warehouse")
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(e2e, "integration", "finance.events.v1")
    with pytest.raises(TopicAuthorizationFailedError):       # commands to sales come from integrations only
        await _write(e2e, "carrier", "sales.commands.v1")
    await _write(e2e, "integration", "sales.commands.v1")    # ... which may (the record is dead-lettered)


async def test_outside_reader_reads_every_event_topic_and_writes_none(e2e: E2E) -> None:
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
    consumer = AIOKafkaConsumer(group_id=f"{e2e.settings.group_prefix}{OUTSIDE_READER}.audit-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False, **e2e.kafka(OUTSIDE_READER))
    await consumer.start()
    try:
        consumer.subscribe([e2e.topic(t) for t in EVENT_TOPICS])
        seen: set[str] = set()
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=300)
            seen |= {e2e.settings.logical_topic(tp.topic) for tp in batch}
            if {"sales.events.v1", "finance.events.v1", "warehouse.events.v1", "logistics.events.v1"} <= seen:
                break
        assert {"sales.events.v1", "finance.events.v1", "warehouse.events.v1", "logistics.events.v1"} <= seen, seen
        await consumer.commit()          # its own (prefixed) consumer group
    finally:
        await consumer.stop()
    for topic in [*EVENT_TOPICS, "sales.commands.v1"]:
        with pytest.raises(REFUSED):
            await _write(e2e, OUTSIDE_READER, topic)


def _fetch_error(e2e: E2E, principal: str, logical_topic: str, assign: bool = False) -> str | None:
    """Subscribe and fetch as `principal`: the broker's error code name, or None once a record came.
    (librdkafka reports a refused subscription as an error event; aiokafka only logs it.)"""
    group = f"{e2e.settings.group_prefix}{principal}" + (".probe" if principal == OUTSIDE_READER else "")
    consumer = Consumer({**confluent_config(e2e.settings.as_principal(principal)), "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        if assign:    # read without joining the group (whose members are the running service)
            consumer.assign([TopicPartition(e2e.topic(logical_topic), p, OFFSET_BEGINNING)
                             for p in range(CATALOGUE[logical_topic].partitions)])
        else:
            consumer.subscribe([e2e.topic(logical_topic)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                return message.error().name() if message.error() else None
        raise AssertionError(f"{principal} got neither a record nor an error from {logical_topic}")
    finally:
        consumer.close()


async def test_nobody_reads_what_the_catalogue_does_not_let_them_read(e2e: E2E) -> None:
    assert await asyncio.to_thread(_fetch_error, e2e, OUTSIDE_READER, "finance.commands.v1") \
        == "TOPIC_AUTHORIZATION_FAILED"
    assert await asyncio.to_thread(_fetch_error, e2e, "warehouse", "finance.commands.v1") \
        == "TOPIC_AUTHORIZATION_FAILED"
    assert await asyncio.to_thread(_fetch_error, e2e, "carrier", "payments.requests.v1") \
        == "TOPIC_AUTHORIZATION_FAILED"
    placed = e2e.place("CUST-ACME", [("SKU-BOLT-M8", 1)])     # the control case: logistics reads carrier events
    assert e2e.wait_final(placed["order_id"])["status"] == "completed"
    assert await asyncio.to_thread(_fetch_error, e2e, "logistics", "carrier.events.v1", True) is None


async def test_wrong_password_and_no_authentication_are_refused(e2e: E2E) -> None:
    with pytest.raises(KafkaError):
        await _write(e2e, "sales", "sales.events.v1", sasl_plain_password="not-the-password")
    # TLS without SASL on the SASL_SSL listener: nobody is anonymous.
    kwargs = e2e.kafka("sales")
    anonymous = {k: v for k, v in kwargs.items() if not k.startswith("sasl_")}
    with pytest.raises(KafkaError):
        await _write(e2e, "sales", "sales.events.v1", **{**anonymous, "security_protocol": "SSL"})
    # PLAINTEXT: no answer to a Kafka request on the client port.
    host, port = _host_port(e2e)
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(_api_versions_frame())
        raw.settimeout(5)
        try:
            answer = raw.recv(64)
        except (ConnectionResetError, TimeoutError, socket.timeout):
            answer = b""
        assert answer == b"" or answer[:1] == b"\x15", answer    # closed, or a TLS alert: never a Kafka answer
    with pytest.raises((KafkaConnectionError, KafkaError)):
        await _write(e2e, "sales", "sales.events.v1", **{"bootstrap_servers": e2e.settings.kafka_bootstrap,
                                                          "security_protocol": "PLAINTEXT", "ssl_context": None,
                                                          "sasl_mechanism": "PLAIN"})


async def test_only_provisioning_administers_the_cluster(e2e: E2E) -> None:
    admin = AIOKafkaAdminClient(request_timeout_ms=8000, **e2e.kafka("sales"))
    await admin.start()
    try:
        name = f"{e2e.settings.topic_prefix}not-in-the-catalogue"
        with pytest.raises(KafkaError):
            response = await admin.create_topics([NewTopic(name, 1, 1)])
            errors = [t for t in getattr(response, "topic_errors", []) if t[1] != 0]
            if errors:
                raise KafkaError(f"refused: {errors}")
        with pytest.raises(KafkaError):
            response = await admin.delete_topics([e2e.topic("finance.events.v1")])
            errors = [t for t in getattr(response, "topic_error_codes", []) if t[1] != 0]
            if errors:
                raise KafkaError(f"refused: {errors}")
    finally:
        await admin.close()
    assert "finance.events.v1" in {e2e.settings.logical_topic(t) for t in await _topics(e2e)}


async def _topics(e2e: E2E) -> list[str]:
    admin = AIOKafkaAdminClient(**e2e.kafka("admin"))
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


async def test_the_controller_listener_takes_only_the_brokers_certificate(e2e: E2E) -> None:
    ca = e2e.settings.kafka_ca()
    if ca is None or e2e.settings.kafka_bootstrap.split(":")[0] not in ("127.0.0.1", "localhost"):
        pytest.skip("only for the local broker started by deploy/local/kafka.sh")
    config = (e2e.settings.state() / "kafka" / "server.properties").read_text()
    controller_port = int(re.search(r"^listeners=.*CONTROLLER://[^:,]+:(\d+)", config, re.M).group(1))
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", controller_port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(_api_versions_frame())   # TLS 1.3: the missing client certificate shows here
                answer = tls.recv(4)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            answer = b""
    assert answer == b"", "the controller answered a client without the broker's certificate"


def _api_versions_frame() -> bytes:
    request = struct.pack(">hhih", 18, 0, 1, 5) + b"probe"
    return struct.pack(">i", len(request)) + request


async def test_acls_on_the_broker_are_the_catalogues(e2e: E2E) -> None:
    diff = await asyncio.to_thread(acl_diff, e2e.settings, e2e.settings.topic_prefix, e2e.settings.group_prefix)
    assert diff.in_sync, (diff.missing, diff.extra)


async def test_each_service_role_opens_only_its_own_database(e2e: E2E) -> None:
    for service in SERVICES:
        own = await e2e.db(service)
        try:
            assert await own.fetchval("SELECT current_user") == f"orderflow_{service}"
            assert not await own.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        finally:
            await own.close()
        for other in SERVICES:
            if other == service:
                continue
            dsn = e2e.settings.model_copy(update={"service": service}).dsn(database=f"{e2e.settings.db_prefix}{other}")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="CONNECT"):
                await asyncpg.connect(dsn)
    wrong = e2e.settings.model_copy(update={"service": "sales", "pg_password": SecretStr("wrong")}).dsn()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)
