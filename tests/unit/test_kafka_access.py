"""Kafka client security settings and the ACLs generated from the topic catalogue (pure, no I/O)."""

from __future__ import annotations

import os
import ssl
import subprocess

import pytest

from contracts.topics import CATALOGUE, OUTSIDE_READER, topics_read_by
from services.runtime.config import Settings
from services.runtime.kafka_acl import MONITOR, acl_bindings, bindings_by_principal, kafka_principals
from services.runtime.kafka_security import client_kwargs, faststream_security, java_client_properties


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("ORDERFLOW_"):
            monkeypatch.delenv(name)


def _granted(principal: str, operation: str, resource_type: str = "topic", prefix: str = "") -> set[str]:
    return {b.resource_name for b in acl_bindings(prefix, prefix)
            if b.principal == principal and b.operation == operation and b.resource_type == resource_type}


def test_writers_may_write_exactly_their_topics():
    for principal in kafka_principals():
        expected = {spec.name for spec in CATALOGUE.values() if principal in spec.writers}
        assert _granted(principal, "Write") == expected, principal
        idempotent = _granted(principal, "IdempotentWrite", "cluster")
        assert idempotent == ({"kafka-cluster"} if expected else set()), principal


def test_readers_read_exactly_what_they_subscribe_to_in_their_own_group():
    for service in ("sales", "procurement", "warehouse", "logistics", "finance", "carrier", "payments", "supplier"):
        assert _granted(service, "Read") == set(topics_read_by(service)), service
        assert _granted(service, "Read", "group") == {service}


def test_department_events_are_written_only_by_their_department():
    for dept in ("sales", "procurement", "warehouse", "logistics", "finance"):
        writers = {b.principal for b in acl_bindings() if b.operation == "Write"
                   and b.resource_name == f"{dept}.events.v1"}
        assert writers == {dept}


def test_outside_reader_reads_every_event_topic_and_writes_nothing():
    events = {name for name in CATALOGUE if name.endswith(".events.v1")}
    assert _granted(OUTSIDE_READER, "Read") == events
    assert not _granted(OUTSIDE_READER, "Write") and not _granted(OUTSIDE_READER, "IdempotentWrite", "cluster")
    groups = [b for b in bindings_by_principal()[OUTSIDE_READER] if b.resource_type == "group"]
    assert [(g.resource_name, g.pattern_type) for g in groups] == [(OUTSIDE_READER, "prefixed")]


def test_monitor_only_describes():
    assert {b.operation for b in bindings_by_principal()[MONITOR]} == {"Describe"}
    assert {(b.resource_type, b.resource_name, b.pattern_type) for b in bindings_by_principal("t1.", "g1.")[MONITOR]} \
        == {("topic", "t1.", "prefixed"), ("group", "g1.", "prefixed")}


def test_prefixes_scope_every_topic_and_group_binding():
    for b in acl_bindings("run7.", "grp7."):
        if b.resource_type == "topic":
            assert b.resource_name.startswith("run7.")
        elif b.resource_type == "group":
            assert b.resource_name.startswith("grp7.")


def test_super_users_get_no_acls():
    assert not {"admin", "broker"} & {b.principal for b in acl_bindings()}


def _ca(tmp_path):
    key, crt = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=test CA", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    return crt


def test_client_kwargs_sasl_ssl(tmp_path):
    ca = _ca(tmp_path)
    settings = Settings(service="finance", kafka_password="pw", kafka_ca_file=ca, kafka_bootstrap="kafka:9093")
    kwargs = client_kwargs(settings)
    assert kwargs["bootstrap_servers"] == "kafka:9093" and kwargs["security_protocol"] == "SASL_SSL"
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) \
        == ("SCRAM-SHA-512", "finance", "pw")
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext) and kwargs["ssl_context"].check_hostname
    security = faststream_security(settings)
    assert type(security).__name__ == "SASLScram512" and security.use_ssl


def test_java_client_properties(tmp_path):
    ca = _ca(tmp_path)
    text = java_client_properties(Settings(service="sales", kafka_password="pw", kafka_ca_file=ca))
    assert "security.protocol=SASL_SSL" in text and "sasl.mechanism=SCRAM-SHA-512" in text
    assert 'username="sales" password="pw";' in text and f"ssl.truststore.location={ca}" in text
