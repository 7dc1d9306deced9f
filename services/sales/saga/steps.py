"""Forward progress: what a department's event teaches the saga (`learn`), and the next step
decided from those facts alone (`advance`), until the order is delivered and paid."""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts import finance, logistics, procurement, warehouse
from contracts.common import FulfilmentPolicy, OrderType, StockLine
from contracts.envelope import Message
from services.sales.saga.economics import learn as learn_economics
from services.sales.saga.state import PREPAID, Decision, Order, Sent, Status, invoice_command, join_notes, updated


def advance(order: Order, now: dt.datetime, note: str) -> Decision:
    """From a settled state, the next thing to do, decided from the facts alone."""
    def send(status: Status, command: Message, *extra: Message, why: str = "") -> Decision:
        sent = Sent(type=command.TYPE, payload=command.model_dump(mode="json"), sent_at=now)
        return Decision(updated(order, status=status, awaiting=sent), [command, *extra],
                        note=join_notes(note, why or f"{status.value}"))

    if order.review is not None and order.review.verdict is None:
        return Decision(updated(order, status=Status.IN_REVIEW), note=join_notes(note, "under review"))
    if order.decision is not None:
        return Decision(updated(order, status=Status.DECISION_NEEDED),
                        note=join_notes(note, f"waiting for a decision: {order.decision.summary}"))
    if order.order_type == OrderType.SAMPLE and not order.approved_by:
        return Decision(updated(order, status=Status.AWAITING_APPROVAL), note=join_notes(note, "awaiting approval"))
    if not order.credit_ok and order.credit_pending:
        return Decision(updated(order, status=Status.AWAITING_CREDIT),
                        note=join_notes(note, f"waiting for finance: {order.credit_pending}"))
    if not order.credit_ok:
        return send(Status.CREDIT_CHECK, finance.CheckCredit(
            order_id=order.order_id, order_number=order.number, customer_id=order.customer_id,
            order_type=order.order_type, payment_method=order.payment_method, lines=list(order.lines),
            total=order.total, payment_terms_days=order.payment_terms_days,
            terms_approved_by=order.review.decided_by if order.review and order.review.joint
            and order.review.verdict == "approved" else None, currency=order.currency,
            country=order.address.country), why="credit check requested")

    commands: list[Message] = []
    if order.order_type in PREPAID and not order.prepayment_invoiced:
        commands.append(invoice_command(order, "prepayment", list(order.lines), kind="prepayment"))
        order = updated(order, prepayment_invoiced=True)
    if order.order_type == OrderType.PREPAID_AT_ORDER and not order.paid_in_full:
        return Decision(updated(order, status=Status.AWAITING_PAYMENT), commands,
                        note=join_notes(note, f"prepayment invoiced; nothing is reserved until paid "
                                    f"(due {order.payment_due_at:%Y-%m-%d %H:%M:%S}Z)"))
    if not order.reservation_requested:
        order = updated(order, reservation_requested=True)
        # A prepaid order legitimately waits for its payment: the reservation lasts at least that long.
        hold = order.payment_due_at if order.order_type == OrderType.PREPAID_BEFORE_SHIPMENT else None
        decision = send(Status.RESERVING, warehouse.ReserveStock(
            order_id=order.order_id, lines=[StockLine(sku=l.sku, quantity=l.quantity) for l in order.lines],
            hold_until=hold), why="stock reservation requested")
        decision.commands[:0] = commands
        return decision

    # A package is on its way out: book it, then hand it over.
    if order.packed:
        if not order.booked:
            decision = send(Status.BOOKING, logistics.BookShipment(
                order_id=order.order_id, order_number=order.number, address=order.address,
                parcels=order.parcels or 1, weight_kg=order.weight_kg or 1.0,
                requested_delivery_date=order.requested_delivery_date), why="carrier booking requested")
        elif dispatch_on_hold(order, now):
            return Decision(updated(order, status=Status.AWAITING_PAYMENT), commands,
                            note=join_notes(note, "goods packed and booked; the warehouse hands them over once paid"))
        else:
            decision = send(Status.DISPATCHING, warehouse.DispatchOrder(
                order_id=order.order_id, shipment_id=order.shipment_id or "", carrier=order.carrier or "",
                tracking_number=order.tracking_number or "",
                payment_required=order.order_type == OrderType.PREPAID_BEFORE_SHIPMENT),
                why="hand-over to the carrier requested")
        decision.commands[:0] = commands
        return decision
    # Standard orders are invoiced per shipment, once it has left.
    if order.uninvoiced:
        shipment_id, lines = next(iter(order.uninvoiced.items()))
        decision = send(Status.INVOICING, invoice_command(order, shipment_id, lines), why=f"invoicing {shipment_id}")
        decision.commands[:0] = commands
        return decision

    # Buy what is missing and not yet being bought (an increase buys only the extra).
    shortfall = order.shortfall()
    purchasing = dict(order.purchasing)
    for sku, missing in shortfall.items():
        extra = missing - purchasing.get(sku, 0)
        if extra > 0:
            commands.append(procurement.PurchaseShortfall(order_id=order.order_id, sku=sku, quantity=extra,
                                                          needed_by=order.requested_delivery_date))
            purchasing[sku] = purchasing.get(sku, 0) + extra
    order = updated(order, purchasing=purchasing)

    ready = order.ready_to_pack()
    may_ship = ready and (not shortfall or order.fulfilment_policy == FulfilmentPolicy.SHIP_PARTIAL)
    if may_ship:
        decision = send(Status.PICKING, warehouse.PickAndPack(order_id=order.order_id),
                        why=f"shipment {order.wave + 1}: pick and pack " + ", ".join(
                            f"{q}x {s}" for s, q in ready.items()))
        decision.order = updated(decision.order, wave=order.wave + 1)
        decision.commands[:0] = commands
        return decision
    if shortfall:
        status = Status.BACKORDERED if order.anything_shipped() else Status.AWAITING_STOCK
        short = ", ".join(f"{q}x {s}" for s, q in shortfall.items())
        return Decision(updated(order, status=status), commands, note=join_notes(note, f"waiting for stock: {short}"))
    return maybe_complete(updated(order, status=Status.SHIPPED), commands, note)


def maybe_complete(order: Order, commands: list[Message], note: str) -> Decision:
    delivered = bool(order.dispatched) and set(order.dispatched) <= set(order.delivered)
    paid = order.paid_in_full or not order.billed
    if order.status == Status.SHIPPED and order.fully_shipped() and delivered and paid:
        if order.credit_held:
            # Invoices normally consumed the hold; whatever is left (a sample's, a cut order's) goes.
            commands = [*commands, finance.ReleaseCredit(order_id=order.order_id, reason="order completed")]
        return Decision(updated(order, status=Status.COMPLETED, credit_held=False), commands,
                        note=join_notes(note, "order completed"))
    waiting = [w for w, ok in (("delivery", delivered), ("payment", paid)) if not ok]
    return Decision(order, commands, note=join_notes(note, f"waiting for {' and '.join(waiting)}" if waiting else ""))


def learn(order: Order, m: Message, now: dt.datetime) -> tuple[Order, str | None, str | None]:
    """Record what a department's event teaches; returns (order, note, failure reason)."""
    u: dict[str, Any] = {}
    note = failure = None
    if isinstance(m, finance.CreditApproved):
        # Finance records a hold for every approved order (zero for samples and prepaid orders):
        # it is released on every way out, so that no final order keeps one.
        u = {"credit_ok": True, "credit_held": True, "credit_pending": None}
        note = "credit approved"
    elif isinstance(m, finance.CreditRejected):
        u = {"credit_pending": None}                 # finance forgot the waiting check when it rejected
        failure = "credit check failed: " + "; ".join(m.reasons)
    elif isinstance(m, finance.CreditCheckPending):
        if not order.credit_ok:
            u = {"status": Status.AWAITING_CREDIT, "credit_pending": m.reason,
                 "credit_pending_since": order.credit_pending_since or now}
        note = f"waiting for finance: {m.reason}"
    elif isinstance(m, finance.InvoiceIssued):
        if m.invoice_number not in order.invoices:
            u = {"invoices": (*order.invoices, m.invoice_number), "paid_in_full": False,
                 "uninvoiced": {k: v for k, v in order.uninvoiced.items() if k != m.shipment_ref}}
        note = f"invoice {m.invoice_number} issued ({m.amount})"
    elif isinstance(m, finance.PaymentReceived):
        u = {"payments": order.payments + 1, "paid_in_full": m.order_paid_in_full}
        note = f"payment {m.payment_ref} received ({m.amount})" + ("; paid in full" if m.order_paid_in_full else "")
    elif isinstance(m, warehouse.StockReserved):
        secured = {line.sku: line.reserved for line in m.lines}
        # What arrived (or was found) is no longer being bought: never buy more than is missing.
        missing = {line.sku: line.quantity - secured.get(line.sku, 0) for line in order.lines}
        purchasing = {sku: min(qty, max(0, missing.get(sku, 0))) for sku, qty in order.purchasing.items()}
        u = {"secured": secured, "purchasing": {k: v for k, v in purchasing.items() if v > 0}}
        short = [f"{l.sku} short {l.requested - l.reserved}" for l in m.lines if l.reserved < l.requested]
        note = "stock reserved" + (f" ({', '.join(short)})" if short else " in full")
    elif isinstance(m, warehouse.ReservationExpired):
        failure = "the reservation expired"
    elif isinstance(m, warehouse.OrderPacked):
        u = {"packed": tuple(m.lines), "parcels": m.parcels, "weight_kg": m.weight_kg}
    elif isinstance(m, logistics.ShipmentBooked) and m.shipment_id in order.dispatched:
        # Logistics had not yet seen an earlier shipment leave (topics are not ordered with each
        # other) and answered the next wave's booking with it: not this wave's booking. The step
        # stays open and is asked again after its timeout, by when logistics has caught up.
        note = f"booking {m.shipment_id} is an earlier shipment, already dispatched; asking again later"
    elif isinstance(m, logistics.ShipmentBooked):
        u = {"shipment_id": m.shipment_id, "carrier": m.carrier, "tracking_number": m.tracking_number,
             "booked": True}
        note = f"booked {m.carrier}, tracking {m.tracking_number}, ETA {m.eta}"
    elif isinstance(m, logistics.ShipmentRebooked):
        if m.shipment_id == order.shipment_id:
            u = {"carrier": m.carrier, "tracking_number": m.tracking_number}
        note = f"{m.shipment_id} re-booked from {m.previous_carrier} to {m.carrier} ({m.reason}), ETA {m.eta}"
    elif isinstance(m, warehouse.OrderDispatched) and m.shipment_id in order.dispatched:
        pass                                         # a repeated announcement of an earlier shipment
    elif isinstance(m, warehouse.OrderDispatched):
        shipped = dict(order.shipped)
        for line in m.lines:
            shipped[line.sku] = shipped.get(line.sku, 0) + line.quantity
        u = {"shipped": shipped, "packed": (), "booked": False, "dispatched": (*order.dispatched, m.shipment_id),
             "shipment_lines": {**order.shipment_lines, m.shipment_id: list(m.lines)}}
        if order.order_type == OrderType.STANDARD:
            u["uninvoiced"] = {**order.uninvoiced, m.shipment_id: list(m.lines)}
        note = f"shipment {m.shipment_id} dispatched: " + ", ".join(f"{l.quantity}x {l.sku}" for l in m.lines)
    elif isinstance(m, warehouse.DispatchRefused):
        if order.order_type == OrderType.PREPAID_BEFORE_SHIPMENT:
            # The warehouse holds prepaid goods until it has seen the payment (tick retries once paid).
            u = {"status": Status.AWAITING_PAYMENT, "awaiting": None, "dispatch_held_at": now}
            note = f"dispatch held: {m.reason}"
        else:
            failure = f"dispatch refused: {m.reason}"
    elif isinstance(m, logistics.ShipmentDelivered):
        # Topics are not ordered with each other: a delivery may overtake its dispatch event.
        if m.shipment_id not in order.delivered:
            u = {"delivered": (*order.delivered, m.shipment_id)}
        note = f"shipment {m.shipment_id} delivered"
    elif isinstance(m, logistics.ShipmentReturned) and order.status != Status.CANCELLING:
        key = f"unexpected_return:{m.shipment_id}:shipment {m.shipment_id} came back without a recall"
        if key not in order.alerts:
            u = {"alerts": (*order.alerts, key)}
    elif isinstance(m, logistics.ShipmentReturned) and m.shipment_id not in order.returned:
        shipped = dict(order.shipped)
        for line in m.lines:
            shipped[line.sku] = max(0, shipped.get(line.sku, 0) - line.quantity)
        u = {"shipped": shipped, "returned": (*order.returned, m.shipment_id)}
        note = f"shipment {m.shipment_id} came back to the warehouse"
    elif isinstance(m, logistics.ShipmentCancelled) and m.shipment_id == order.shipment_id and order.booked:
        # Logistics dropped the booking (e.g. the new address is outside the carrier's area): book again.
        u = {"booked": False, "shipment_id": None, "carrier": None, "tracking_number": None}
        note = f"booking {m.shipment_id} cancelled by logistics: {m.reason}"
    elif isinstance(m, procurement.PurchaseFailed):
        if order.anything_shipped():
            summary = f"cannot buy the rest of {m.sku}: {m.reason}; part shipped, a person must decide"
            return updated(order, alerts=(*order.alerts, f"purchase_failed:{m.sku}:{summary}")), summary, None
        failure = f"cannot be fulfilled: {m.reason}"
    elif isinstance(m, procurement.PurchaseOrderCancelled) and m.kept_as_stock:
        note = f"{m.kept_as_stock}x {m.sku} of {m.purchase_order_id} kept as stock"
    return learn_economics(updated(order, **u) if u else order, m), note, failure


REPLIES: dict[str, tuple[type[Message], ...]] = {
    finance.CheckCredit.TYPE: (finance.CreditApproved, finance.CreditRejected, finance.CreditCheckPending),
    warehouse.ReserveStock.TYPE: (warehouse.StockReserved,),
    warehouse.PickAndPack.TYPE: (warehouse.OrderPacked,),
    logistics.BookShipment.TYPE: (logistics.ShipmentBooked, logistics.ShipmentBookingFailed),
    warehouse.DispatchOrder.TYPE: (warehouse.OrderDispatched, warehouse.DispatchRefused),
    finance.IssueInvoice.TYPE: (finance.InvoiceIssued,),
}
COMPENSATION_DONE = (finance.CompensationDone, warehouse.CompensationDone, logistics.CompensationDone,
                     procurement.CompensationDone)
REVIEWS = (finance.ChangeReviewed, warehouse.ChangeReviewed, logistics.ChangeReviewed)


def answers(sent: Sent, m: Message, order: Order | None = None) -> bool:
    if not isinstance(m, REPLIES.get(sent.type, ())):
        return False
    if isinstance(m, logistics.ShipmentBooked) and order is not None and m.shipment_id in order.dispatched:
        return False                                 # an earlier wave's booking, see learn()
    if sent.type == warehouse.DispatchOrder.TYPE and isinstance(m, warehouse.OrderDispatched):
        return m.shipment_id == sent.payload.get("shipment_id")
    if sent.type == finance.IssueInvoice.TYPE and isinstance(m, finance.InvoiceIssued):
        return m.shipment_ref == sent.payload.get("shipment_ref")   # not a dunning charge of another invoice
    return True


DISPATCH_RETRY = dt.timedelta(seconds=1)
NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc) - DISPATCH_RETRY


def dispatch_on_hold(order: Order, now: dt.datetime) -> bool:
    """Refused for want of payment: wait until paid, then give the warehouse a moment to learn it."""
    if order.order_type != OrderType.PREPAID_BEFORE_SHIPMENT or order.dispatch_held_at is None:
        return False
    return not order.paid_in_full or now < order.dispatch_held_at + DISPATCH_RETRY


def stuck_key(order: Order, sent: Sent) -> str:
    return f"stuck:{sent.type}:wave{order.wave}"


def is_review(m: Message) -> bool:
    return isinstance(m, REVIEWS)
