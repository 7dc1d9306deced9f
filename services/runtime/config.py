"""Settings from environment variables (prefix ORDERFLOW_), with defaults for the local stack."""

from __future__ import annotations

import os

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HTTP_PORTS = {
    "sales": 8081,
    "procurement": 8082,
    "warehouse": 8083,
    "logistics": 8084,
    "finance": 8085,
}


class Settings(BaseSettings):
    """Shared settings. A department subclasses it for its own knobs."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", extra="ignore")

    service: str = ""
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""            # e.g. "staging." — lets several environments share a cluster
    group_prefix: str = ""            # consumer-group prefix, same idea

    pg_host: str = "127.0.0.1"
    pg_port: int = 5433
    pg_user: str = "orderflow"
    pg_password: str = "orderflow"
    db_prefix: str = "orderflow_"
    database_url: str | None = None   # ORDERFLOW_<SERVICE>_DATABASE_URL wins, see dsn()
    db_pool_size: int = 10

    http_host: str = "127.0.0.1"
    http_port: int | None = None      # ORDERFLOW_<SERVICE>_PORT wins, see port()

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

    def dsn(self) -> str:
        explicit = self._service_env("DATABASE_URL") or self.database_url
        if explicit:
            return explicit
        return (f"postgresql://{self.pg_user}:{self.pg_password}@{self.pg_host}:{self.pg_port}/"
                f"{self.db_prefix}{self.service}")

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
