"""Settings from environment variables (prefix ORDERFLOW_), with defaults for the local stack.

Secrets (Kafka and PostgreSQL passwords) come from the environment or from files (`*_FILE`, the
way container platforms mount secrets); locally they default to the files that provisioning
generated under the state directory (`$ORDERFLOW_HOME/.local`). They are `SecretStr`, so a settings
dump or a log line never shows them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_HTTP_PORTS = {
    "sales": 8081,
    "procurement": 8082,
    "warehouse": 8083,
    "logistics": 8084,
    "finance": 8085,
}


class MissingSecret(RuntimeError):
    """A credential is neither in the environment nor in the file it should be in."""


def read_secret(path: Path, what: str) -> str:
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise MissingSecret(f"{what}: cannot read {path} ({exc.strerror}); set it in the environment or run "
                            f"provisioning (`orderflow provision`)") from None
    if not value:
        raise MissingSecret(f"{what}: {path} is empty")
    return value


class Settings(BaseSettings):
    """Shared settings. A department subclasses it for its own knobs."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", extra="ignore")

    service: str = ""
    home: Path = REPO_ROOT            # ORDERFLOW_HOME: where .local/ (state, generated secrets) lives
    state_dir: Path | None = None     # default: <home>/.local

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["SASL_SSL", "SSL", "SASL_PLAINTEXT", "PLAINTEXT"] = "SASL_SSL"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str = ""          # default: the service's own principal
    kafka_password: SecretStr | None = None
    kafka_password_file: Path | None = None   # default: <state>/kafka/users/<username>.password
    kafka_ca_file: Path | None = None         # default: <state>/kafka/tls/ca.crt when it exists, else system CAs
    kafka_check_hostname: bool = True
    topic_prefix: str = ""            # e.g. "staging." — lets several environments share a cluster
    group_prefix: str = ""            # consumer-group prefix, same idea

    pg_host: str = "127.0.0.1"
    pg_port: int = 5433
    pg_user: str = ""                 # default: orderflow_<service>, the service's own role
    pg_password: SecretStr | None = None
    pg_password_file: Path | None = None      # default: <state>/postgres/roles/<user>.password
    pg_sslmode: str | None = None     # e.g. verify-full when PostgreSQL is on another host
    db_prefix: str = "orderflow_"
    database_url: SecretStr | None = None     # ORDERFLOW_<SERVICE>_DATABASE_URL wins, see dsn()
    db_pool_size: int = 10

    http_host: str = "127.0.0.1"
    http_port: int | None = None      # ORDERFLOW_<SERVICE>_PORT wins, see port()
    http_trusted_proxies: str = ""    # addresses whose X-Forwarded-For is believed (audit source address)
    metrics_public: bool = True       # /metrics without a token, for Prometheus; false: operator/auditor token
    http_max_body_bytes: int = 1_048_576      # larger request bodies are refused with 413

    # Start-up waits for PostgreSQL and Kafka instead of exiting (services/runtime/startup.py).
    startup_retry_initial_seconds: float = 0.5
    startup_retry_max_seconds: float = 15.0
    startup_max_wait_seconds: float = 0.0     # 0: wait forever; else give up (exit 1) after this long

    relay_batch_size: int = 500
    relay_poll_seconds: float = 1.0   # fallback when no NOTIFY arrives
    handler_max_attempts: int = 5     # then the message goes to the dead-letter topic
    consumer_batch_size: int = 100    # records applied in one DB transaction / one offset commit
    # Batching under moderate load and group membership (services/runtime/offsets.py).
    consumer_fetch_min_bytes: int = 1
    consumer_fetch_max_wait_ms: int = 500
    consumer_heartbeat_ms: int = 500  # how soon a member notices a rebalance (the eager stall)
    consumer_commit_interval_ms: int = 0          # >0: applied batches' offsets at most this often
    instance_id: str = ""             # set -> static group membership (group_instance_id)
    inbox_retention_seconds: float = 8 * 86400   # longer than any topic's retention (7 days)
    inbox_prune_seconds: float = 300.0
    shutdown_grace_seconds: float = 15.0

    def _service_env(self, suffix: str) -> str | None:
        return os.environ.get(f"ORDERFLOW_{self.service.upper()}_{suffix}")

    def state(self) -> Path:
        return self.state_dir or self.home / ".local"

    # --- PostgreSQL ------------------------------------------------------------------------------

    def db_role(self) -> str:
        return self.pg_user or f"orderflow_{self.service}"

    def db_name(self) -> str:
        return f"{self.db_prefix}{self.service}"

    def db_password(self) -> str:
        if self.pg_password is not None:
            return self.pg_password.get_secret_value()
        path = self.pg_password_file or self.state() / "postgres" / "roles" / f"{self.db_role()}.password"
        return read_secret(path, f"PostgreSQL password of role {self.db_role()}")

    def dsn(self, database: str | None = None) -> str:
        """Connection URL of this service's database (or `database` on the same server). Holds the
        password: never log it (db.redact)."""
        explicit = self._service_env("DATABASE_URL") or (
            self.database_url.get_secret_value() if self.database_url else None)
        if explicit:
            return explicit
        url = (f"postgresql://{quote(self.db_role(), safe='')}:{quote(self.db_password(), safe='')}"
               f"@{self.pg_host}:{self.pg_port}/{database or self.db_name()}")
        return f"{url}?sslmode={self.pg_sslmode}" if self.pg_sslmode else url

    # --- Kafka -----------------------------------------------------------------------------------

    def kafka_principal(self) -> str:
        return self.kafka_username or self.service

    def kafka_secret(self) -> str:
        if self.kafka_password is not None:
            return self.kafka_password.get_secret_value()
        path = self.kafka_password_file or self.state() / "kafka" / "users" / f"{self.kafka_principal()}.password"
        return read_secret(path, f"Kafka password of principal {self.kafka_principal()!r}")

    def kafka_ca(self) -> Path | None:
        if self.kafka_ca_file:
            return self.kafka_ca_file
        local = self.state() / "kafka" / "tls" / "ca.crt"
        return local if local.exists() else None

    def as_principal(self, principal: str) -> "Settings":
        """The same environment seen by another Kafka principal (e.g. the CLI acting as `admin` or
        `monitor`): its password comes from its own local file unless this settings object was
        configured for exactly that principal."""
        if self.kafka_username == principal:
            return self
        return self.model_copy(update={"kafka_username": principal, "kafka_password": None,
                                       "kafka_password_file": None})

    # --- HTTP, topics, groups ----------------------------------------------------------------------

    def port(self) -> int:
        explicit = self._service_env("PORT")
        if explicit:
            return int(explicit)
        return self.http_port or DEFAULT_HTTP_PORTS.get(self.service, 8090)

    def topic(self, logical: str) -> str:
        """Physical topic name for a catalogue name."""
        return f"{self.topic_prefix}{logical}"

    def logical_topic(self, physical: str) -> str:
        return physical[len(self.topic_prefix):] if physical.startswith(self.topic_prefix) else physical

    def group_id(self) -> str:
        return f"{self.group_prefix}{self.service}"
