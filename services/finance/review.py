"""Finance's opinion in the review of an order before anything is held (joint review of a major or
special order): credit and price as in the credit check, and the payment terms asked for against
the customer's agreement (rules.review_order). Nothing is held: the credit check after approval
holds the credit."""

from __future__ import annotations

from contracts import finance
from services.finance import credit_risk, rules
from services.finance.handlers import _prices, credit_account
from services.runtime.consumer import Consumer
from services.runtime.outbox import Tx


def register(consumer: Consumer) -> None:
    @consumer.on(finance.ReviewOrder)
    async def review_order(tx: Tx, cmd: finance.ReviewOrder) -> None:
        order = cmd.order
        customer, exposure = await credit_account(tx.conn, order.customer_id)
        if customer is None:
            reasons, conditions = [f"unknown customer {order.customer_id}"], []
        else:
            account = rules.CreditAccount(customer["credit_limit"], exposure, customer["max_discount_pct"])
            reasons, conditions = rules.review_order(
                order.order_type, order.lines, order.total, account, await _prices(tx.conn),
                requested_terms=order.payment_terms_days, agreed_terms=customer["payment_terms_days"],
                negotiable_terms=customer["max_payment_terms_days"])
            if any(r.startswith("credit limit exceeded") for r in reasons):
                await credit_risk.reassess(tx, order.customer_id, customer["credit_limit"], exposure,
                                           refused_amount=order.total, order_id=order.order_id)
        await tx.emit(finance.OrderReviewed(order_id=order.order_id, review_id=order.review_id,
                                            approved=not reasons, reasons=reasons, conditions=conditions),
                      key=order.order_id)
