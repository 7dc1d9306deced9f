"""Scale-out mid-load: a second instance of a service joins its consumer group while orders flow,
takes part of the partitions (and stands by for the outbox relay), then leaves with SIGTERM. Every
order still completes, every effect happened exactly once, and the saga invariants hold."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.cli.stack import SERVICES, Stack
from tests.e2e.conftest import E2E
from tests.e2e.invariants import assert_invariants
from tests.e2e.masterdata import new_product
from tests.e2e.test_crash_recovery import assert_exactly_once


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _wait_members(e2e: E2E, service: str, count: int, timeout: float = 30.0) -> None:
    """Until the service's consumer group is stable with `count` members, as the broker sees it
    (asked as `monitor`, the principal that may describe the environment's groups)."""
    admin = AIOKafkaAdminClient(**e2e.kafka("monitor"))
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            response = (await admin.describe_consumer_groups([f"{e2e.settings.group_prefix}{service}"]))[0]
            _, _, state, _, _, members_list, *_ = response.groups[0]   # DescribeGroups: state, members
            members = len(members_list) if state == "Stable" else None
            if members == count:
                return
            assert time.monotonic() < deadline, f"{service} group has {members} members, not {count}"
            await asyncio.sleep(0.3)
    finally:
        await admin.close()


@pytest.mark.parametrize("service", ["sales", "warehouse"])
async def test_second_instance_joins_and_leaves_mid_load_exactly_once(e2e: E2E, service: str) -> None:
    sku = await new_product(e2e, stock=500)
    lines = {sku: 1}
    placed: list[str] = []
    stop = threading.Event()

    def place_steadily() -> None:      # about 5 orders/s while the group changes under it
        while not stop.is_set() and len(placed) < 150:
            placed.append(e2e.place("CUST-NORD", list(lines.items()))["order_id"])
            time.sleep(0.2)

    second = Stack(run_dir=e2e.stack.run_dir / f"second-{service}", env=e2e.stack.env,
                   ports={name: _free_port() for name in SERVICES})
    placer = threading.Thread(target=place_steadily, name="placer")
    placer.start()
    try:
        e2e.wait_for("orders flowing", lambda: len(placed) >= 10, timeout=30)
        second.start(service)
        second.wait_ready((service,))
        await _wait_members(e2e, service, 2)
        joined_at = len(placed)
        e2e.wait_for("orders placed while both run", lambda: len(placed) >= joined_at + 15, timeout=30)
        assert second.stop(service)                     # SIGTERM: drains, leaves the group
        left_at = len(placed)
        e2e.wait_for("orders placed after it left", lambda: len(placed) >= left_at + 10, timeout=30)
    finally:
        stop.set()
        placer.join()
        second.stop(service, kill=True)
    await _wait_members(e2e, service, 1)

    finals = [e2e.wait_final(order_id, timeout=120) for order_id in placed]
    assert [o["status"] for o in finals] == ["completed"] * len(placed), \
        {o["order_id"]: o["status"] for o in finals if o["status"] != "completed"}
    for order_id in placed:
        await assert_exactly_once(e2e, order_id, lines)
    timeline = await e2e.rows("sales", "SELECT order_id, count(*) n FROM order_timeline WHERE kind = 'status'"
                                       " AND type = 'completed' AND order_id::text = ANY($1) GROUP BY order_id", placed)
    assert {str(r["order_id"]): r["n"] for r in timeline} == {order_id: 1 for order_id in placed}
    await assert_invariants(e2e, placed, [sku])
