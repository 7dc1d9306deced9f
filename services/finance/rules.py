"""Finance's business rules, pure: the price and credit review of an order and of a change,
what an invoice leaves held, how credit notes and refunds are spread, the money balance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from contracts.common import ChangeProposal, OrderType, PricedLine

CREDIT_CHECKED_TYPES = {OrderType.STANDARD}   # samples are free; prepaid orders are paid before risk arises


@dataclass(frozen=True)
class CreditAccount:
    credit_limit: Decimal
    exposure: Decimal            # credit held for open orders + unpaid invoices
    max_discount_pct: Decimal


def price_reasons(order_type: OrderType, lines: list[PricedLine], max_discount_pct: Decimal,
                  list_prices: dict[str, Decimal]) -> list[str]:
    """Lines not on the price list, or (except for samples, which are free) priced below the floor."""
    reasons = []
    for line in lines:
        list_price = list_prices.get(line.sku)
        if list_price is None:
            reasons.append(f"{line.sku}: not on the price list")
            continue
        if order_type == OrderType.SAMPLE:
            continue
        floor = (list_price * (1 - max_discount_pct / 100)).quantize(Decimal("0.01"), rounding=ROUND_UP)
        if line.unit_price < floor:
            reasons.append(f"{line.sku}: price {line.unit_price} below the allowed minimum {floor} "
                           f"(list {list_price}, max discount {max_discount_pct}%)")
    return reasons


def review(order_type: OrderType, lines: list[PricedLine], total: Decimal, account: CreditAccount,
           list_prices: dict[str, Decimal]) -> list[str]:
    """Reasons to reject the order; empty means approved."""
    reasons = price_reasons(order_type, lines, account.max_discount_pct, list_prices)
    if order_type in CREDIT_CHECKED_TYPES and account.exposure + total > account.credit_limit:
        reasons.append(f"credit limit exceeded: exposure {account.exposure} + order {total} "
                       f"> limit {account.credit_limit}")
    return reasons


def held_amount(order_type: OrderType, total: Decimal) -> Decimal:
    """What the order holds against the credit limit until it is invoiced or released."""
    return total if order_type in CREDIT_CHECKED_TYPES else Decimal("0.00")


# --- invoicing, credit notes, refunds ---------------------------------------------------------

def hold_after_invoice(held: Decimal, invoice_amount: Decimal, kind: str) -> Decimal:
    """What stays held once an invoice is issued. A prepayment invoice converts the whole hold;
    a shipment invoice (one of several under ship_partial) takes only its own amount off it, so
    the rest stays held until the last shipment is billed."""
    if kind == "prepayment":
        return Decimal("0.00")
    return max(held - invoice_amount, Decimal("0.00"))


def hold_for_total(order_type: OrderType | str | None, new_total: Decimal, billed: Decimal) -> Decimal:
    """The hold after a change of the order total: what is not yet billed (net of credit notes),
    for credit-checked orders only."""
    if order_type is not None and OrderType(order_type) not in CREDIT_CHECKED_TYPES:
        return Decimal("0.00")
    return max(new_total - billed, Decimal("0.00"))


def allocate(available: list[tuple[str, Decimal]], amount: Decimal | None) -> list[tuple[str, Decimal]]:
    """Spread `amount` (None: everything) over `available` (key, amount left), in the given order
    (callers pass newest first). Returns the non-zero parts."""
    parts: list[tuple[str, Decimal]] = []
    left = None if amount is None else max(amount, Decimal("0.00"))
    for key, room in available:
        if room <= 0:
            continue
        take = room if left is None else min(room, left)
        if take <= 0:
            break
        parts.append((key, take))
        if left is not None:
            left -= take
    return parts


def invoice_status(amount: Decimal, credited: Decimal, paid: Decimal, refunded: Decimal) -> str:
    """credited: nothing billed is left; paid: what is billed is paid (net of refunds); else open."""
    if credited >= amount:
        return "credited"
    if paid - refunded >= amount - credited:
        return "paid"
    return "open"


@dataclass(frozen=True)
class Balance:
    invoiced: Decimal
    credited: Decimal
    paid: Decimal
    refunded: Decimal
    outstanding: Decimal

    @property
    def ok(self) -> bool:
        """invoiced - credited == paid - refunded + outstanding: false while the customer has paid
        more than is billed (a refund is due) or a credited invoice still holds money."""
        return self.invoiced - self.credited == self.paid - self.refunded + self.outstanding


# --- changes ----------------------------------------------------------------------------------

def review_change(order_type: OrderType, proposal: ChangeProposal, account: CreditAccount,
                  list_prices: dict[str, Decimal]) -> str | None:
    """Why finance refuses a change, or None to approve. New or re-priced lines must respect the
    discount floor; an increase of a credit-checked order must fit under the credit limit
    (the exposure already includes this order's current amount)."""
    previous = {(line.sku, line.unit_price) for line in proposal.previous_lines}
    new_lines = [line for line in proposal.lines if (line.sku, line.unit_price) not in previous]
    reasons = price_reasons(order_type, new_lines, account.max_discount_pct, list_prices)
    increase = proposal.new_total - proposal.previous_total
    if order_type in CREDIT_CHECKED_TYPES and increase > 0 and account.exposure + increase > account.credit_limit:
        reasons.append(f"credit limit exceeded: exposure {account.exposure} + increase {increase} "
                       f"> limit {account.credit_limit}")
    return "; ".join(reasons) or None


# --- payment terms and the joint review ---------------------------------------------------------

def terms_review(requested: int | None, agreed: int, negotiable: int | None) -> tuple[str | None, str | None]:
    """(reason to reject, condition to approve under) for requested payment terms: within the
    agreement -> fine; beyond it, up to what finance may negotiate (default: agreed + 30 days) ->
    approvable in a joint review; further -> rejected."""
    if requested is None or requested <= agreed:
        return None, None
    limit = negotiable if negotiable is not None else agreed + 30
    if requested > limit:
        return (f"payment terms net {requested} beyond what can be agreed (agreed net {agreed}, at most net {limit})",
                None)
    return None, f"payment terms net {requested} instead of the agreed net {agreed}"


def terms_outside_agreement(requested: int | None, agreed: int, approved_by: str | None) -> str | None:
    """CheckCredit: terms beyond the agreement need a joint review a sales manager approved."""
    if requested is None or requested <= agreed or approved_by:
        return None
    return f"payment terms net {requested} outside the agreed net {agreed}: a joint review must approve them"


NEAR_LIMIT_SHARE = Decimal("0.90")


def review_order(order_type: OrderType, lines: list[PricedLine], total: Decimal, account: CreditAccount,
                 list_prices: dict[str, Decimal], *, requested_terms: int | None, agreed_terms: int,
                 negotiable_terms: int | None) -> tuple[list[str], list[str]]:
    """Finance's opinion in a joint review: (reasons to reject, conditions). Credit and price as for
    the credit check, nothing held yet; payment terms against the agreement."""
    reasons = review(order_type, lines, total, account, list_prices)
    conditions = []
    if not reasons and order_type in CREDIT_CHECKED_TYPES and account.credit_limit > 0 \
            and account.exposure + total >= NEAR_LIMIT_SHARE * account.credit_limit:
        conditions.append(f"uses {((account.exposure + total) / account.credit_limit):.0%} of the credit limit")
    refusal, condition = terms_review(requested_terms, agreed_terms, negotiable_terms)
    if refusal:
        reasons.append(refusal)
    if condition:
        conditions.append(condition)
    return reasons, conditions


def credit_level(exposure: Decimal, limit: Decimal, refused_amount: Decimal | None = None) -> str | None:
    """The customer's credit risk: over_limit (an order was just refused for the limit), near_limit
    (exposure at 90 % of the limit or more), or None."""
    if refused_amount is not None and exposure + refused_amount > limit:
        return "over_limit"
    if limit > 0 and exposure >= NEAR_LIMIT_SHARE * limit:
        return "near_limit"
    return None


def overdue(due_date: dt.date, today: dt.date, outstanding: Decimal) -> bool:
    return outstanding > 0 and due_date < today
