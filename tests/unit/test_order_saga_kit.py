"""Shared fixtures for the order-saga tests (services/sales/saga/): a fixed clock, explicit
timings, an order, and the departments' real contract messages. No tests live here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from contracts import finance, logistics, procurement, warehouse
from contracts.common import Address, FulfilmentPolicy, OrderType, PaymentMethod, PricedLine, StockLine
from contracts.envelope import Message
from contracts.warehouse import ReservedLine
from services.sales.saga import Decision, Order, Timings, react, start, tick

NOW = dt.datetime(2031, 1, 1, 9, 0, tzinfo=dt.timezone.utc)
T = Timings(step_timeout=dt.timedelta(seconds=60), payment_deadline=dt.timedelta(hours=24),
            compensation_timeout=dt.timedelta(seconds=10), max_attempts=3)

ORDER_ID = "ord-1"
NUMBER = "SO-1001"
CUSTOMER = "CUST-ACME"
ADDRESS = Address(name="ACME", street="Main St 1", city="Berlin", postal_code="10115", country="DE")
NEW_ADDRESS = Address(name="ACME", street="Quai 2", city="Lyon", postal_code="69002", country="FR")
DELIVER_BY = dt.date(2031, 1, 15)
A, B = "SKU-A", "SKU-B"
PRICE = {A: Decimal("2.50"), B: Decimal("100.00")}
TOTAL = Decimal("225.00")        # 10 x 2.50 + 2 x 100.00


def later(seconds: float = 0, **kw) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds, **kw)


def line(sku: str, quantity: int) -> PricedLine:
    return PricedLine(sku=sku, quantity=quantity, unit_price=PRICE[sku])


def make_order(**overrides) -> Order:
    fields = dict(order_id=ORDER_ID, number=NUMBER, customer_id=CUSTOMER, order_type=OrderType.STANDARD,
                  payment_method=PaymentMethod.INVOICE, fulfilment_policy=FulfilmentPolicy.SHIP_COMPLETE,
                  lines=(line(A, 10), line(B, 2)), address=ADDRESS, requested_delivery_date=DELIVER_BY)
    fields.update(overrides)
    return Order(**fields)


# --- the departments' messages -------------------------------------------------------------------

def credit_approved() -> finance.CreditApproved:
    return finance.CreditApproved(order_id=ORDER_ID, customer_id=CUSTOMER, amount=TOTAL,
                                  credit_limit=Decimal("1000.00"), exposure_after=TOTAL)


def credit_rejected(*reasons: str) -> finance.CreditRejected:
    return finance.CreditRejected(order_id=ORDER_ID, customer_id=CUSTOMER,
                                  reasons=list(reasons or ["credit limit exceeded"]))


def reserved(a: int = 10, b: int = 2, *, want_a: int = 10, want_b: int = 2) -> warehouse.StockReserved:
    """The warehouse's picture: per SKU requested and secured (reserved + shipped)."""
    lines = [ReservedLine(sku=A, requested=want_a, reserved=a)]
    if want_b:
        lines.append(ReservedLine(sku=B, requested=want_b, reserved=b))
    return warehouse.StockReserved(order_id=ORDER_ID, lines=lines,
                                   complete=all(l.reserved >= l.requested for l in lines))


def stock(**quantities: int) -> list[StockLine]:
    """stock(a=4, b=2) -> [StockLine(SKU-A, 4), StockLine(SKU-B, 2)]"""
    return [StockLine(sku=f"SKU-{k.upper()}", quantity=q) for k, q in quantities.items() if q]


def packed(lines: list[StockLine] | None = None, parcels: int = 3, weight_kg: float = 42.5) -> warehouse.OrderPacked:
    return warehouse.OrderPacked(order_id=ORDER_ID, parcels=parcels, weight_kg=weight_kg,
                                 lines=lines if lines is not None else stock(a=10, b=2))


def booked(shipment: str = "SHP-1", carrier: str = "DHL", tracking: str = "TRK-1") -> logistics.ShipmentBooked:
    return logistics.ShipmentBooked(order_id=ORDER_ID, shipment_id=shipment, carrier=carrier, waybill=f"WB-{shipment}",
                                    tracking_number=tracking, eta=dt.date(2031, 1, 10))


def booking_failed() -> logistics.ShipmentBookingFailed:
    return logistics.ShipmentBookingFailed(order_id=ORDER_ID, reason="no carrier serves DE")


def dispatched(shipment: str = "SHP-1", lines: list[StockLine] | None = None, carrier: str = "DHL",
               tracking: str = "TRK-1") -> warehouse.OrderDispatched:
    return warehouse.OrderDispatched(order_id=ORDER_ID, shipment_id=shipment, carrier=carrier,
                                     tracking_number=tracking,
                                     lines=lines if lines is not None else stock(a=10, b=2))


def dispatch_refused(reason: str = "awaiting payment: prepaid before shipment") -> warehouse.DispatchRefused:
    return warehouse.DispatchRefused(order_id=ORDER_ID, reason=reason)


def invoiced(number: str = "INV-1", shipment_ref: str = "SHP-1", amount: Decimal = TOTAL) -> finance.InvoiceIssued:
    return finance.InvoiceIssued(order_id=ORDER_ID, invoice_number=number, shipment_ref=shipment_ref, amount=amount,
                                 due_date=dt.date(2031, 2, 1))


def paid(number: str = "INV-1", full: bool = True, amount: Decimal = TOTAL, ref: str = "PAY-1") -> finance.PaymentReceived:
    return finance.PaymentReceived(order_id=ORDER_ID, invoice_number=number, payment_ref=ref, amount=amount,
                                   order_paid_in_full=full)


def delivered(shipment: str = "SHP-1", tracking: str = "TRK-1") -> logistics.ShipmentDelivered:
    return logistics.ShipmentDelivered(order_id=ORDER_ID, shipment_id=shipment, tracking_number=tracking,
                                       delivered_at=dt.datetime(2031, 1, 9, 12, tzinfo=dt.timezone.utc))


def purchase_failed(sku: str = A, quantity: int = 6) -> procurement.PurchaseFailed:
    return procurement.PurchaseFailed(order_id=ORDER_ID, sku=sku, quantity=quantity, reason="no supplier in time")


def released(lines: list[StockLine], reason: str = "change") -> warehouse.ReservationReleased:
    return warehouse.ReservationReleased(order_id=ORDER_ID, lines=lines, reason=reason)


DONE_BY = {"finance": finance.CompensationDone, "warehouse": warehouse.CompensationDone,
           "logistics": logistics.CompensationDone, "procurement": procurement.CompensationDone}
REVIEWED_BY = {"finance": finance.ChangeReviewed, "warehouse": warehouse.ChangeReviewed,
               "logistics": logistics.ChangeReviewed}


def done(command_type: str, summary: str = "undone") -> Message:
    """The owning department's compensation_done for `command_type` ("<dept>.<verb>")."""
    return DONE_BY[command_type.split(".")[0]](order_id=ORDER_ID, command_type=command_type, summary=summary)


def reviewed(department: str, change_id: str, approved: bool = True, reason: str | None = None) -> Message:
    return REVIEWED_BY[department](order_id=ORDER_ID, change_id=change_id, approved=approved, reason=reason)


# --- driving the saga ----------------------------------------------------------------------------

def step(order: Order, message: Message, now: dt.datetime = NOW) -> Decision:
    decision = react(order, message, now, T)
    assert decision is not None, f"{message.TYPE} was ignored in status {order.status.value}"
    return decision


def drive(order: Order, *messages: Message, now: dt.datetime = NOW) -> Order:
    for message in messages:
        order = step(order, message, now).order
    return order


def begin(**overrides) -> Order:
    return start(make_order(**overrides), NOW, T).order


def ticked(order: Order, now: dt.datetime) -> Decision:
    decision = tick(order, now, T)
    assert decision is not None, f"tick at {now} did nothing in status {order.status.value}"
    return decision


def types(decision: Decision) -> list[str]:
    return [c.TYPE for c in decision.commands]


def only(decision: Decision, cls: type[Message]) -> Message:
    """The decision's single command, which must be a `cls`."""
    assert len(decision.commands) == 1, types(decision)
    [command] = decision.commands
    assert isinstance(command, cls), command.TYPE
    return command


def of(decision: Decision, cls: type[Message]) -> list[Message]:
    return [c for c in decision.commands if isinstance(c, cls)]


def quantities(lines) -> dict[str, int]:
    return {l.sku: l.quantity for l in lines}
