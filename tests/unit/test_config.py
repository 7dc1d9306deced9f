"""Settings from the environment (services/runtime/config.py)."""

from __future__ import annotations

import os

import pytest

from services.runtime.config import DEFAULT_HTTP_PORTS, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("ORDERFLOW_"):
            monkeypatch.delenv(name)


def test_default_ports():
    assert DEFAULT_HTTP_PORTS == {"sales": 8081, "procurement": 8082, "warehouse": 8083,
                                  "logistics": 8084, "finance": 8085}
    assert [Settings(service=s).port() for s in ("sales", "procurement", "warehouse", "logistics", "finance")] \
        == [8081, 8082, 8083, 8084, 8085]
    assert Settings(service="other").port() == 8090


def test_service_port_override(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_SALES_PORT", "9001")
    assert Settings(service="sales").port() == 9001
    assert Settings(service="finance").port() == 8085     # only sales is affected


def test_service_port_beats_generic_http_port(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_HTTP_PORT", "7000")
    assert Settings(service="sales").port() == 7000
    monkeypatch.setenv("ORDERFLOW_SALES_PORT", "9001")
    assert Settings(service="sales").port() == 9001


def test_service_from_env(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_SERVICE", "logistics")
    monkeypatch.setenv("ORDERFLOW_LOGISTICS_PORT", "9004")
    settings = Settings()
    assert settings.service == "logistics" and settings.port() == 9004 and settings.group_id() == "logistics"


def test_default_dsn():
    assert Settings(service="sales").dsn() == "postgresql://orderflow:orderflow@127.0.0.1:5433/orderflow_sales"


def test_pg_settings_from_env(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_PG_HOST", "db")
    monkeypatch.setenv("ORDERFLOW_PG_PORT", "5432")
    monkeypatch.setenv("ORDERFLOW_DB_PREFIX", "of_")
    assert Settings(service="finance").dsn() == "postgresql://orderflow:orderflow@db:5432/of_finance"


def test_service_database_url_override(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_DATABASE_URL", "postgresql://generic/db")
    monkeypatch.setenv("ORDERFLOW_SALES_DATABASE_URL", "postgresql://u:p@sales-db/sales")
    assert Settings(service="sales").dsn() == "postgresql://u:p@sales-db/sales"
    assert Settings(service="finance").dsn() == "postgresql://generic/db"


def test_topic_prefix_mapping(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("ORDERFLOW_GROUP_PREFIX", "staging-")
    settings = Settings(service="sales")
    assert settings.topic("finance.events.v1") == "staging.finance.events.v1"
    assert settings.logical_topic("staging.finance.events.v1") == "finance.events.v1"
    assert settings.logical_topic("finance.events.v1") == "finance.events.v1"   # not ours: unchanged
    assert settings.group_id() == "staging-sales"


def test_no_prefix_is_identity():
    settings = Settings(service="sales")
    assert settings.topic("sales.events.v1") == "sales.events.v1"
    assert settings.logical_topic("sales.events.v1") == "sales.events.v1"
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
