"""Returns after delivery (RMA), pure: a customer sends back part of what was delivered.

    step         who / command                       reply                     then
    request      POST /orders/{id}/returns           -                         requested (sales.return_requested)
    decide       a sales manager approves / rejects  -                         approved: warehouse.expect_return
    expect       warehouse.expect_return             warehouse.return_expected
    receive      the warehouse (POST /rmas/../receive) warehouse.return_received  received
    inspect      the warehouse (POST /rmas/../inspect) warehouse.return_inspected inspected: finance.settle_return
    settle       finance.settle_return               finance.return_settled    completed (sales.return_completed)

Only delivered goods can be returned, and no unit twice (open and completed returns count; rejected
ones do not). A return works whatever the order's status (also completed): the order's own status
does not change. A command without reply is re-sent after the step timeout, doubling, and an alert
is raised once after `max_attempts`.
"""

from __future__ import annotations

import datetime as dt

from contracts import finance, sales, warehouse
from contracts.common import PricedLine, ReturnReason, StockLine
from contracts.envelope import Message
from services.sales.saga.economics import learn as learn_economics
from services.sales.saga.state import Decision, Order, Refused, ReturnCase, Sent, Timings, alert, updated

MESSAGES = (warehouse.ReturnExpected, warehouse.ReturnReceived, warehouse.ReturnInspected, finance.ReturnSettled)


def is_return_message(m: Message) -> bool:
    return isinstance(m, MESSAGES)


def delivered_units(order: Order) -> dict[str, int]:
    units: dict[str, int] = {}
    for shipment_id in order.delivered:
        for line in order.shipment_lines.get(shipment_id, []):
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


def returnable(order: Order) -> dict[str, int]:
    """Per SKU: delivered and not (being) returned already."""
    left = delivered_units(order)
    for case in order.returns:
        if case.status == "rejected":
            continue
        for line in case.lines:
            left[line.sku] = left.get(line.sku, 0) - line.quantity
    return {sku: q for sku, q in left.items() if q > 0}


def _merge(lines: list[StockLine]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for line in lines:
        merged[line.sku] = merged.get(line.sku, 0) + line.quantity
    return merged


def _case(order: Order, rma: str) -> tuple[int, ReturnCase]:
    for index, case in enumerate(order.returns):
        if case.rma == rma:
            return index, case
    raise Refused(f"order {order.number} has no return {rma}")


def _with(order: Order, index: int, case: ReturnCase) -> Order:
    cases = list(order.returns)
    cases[index] = case
    return updated(order, returns=tuple(cases))


def _send(case: ReturnCase, command: Message, now: dt.datetime) -> ReturnCase:
    return case.model_copy(update={"awaiting": Sent(type=command.TYPE, payload=command.model_dump(mode="json"),
                                                    sent_at=now)})


def request_return(order: Order, rma: str, lines: list[StockLine], reason: ReturnReason, comment: str | None,
                   requested_by: str | None, now: dt.datetime) -> Decision:
    wanted = _merge(lines)
    if not wanted:
        raise Refused("a return needs at least one line")
    left = returnable(order)
    if not delivered_units(order):
        raise Refused(f"order {order.number} has nothing delivered yet: only delivered goods can be returned")
    beyond = [f"{sku}: {q} asked, {left.get(sku, 0)} returnable" for sku, q in wanted.items() if q > left.get(sku, 0)]
    if beyond:
        raise Refused("more than was delivered and not yet returned: " + "; ".join(beyond))
    case = ReturnCase(rma=rma, lines=tuple(StockLine(sku=s, quantity=q) for s, q in sorted(wanted.items())),
                      reason=reason, comment=comment, requested_at=now, requested_by=requested_by)
    event = sales.ReturnRequested(order_id=order.order_id, order_number=order.number, rma=rma, lines=list(case.lines),
                                  reason=reason, comment=comment)
    return Decision(updated(order, returns=(*order.returns, case)), events=[event],
                    note=f"return {rma} requested ({reason.value}): {_describe(case.lines)}")


def decide_return(order: Order, rma: str, approve: bool, decided_by: str, note: str | None,
                  now: dt.datetime) -> Decision:
    index, case = _case(order, rma)
    if case.status != "requested":
        raise Refused(f"return {rma} is {case.status}, not awaiting a decision")
    event = sales.ReturnDecided(order_id=order.order_id, order_number=order.number, rma=rma, approved=approve,
                                note=note)
    if not approve:
        decided = case.model_copy(update={"status": "rejected", "decided_by": decided_by, "note": note})
        return Decision(_with(order, index, decided), events=[event],
                        note=f"return {rma} rejected by {decided_by}" + (f": {note}" if note else ""))
    expect = warehouse.ExpectReturn(rma=rma, order_id=order.order_id, lines=list(case.lines),
                                    reason=case.reason.value)
    approved = _send(case.model_copy(update={"status": "approved", "decided_by": decided_by, "note": note}),
                     expect, now)
    return Decision(_with(order, index, approved), [expect], events=[event],
                    note=f"return {rma} approved by {decided_by}: the warehouse expects {_describe(case.lines)}")


def react(order: Order, m: Message, now: dt.datetime) -> Decision | None:
    try:
        index, case = _case(order, m.rma)
    except Refused:
        return None
    if isinstance(m, warehouse.ReturnExpected):
        if case.awaiting is None or case.awaiting.type != warehouse.ExpectReturn.TYPE:
            return None
        return Decision(_with(order, index, case.model_copy(update={"awaiting": None})),
                        note=f"return {case.rma}: the warehouse expects the goods")
    if isinstance(m, warehouse.ReturnReceived):
        if case.status not in ("approved",):
            return None
        received = case.model_copy(update={"status": "received", "awaiting": None})
        return Decision(_with(order, index, received), note=f"return {case.rma}: goods received ({_describe(m.lines)})")
    if isinstance(m, warehouse.ReturnInspected):
        if case.status not in ("approved", "received"):
            return None
        goods = _merge([*m.restocked, *m.scrapped])
        settle = finance.SettleReturn(
            rma=case.rma, order_id=order.order_id, reason=case.reason.value, country=order.address.country,
            lines=[PricedLine(sku=sku, quantity=q, unit_price=order.price(sku)) for sku, q in sorted(goods.items())])
        inspected = _send(case.model_copy(update={"status": "inspected", "restocked": tuple(m.restocked),
                                                  "scrapped": tuple(m.scrapped)}), settle, now)
        return Decision(_with(order, index, inspected), [settle],
                        note=f"return {case.rma} inspected: restocked {_describe(m.restocked)}, "
                             f"scrapped {_describe(m.scrapped)}; finance credits and refunds")
    if isinstance(m, finance.ReturnSettled):
        if case.status == "completed":
            return None
        done = case.model_copy(update={"status": "completed", "awaiting": None, "credited": m.credited,
                                       "credited_net": m.credited_net, "refunded": m.refunded})
        event = sales.ReturnCompleted(order_id=order.order_id, order_number=order.number, rma=case.rma,
                                      restocked=list(case.restocked), scrapped=list(case.scrapped),
                                      credited=m.credited, refunded=m.refunded)
        return Decision(_with(order, index, done), events=[event],
                        note=f"return {case.rma} completed: credited {m.credited}, refunded {m.refunded}")
    return None


def tick(order: Order, now: dt.datetime, timings: Timings) -> Decision | None:
    """Re-send a return's command that got no reply; one alert when it keeps getting none."""
    for index, case in enumerate(order.returns):
        sent = case.awaiting
        if sent is None or now < sent.sent_at + timings.step_timeout * sent.attempts:
            continue
        if sent.attempts >= timings.max_attempts:
            key = f"stuck:{sent.type}:{case.rma}"
            if key in order.alerts:
                continue
            summary = f"return {case.rma}: no answer to {sent.type} after {sent.attempts} attempts; a person must look"
            return Decision(updated(order, alerts=(*order.alerts, key)), events=[alert(order, summary)], note=summary)
        again = sent.model_copy(update={"sent_at": now, "attempts": sent.attempts + 1})
        return Decision(_with(order, index, case.model_copy(update={"awaiting": again})), [sent.message()],
                        note=f"return {case.rma}: no answer to {sent.type}; sent again (attempt {again.attempts})")
    return None


def next_check(order: Order, timings: Timings) -> dt.datetime | None:
    times = [c.awaiting.sent_at + timings.step_timeout * c.awaiting.attempts for c in order.returns
             if c.awaiting is not None and f"stuck:{c.awaiting.type}:{c.rma}" not in order.alerts]
    return min(times) if times else None


def after_the_end(order: Order, m: Message) -> Decision | None:
    """A final order still learns economic facts (a credit note after completion, ...)."""
    learnt = learn_economics(order, m)
    return Decision(learnt) if learnt != order else None


def _describe(lines) -> str:
    return ", ".join(f"{line.quantity}x {line.sku}" for line in lines) or "nothing"
