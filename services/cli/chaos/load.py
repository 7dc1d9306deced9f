"""Mixed orders at a steady rate through the public API, as clients would place them while things
break: every request is retried (same `external_ref`, so a retry never doubles an order) until
sales answers, and the client remembers what it was told."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

CUSTOMERS = ("CUST-ACME", "CUST-NORD", "CUST-BOLT")
PLENTIFUL = ("SKU-BOLT-M8", "SKU-GEAR-40", "SKU-MOTOR-1K")
SCARCE = "SKU-VALVE-3"                     # 4 on the shelf: partial shipments and purchases
RETRY_FOR_SECONDS = 300.0                   # longer than any outage the run causes


@dataclass
class Placed:
    ref: str
    kind: str
    order_id: str | None = None
    answered: str = ""                      # "201", "200 (retry found it)", or why it never was


@dataclass
class LoadResult:
    placed: list[Placed] = field(default_factory=list)
    actions: Counter = field(default_factory=Counter)   # approve/cancel/change outcomes
    retries: int = 0

    @property
    def accepted(self) -> list[Placed]:
        return [p for p in self.placed if p.order_id]


def order_kind(rng: random.Random) -> str:
    return rng.choices(("standard", "ship_partial", "prepaid_at_order", "prepaid_before_shipment", "sample"),
                       weights=(60, 10, 12, 10, 8))[0]


def order_body(kind: str, ref: str, rng: random.Random) -> dict[str, Any]:
    skus = rng.sample(PLENTIFUL, rng.randint(1, 2))
    lines = [{"sku": sku, "quantity": rng.randint(1, 3)} for sku in skus]
    body: dict[str, Any] = {"customer_id": rng.choice(CUSTOMERS), "lines": lines, "external_ref": ref}
    if kind == "ship_partial":
        body.update(fulfilment_policy="ship_partial", lines=[*lines, {"sku": SCARCE, "quantity": rng.randint(2, 6)}])
    elif kind == "prepaid_at_order":
        body.update(order_type="prepaid_at_order", payment_method="card")
    elif kind == "prepaid_before_shipment":
        body.update(order_type="prepaid_before_shipment", payment_method="bank_transfer")
    elif kind == "sample":
        body.update(order_type="sample", lines=[{"sku": skus[0], "quantity": 1}])
    return body


class Load:
    def __init__(self, sales_url: str, token: str, *, orders: int, rate: float, run: str, rng: random.Random,
                 cancel_share: float = 0.03, change_share: float = 0.025) -> None:
        self.sales = sales_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.orders, self.rate, self.run_id, self.rng = orders, rate, run, rng
        self.cancel_share, self.change_share = cancel_share, change_share
        self.result = LoadResult()
        self.done = 0

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> httpx.Response | None:
        """Retried through connection errors and 5xx (503 while the database is down) with backoff."""
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        pause = 0.5
        while True:
            try:
                response = await client.request(method, f"{self.sales}{path}", json=body, headers=self.headers,
                                                timeout=15)
                if response.status_code < 500:
                    return response
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return None
            self.result.retries += 1
            await asyncio.sleep(pause * self.rng.uniform(0.8, 1.2))
            pause = min(pause * 2, 5.0)

    async def _one(self, client: httpx.AsyncClient, index: int, gate: asyncio.Semaphore) -> None:
        kind = order_kind(self.rng)
        ref = f"chaos-{self.run_id}-{index:06d}"
        body = order_body(kind, ref, self.rng)
        follow = self.rng.random()
        placed = Placed(ref, kind)
        self.result.placed.append(placed)
        async with gate:
            response = await self._call(client, "POST", "/orders", body)
            if response is None:
                placed.answered = "sales did not answer in time"
            elif response.status_code in (200, 201):
                placed.order_id, placed.answered = response.json()["order_id"], str(response.status_code)
            else:
                placed.answered = f"{response.status_code}: {response.text[:200]}"
        if not placed.order_id:
            return
        if kind == "sample":
            await self._act(client, placed, "approve", None)
        if follow < self.cancel_share:
            await asyncio.sleep(self.rng.uniform(0, 3))
            await self._act(client, placed, "cancel", {"reason": "chaos: the customer changed their mind"})
        elif follow < self.cancel_share + self.change_share:
            await asyncio.sleep(self.rng.uniform(0.5, 3))
            line = body["lines"][0]
            await self._act(client, placed, "changes", {"lines": [{"sku": line["sku"], "quantity": line["quantity"] + 1}]})

    async def _act(self, client: httpx.AsyncClient, placed: Placed, action: str, body: Any) -> None:
        """A change is refused (409) while a step is in flight, an approval while the order is still
        in the departments' review: a client asks again for a while, as a person would."""
        for _ in range(10 if action == "changes" else 60 if action == "approve" else 1):
            response = await self._call(client, "POST", f"/orders/{placed.order_id}/{action}", body)
            if response is None or response.status_code != 409 or not _not_yet(response.text):
                break
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))
        self.result.actions[f"{action} {response.status_code if response is not None else 'unanswered'}"] += 1

    async def run(self) -> LoadResult:
        """Place `orders` at `rate` per second (a late start does not bunch up: pacing is by schedule)."""
        gate = asyncio.Semaphore(64)
        start = time.monotonic()
        limits = httpx.Limits(max_connections=80, max_keepalive_connections=40)
        async with httpx.AsyncClient(limits=limits) as client:
            tasks = []
            for index in range(self.orders):
                delay = start + index / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self._one(client, index, gate)))
            await asyncio.gather(*tasks)
        return self.result


def _not_yet(refusal: str) -> bool:
    """A 409 that will pass once the order moves on (a step in flight, the review not yet settled)."""
    return "in flight" in refusal or refusal.startswith('{"detail":"order is in_review')
