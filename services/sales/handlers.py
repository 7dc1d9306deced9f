"""Sales message handling: order intake, the saga reacting to every department's events, and the
deadline job. Every department event about an order lands on its timeline; the saga (saga/)
decides what happens next; `apply` persists that decision and emits its messages through the
outbox in the same transaction."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from decimal import Decimal

import asyncpg
from pydantic import ValidationError

from contracts import sales, warehouse
from contracts.common import BASE_CURRENCY
from contracts.envelope import Message
from contracts.topics import CATALOGUE
from services.runtime.consumer import Consumer
from services.runtime.outbox import Tx
from services.sales import intake, notifications, saga, store
from services.sales.saga import Order, Status, Timings

log = logging.getLogger(__name__)
EXPLAINED_BY_REASON = {Status.CANCELLING, Status.CANCELLED, Status.REJECTED}
review_policy = saga.ReviewPolicy()      # what makes an order major or special; app.py sets it from the settings


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


async def place_order(tx: Tx, request: intake.OrderRequest, *, channel: str, timings: Timings) -> tuple[Order, bool]:
    """Record a new order and start its saga. Returns (order, created); a repeated external_ref
    returns the existing order. Raises IntakeError for unknown customer or SKUs."""
    if request.external_ref:
        existing = await store.find_by_external_ref(tx.conn, channel, request.external_ref)
        if existing:
            return await store.lock(tx.conn, existing), False
    address = request.delivery_address or await store.customer_address(tx.conn, request.customer_id)
    currency = await store.customer_currency(tx.conn, request.customer_id) or BASE_CURRENCY
    prices = await store.price_list(tx.conn, currency, [line.sku for line in request.lines])
    lines = intake.price_lines(request, prices, customer_known=address is not None, currency=currency)
    assert address is not None
    facts = await store.review_facts(tx.conn, request.customer_id, [line.sku for line in lines])
    reasons = saga.joint_review_reasons(saga.Candidate(
        total=sum((line.unit_price * line.quantity for line in lines), Decimal("0.00")),
        currency=currency, today=dt.date.today(), special=request.special,
        special_reason=request.special_reason, requested_delivery_date=request.requested_delivery_date,
        requested_terms=request.payment_terms_days, **facts), review_policy)
    order = Order(
        order_id=str(uuid.uuid4()), number=await store.next_number(tx.conn), customer_id=request.customer_id,
        order_type=request.order_type, payment_method=request.payment_method,
        fulfilment_policy=request.fulfilment_policy, lines=tuple(lines), address=address,
        requested_delivery_date=request.requested_delivery_date, payment_terms_days=request.payment_terms_days,
        review=saga.plan(reasons), currency=currency,
        fx_rate=await store.exchange_rate(tx.conn, currency),
    )
    by = tx.initiator
    timeline = [store.timeline_row(order.order_id, department="sales", kind="status", type_="received",
                                   detail={"channel": channel, "total": str(order.total)})]
    if by:
        timeline.insert(0, store.timeline_row(order.order_id, department="sales", kind="action", type_="place",
                                              initiated_by=by, detail={"user": by.subject, "name": by.name,
                                                                       "role": by.role, "order_number": order.number}))
    await tx.emit(sales.OrderPlaced(
        order_id=order.order_id, order_number=order.number, customer_id=order.customer_id,
        order_type=order.order_type, lines=list(order.lines), total=order.total, channel=channel,
        currency=order.currency), key=order.order_id, correlation_id=order.order_id)
    order = await apply(tx, order, saga.start(order, now(), timings), timings, timeline,
                        new_order=(channel, request.external_ref, by.subject if by else None))
    return order, True


async def apply(tx: Tx, before: Order, decision: saga.Decision, timings: Timings,
                timeline: list[store.TimelineRow] | None = None,
                new_order: tuple[str, str | None, str | None] | None = None) -> Order:
    """Persist a saga decision: new state (inserted for a `new_order` = (channel, external_ref, placed_by)),
    commands and events through the outbox, timeline (after the `timeline` entries already due,
    all in one statement)."""
    after = decision.order
    changed = after.status != before.status
    if changed and after.status not in EXPLAINED_BY_REASON:
        after = after.model_copy(update={"status_reason": decision.note})
    if new_order is None:
        await store.save(tx.conn, after, timings)
    else:
        channel, external_ref, placed_by = new_order
        await store.insert(tx.conn, after, timings, channel=channel, external_ref=external_ref, placed_by=placed_by)
    rows = timeline if timeline is not None else []
    for message in [*decision.commands, *decision.events]:
        envelope = await tx.emit(message, key=after.order_id, correlation_id=after.order_id)
        if message in decision.events:
            await notifications.notify(tx, after, message, envelope.message_id)
        rows.append(store.timeline_row(after.order_id, department=CATALOGUE[message.TOPIC].owner,
                                       kind="command" if message.TOPIC.endswith(".commands.v1") else "event",
                                       type_=message.TYPE, message_id=envelope.message_id, detail=envelope.payload,
                                       initiated_by=envelope.initiated_by))
    if changed:
        rows.append(store.timeline_row(after.order_id, department="sales", kind="status",
                                       type_=after.status.value, detail={"note": decision.note},
                                       initiated_by=tx.initiator))
        changed_event = sales.OrderStatusChanged(
            order_id=after.order_id, order_number=after.number, status=after.status.value,
            previous_status=before.status.value, reason=after.status_reason)
        envelope = await tx.emit(changed_event, key=after.order_id, correlation_id=after.order_id)
        await notifications.notify(tx, after, changed_event, envelope.message_id)
    elif decision.note:
        rows.append(store.timeline_row(after.order_id, department="sales", kind="saga", type_="progress",
                                       detail={"note": decision.note}, initiated_by=tx.initiator))
    await store.add_timeline_rows(tx.conn, rows)
    return after


def register(consumer: Consumer, timings: Timings) -> None:
    @consumer.on(sales.PlaceOrder)
    async def on_place_order(tx: Tx, command: sales.PlaceOrder) -> None:
        try:
            request = intake.OrderRequest.model_validate(command.model_dump(exclude={"channel"}))
            await place_order(tx, request, channel=command.channel, timings=timings)
        except (intake.IntakeError, ValidationError) as exc:
            # Business rejection: answered on sales.events so the sending system learns why.
            errors = exc.errors if isinstance(exc, intake.IntakeError) else exc.errors()
            reasons = [f"{'.'.join(str(part) for part in e['loc'] if part != 'body')}: {e['msg']}" for e in errors]
            await tx.emit(sales.OrderRejectedByIntake(channel=command.channel, external_ref=command.external_ref,
                                                      reasons=reasons),
                          key=command.external_ref, correlation_id=command.external_ref)

    @consumer.on(warehouse.StockValued)
    async def on_stock_valued(tx: Tx, event: warehouse.StockValued) -> None:
        """The warehouse's stock value at cost: kept for the inventory-turnover KPI."""
        await store.record_stock_valuation(tx.conn, event.snapshot_id, event.taken_at, event.skus)

    @consumer.on_any
    async def on_department_event(tx: Tx, message: Message) -> None:
        assert tx.cause is not None
        order = await store.lock(tx.conn, tx.cause.correlation_id)
        if order is None:
            return  # not about an order of ours (e.g. replenishment)
        timeline = [store.event_row(order.order_id, tx.cause)]
        await notifications.notify(tx, order, message, tx.cause.message_id)
        decision = saga.react(order, message, now(), timings)
        if decision is None:
            await store.add_timeline_rows(tx.conn, timeline)
        else:
            await apply(tx, order, decision, timings, timeline)


async def run_deadlines(pool: asyncpg.Pool, timings: Timings) -> int:
    """Tick every order whose deadline has come (each in its own transaction)."""
    async with pool.acquire() as conn:
        due = await store.due_orders(conn, now())
    handled = 0
    for order_id in due:
        async with pool.acquire() as conn, conn.transaction():
            order = await store.lock(conn, order_id)
            if order is None:
                continue
            decision = saga.tick(order, now(), timings)
            tx = Tx(conn, "sales")
            if decision is None:
                await store.save(conn, order, timings)   # recomputes next_check_at
            else:
                await apply(tx, order, decision, timings)
                handled += 1
    return handled
