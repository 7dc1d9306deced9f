"""The order saga: sales' persisted state machine for one order across every department.

Pure logic, no I/O. `start`, `react` (a department replied), `tick` (time passed), `request_change`
and `request_cancel` return a `Decision`: the order's new state, the commands to send, sales'
own events (status, change, alerts) and a note for the timeline. `handlers.py` persists the
decision and emits everything through the outbox in one transaction.

The forward steps, each beside its reply and its compensation:

    step                command                        reply                   compensation
    review              logistics.review_order (joint: order_reviewed each     - (nothing is held yet)
                          + finance/warehouse.review_   -> rejected on a "no";
                          order, then POST /orders/     joint: a sales manager
                          {id}/review)                  approves or rejects
    approval (sample)   POST /orders/{id}/approve      -                       -
    credit_check        finance.check_credit           credit_approved         finance.release_credit
                                                       credit_rejected -> rejected
    prepayment          finance.issue_invoice (kind    invoice_issued,         finance.credit_invoices,
    (prepaid types)       prepayment)                  payment_received        finance.refund_payments
    reserve_stock       warehouse.reserve_stock        stock_reserved          warehouse.release_reservation
    buy_shortfall       procurement.purchase_shortfall goods arrive ->         procurement.cancel_purchase
                                                       stock_reserved; purchase_failed -> cancel
    -- one wave per shipment (ship_partial may need several) --
    pick_and_pack       warehouse.pick_and_pack        order_packed            (released with the reservation)
    book_shipment       logistics.book_shipment        shipment_booked         logistics.cancel_shipment
    dispatch            warehouse.dispatch_order       order_dispatched        logistics.recall_shipments
                                                                               (first: refused once delivered)
                                                       dispatch_refused (prepaid, unpaid) -> awaiting_payment
    invoice (standard)  finance.issue_invoice          invoice_issued          finance.credit_invoices
    -- then --
    settle              (waits)                        delivered + paid in full -> completed

Control points by order type: `sample` waits for an approval and is never billed; `prepaid_at_order`
reserves nothing until paid; `prepaid_before_shipment` reserves and packs at once but the warehouse
refuses to dispatch until paid. Both prepaid types are cancelled when unpaid past their deadline.

Compensation runs in reverse order of the effects, one at a time: each waits for its department's
`compensation_done`, is re-sent with backoff when none comes, and is parked with an alert after
`max_attempts`. Semantic locks: while a step is in flight a change is refused (409) and a cancel
waits for the step's reply.

Before anything is reserved, the order is reviewed (`review`): logistics checks every order's
destination; a major or special order gets a joint review by finance, warehouse and logistics,
then a sales manager's verdict (deadline, reminder, documented default). Where a supplier or a
carrier cannot keep the date, or no carrier takes the shipment, people decide (`decisions`):
status `decision_needed` with options, owner roles, a deadline and a default.


Returns after delivery (RMA) run beside the order's own status, also once it is completed:
`returns.py` (request, approval, the warehouse's receipt and inspection, finance's credit note and
refund). Cost and margin: `economics.py` (facts learnt from the departments' events, margin per
line and order). A credit check answered "pending" (customer on credit hold) makes the order wait
in `awaiting_credit` until finance decides (or `credit_wait` passes: cancelled).


Modules: `state` (the order's facts, statuses, Decision), `flow` (entry points), `steps` (forward
progress), `review` (review before reservation), `decisions` (people decide), `changes` (review
and application of a change), `compensation` (cancellation), `returns` (RMA), `economics` (cost
and margin).
"""

from services.sales.saga.changes import request_change
from services.sales.saga.decisions import decide
from services.sales.saga.compensation import cancel, request_cancel, retry_parked
from services.sales.saga.flow import approve, next_check, react, start, tick
from services.sales.saga.economics import margin
from services.sales.saga.returns import decide_return, request_return, returnable
from services.sales.saga.review import Candidate, ReviewPolicy, decide_review, joint_review_reasons, plan
from services.sales.saga.state import (CHANGEABLE, IN_FLIGHT, PREPAID, Compensation, Decision, Order,
                                       PendingChange, PendingDecision, Refused, ReturnCase, Review, Sent, Status,
                                       Timings)

__all__ = ["CHANGEABLE", "IN_FLIGHT", "PREPAID", "Candidate", "Compensation", "Decision", "Order", "PendingChange",
           "PendingDecision", "Refused", "ReturnCase", "Review", "ReviewPolicy", "Sent", "Status", "Timings",
           "approve", "cancel", "decide", "decide_return", "decide_review", "joint_review_reasons", "margin",
           "next_check", "plan", "react", "request_cancel", "request_change", "request_return", "retry_parked",
           "returnable", "start", "tick"]
