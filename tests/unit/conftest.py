"""Unit tests build services (routes, OpenAPI, AsyncAPI) but never connect to Kafka. A service's
Kafka client is configured with its credentials when it is built; give it one here, so that unit
tests do not depend on the files provisioning generates (a fresh clone has none)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def kafka_credentials_for_clients_that_never_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_KAFKA_PASSWORD", "unit-tests-never-connect")
