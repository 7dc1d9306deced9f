"""Settings from the environment (services/runtime/config.py)."""

from __future__ import annotations

import os

import pytest

from services.runtime.config import DEFAULT_HTTP_PORTS, MissingSecret, Settings


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


def _secret(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")


def test_default_dsn_uses_the_services_own_role_and_its_generated_password(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERFLOW_HOME", str(tmp_path))
    _secret(tmp_path / ".local/postgres/roles/orderflow_sales.password", "s3cret")
    assert Settings(service="sales").dsn() == "postgresql://orderflow_sales:s3cret@127.0.0.1:5433/orderflow_sales"


def test_pg_settings_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERFLOW_PG_HOST", "db")
    monkeypatch.setenv("ORDERFLOW_PG_PORT", "5432")
    monkeypatch.setenv("ORDERFLOW_DB_PREFIX", "of_")
    monkeypatch.setenv("ORDERFLOW_PG_USER", "fin")
    monkeypatch.setenv("ORDERFLOW_PG_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("ORDERFLOW_PG_SSLMODE", "verify-full")
    _secret(tmp_path / "pw", "p@ss/word")
    assert Settings(service="finance").dsn() == "postgresql://fin:p%40ss%2Fword@db:5432/of_finance?sslmode=verify-full"


def test_missing_secret_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERFLOW_HOME", str(tmp_path))
    with pytest.raises(MissingSecret, match="orderflow_sales.*orderflow provision"):
        Settings(service="sales").dsn()
    with pytest.raises(MissingSecret, match="Kafka password of principal 'sales'"):
        Settings(service="sales").kafka_secret()


def test_secrets_never_show_in_a_settings_dump(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_KAFKA_PASSWORD", "kafka-secret-1")
    monkeypatch.setenv("ORDERFLOW_PG_PASSWORD", "pg-secret-2")
    settings = Settings(service="sales")
    assert settings.kafka_secret() == "kafka-secret-1" and settings.db_password() == "pg-secret-2"
    assert "secret" not in repr(settings) and "secret" not in str(settings.model_dump())


def test_kafka_defaults_are_secured_and_per_principal(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERFLOW_HOME", str(tmp_path))
    _secret(tmp_path / ".local/kafka/users/sales.password", "sales-pw")
    _secret(tmp_path / ".local/kafka/users/monitor.password", "monitor-pw")
    _secret(tmp_path / ".local/kafka/tls/ca.crt", "not a real certificate")
    settings = Settings(service="sales")
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_principal() == "sales" and settings.kafka_secret() == "sales-pw"
    assert settings.kafka_ca() == tmp_path / ".local/kafka/tls/ca.crt"
    monitor = settings.as_principal("monitor")
    assert monitor.kafka_principal() == "monitor" and monitor.kafka_secret() == "monitor-pw"


def test_explicit_kafka_credentials_win(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERFLOW_KAFKA_USERNAME", "svc-sales")
    monkeypatch.setenv("ORDERFLOW_KAFKA_PASSWORD_FILE", str(tmp_path / "mounted"))
    monkeypatch.setenv("ORDERFLOW_KAFKA_SASL_MECHANISM", "PLAIN")
    _secret(tmp_path / "mounted", "from-a-mounted-secret")
    settings = Settings(service="sales")
    assert settings.kafka_principal() == "svc-sales" and settings.kafka_secret() == "from-a-mounted-secret"
    assert settings.as_principal("svc-sales") is settings


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
