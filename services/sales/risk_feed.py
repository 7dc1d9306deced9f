"""The company's risk feed, curated by sales: every department raises and closes its own risks on
its own events topic (`<dept>.risk_raised` / `<dept>.risk_closed`); sales keeps them for
GET /risks and copies each onto `risk.events.v1`, the one topic people and systems subscribe to.

`department` on the feed is the owner of the topic the risk came from, never the payload's claim:
the broker lets only that department write its topic, and the consumer refuses a type on any topic
but its own, so no department can raise or close a risk in another's name. A risk about an order
also lands on the order's timeline."""

from __future__ import annotations

from contracts import finance, logistics, procurement, risk, warehouse
from contracts.risk import RiskClosedShape, RiskRaisedShape
from contracts.topics import CATALOGUE
from services.runtime.consumer import Consumer
from services.runtime.outbox import Tx
from services.sales import store

RAISED = (finance.RiskRaised, warehouse.RiskRaised, logistics.RiskRaised, procurement.RiskRaised)
CLOSED = (finance.RiskClosed, warehouse.RiskClosed, logistics.RiskClosed, procurement.RiskClosed)


def _key(r: RiskRaisedShape | RiskClosedShape) -> tuple[str, str]:
    """(Kafka key, correlation id): a risk about an order stays in that order's partition; any other
    risk is keyed by its id, so that its raising and closing stay in order."""
    return r.subject.order_id or r.risk_id, r.subject.order_id or r.risk_id


async def _on_timeline(tx: Tx, r: RiskRaisedShape | RiskClosedShape) -> None:
    if tx.cause is not None and await store.order_exists(tx.conn, r.subject.order_id):
        await store.add_event_to_timeline(tx.conn, r.subject.order_id, tx.cause)


async def on_raised(tx: Tx, raised: RiskRaisedShape) -> None:
    department = CATALOGUE[raised.TOPIC].owner
    feed = risk.RiskRaised.model_validate({**raised.model_dump(), "department": department})
    await store.upsert_risk(tx.conn, feed)
    key, correlation = _key(feed)
    await tx.emit(feed, key=key, correlation_id=correlation)
    await _on_timeline(tx, raised)


async def on_closed(tx: Tx, closed: RiskClosedShape) -> None:
    department = CATALOGUE[closed.TOPIC].owner
    feed = risk.RiskClosed.model_validate({**closed.model_dump(), "department": department})
    await store.close_risk(tx.conn, feed)
    key, correlation = _key(feed)
    await tx.emit(feed, key=key, correlation_id=correlation)
    await _on_timeline(tx, closed)


def register(consumer: Consumer) -> None:
    for raised in RAISED:
        consumer.on(raised)(on_raised)
    for closed in CLOSED:
        consumer.on(closed)(on_closed)
