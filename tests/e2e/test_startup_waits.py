"""Services wait for their dependencies instead of dying (services/runtime/startup.py): a service
started while Kafka or PostgreSQL is unreachable answers /health/live at once, says in
/health/ready which dependency is missing, and becomes ready when it comes up; a running service
that loses its database answers 503 with Retry-After (never 500) and recovers on its own.

The "outage" is a TCP forwarder (tests/e2e/tcp_proxy.py) between one extra procurement process and
the real broker or database, so the rest of the suite keeps its infrastructure. The extra process
joins the harness's consumer group and database, as a second replica would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from services.cli.stack import Stack
from tests.e2e.conftest import ROOT, E2E
from tests.e2e.tcp_proxy import TcpProxy, free_port

SERVICE = "procurement"


@pytest.fixture
def replica(e2e: E2E) -> Iterator[tuple[Stack, dict[str, TcpProxy]]]:
    kafka_port = int(e2e.settings.kafka_bootstrap.rsplit(":", 1)[1])
    proxies = {"broker": TcpProxy(kafka_port), "database": TcpProxy(e2e.settings.pg_port)}
    stack = Stack(run_dir=ROOT / ".local" / "test-runs" / f"{e2e.run_id}-replica",
                  env={**e2e.stack.env,
                       "ORDERFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{proxies['broker'].port}",
                       "ORDERFLOW_PG_PORT": str(proxies["database"].port),
                       "ORDERFLOW_STARTUP_RETRY_MAX_SECONDS": "1"},
                  ports={SERVICE: free_port()})
    try:
        yield stack, proxies
    finally:
        stack.stop(SERVICE)
        for proxy in proxies.values():
            proxy.close()


def health(stack: Stack, which: str) -> httpx.Response:
    return httpx.get(f"{stack.url(SERVICE)}/health/{which}", timeout=5)


def wait_until(what: str, probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def requisitions(e2e: E2E, stack: Stack) -> httpx.Response:
    return httpx.get(f"{stack.url(SERVICE)}/requisitions", headers=e2e.as_user("petra"), timeout=10)


def test_started_with_kafka_down_it_becomes_ready_when_kafka_comes_up(e2e: E2E, replica) -> None:
    stack, proxies = replica
    proxies["database"].start()                       # the broker's port is not listening yet
    stack.start(SERVICE)
    assert wait_until("/health/live", lambda: health(stack, "live").status_code == 200, timeout=20)
    waiting = wait_until("the database up and the broker named as missing",
                         lambda: (r := health(stack, "ready").json()).get("database") == "ok"
                         and "waiting" in r.get("broker", "") and r)
    assert waiting["ready"] is False and "attempt" in waiting["broker"], waiting
    assert health(stack, "ready").status_code == 503 and health(stack, "ready").headers["retry-after"]
    assert requisitions(e2e, stack).status_code == 200      # reads need only the database
    time.sleep(3)
    assert stack.pid(SERVICE), "the service exited while Kafka was down:\n" + stack.tail(SERVICE)

    proxies["broker"].start()                         # Kafka "comes up" at the address it was given
    ready = wait_until("ready once Kafka answers", lambda: health(stack, "ready").status_code == 200 and
                       health(stack, "ready").json())
    assert ready["broker"] == "ok" and ready["database"] == "ok"


def test_started_with_postgres_down_it_waits_then_survives_an_outage(e2e: E2E, replica) -> None:
    stack, proxies = replica
    proxies["broker"].start()                         # the database's port is not listening yet
    stack.start(SERVICE)
    assert wait_until("/health/live", lambda: health(stack, "live").status_code == 200, timeout=20)
    waiting = wait_until("the database named as missing",
                         lambda: "waiting" in (r := health(stack, "ready").json()).get("database", "") and r)
    assert waiting["broker"] == "waiting for the database first", waiting
    early = requisitions(e2e, stack)
    assert early.status_code == 503 and early.headers["retry-after"], early.text
    assert early.json() == {"detail": "database unavailable, retry later"}

    proxies["database"].start()
    wait_until("ready once PostgreSQL answers", lambda: health(stack, "ready").status_code == 200, timeout=90)
    assert requisitions(e2e, stack).status_code == 200

    proxies["database"].stop()                        # PostgreSQL "crashes" under the running service
    down = wait_until("503 while the database is down", lambda: (r := requisitions(e2e, stack)).status_code == 503 and r)
    assert down.headers["retry-after"]
    assert health(stack, "ready").json()["database"].startswith("unreachable")
    time.sleep(2)
    assert stack.pid(SERVICE), "the service exited while PostgreSQL was down:\n" + stack.tail(SERVICE)
    assert "Exception in ASGI application" not in stack.tail(SERVICE, 400)

    proxies["database"].start()
    wait_until("ready again", lambda: health(stack, "ready").status_code == 200, timeout=60)
    assert requisitions(e2e, stack).status_code == 200
