"""Dunning and credit hold, the rules (pure): which reminder level an overdue invoice has reached,
what a level charges (fee, interest), and when a customer goes on (or comes off) credit hold.

Configuration (finance settings, seconds so that tests can walk through the levels quickly):
    ORDERFLOW_DUNNING_LEVELS            JSON list, e.g. [{"name": "reminder", "after_seconds": 604800},
                                        {"name": "second reminder", "after_seconds": 1814400, "fee": "5.00"},
                                        {"name": "final notice", "after_seconds": 3024000, "fee": "10.00",
                                         "interest_rate_pct": "8"}]
    ORDERFLOW_CREDIT_HOLD_OVERDUE_SECONDS  a customer with an invoice overdue longer than this is on hold
    ORDERFLOW_CREDIT_HOLD_MIN_OVERDUE      ... and at least this much overdue in total (default 0.01)
    ORDERFLOW_CREDIT_HOLD_POLICY           wait | reject: new standard orders of a customer on hold
                                        (a customer's own `credit_hold_policy` wins)

Only shipment invoices are dunned: a prepayment has its own deadline (the order is cancelled when it
passes) and a charge invoice (fees, interest) is not dunned again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field

CENT = Decimal("0.01")
DUNNED_KINDS = ("shipment",)
POLICIES = ("wait", "reject")


class DunningLevel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    after_seconds: float = Field(ge=0, description="Reached this long after the due date")
    fee: Decimal = Field(default=Decimal("0.00"), ge=0, max_digits=10, decimal_places=2)
    interest_rate_pct: Decimal = Field(default=Decimal("0"), ge=0, le=100,
                                       description="Per year, on what is overdue, for the time overdue")


DEFAULT_LEVELS = (
    DunningLevel(name="reminder", after_seconds=7 * 86400),
    DunningLevel(name="second reminder", after_seconds=21 * 86400),
    DunningLevel(name="final notice", after_seconds=35 * 86400),
)


def check_levels(levels: list[DunningLevel] | tuple[DunningLevel, ...]) -> tuple[DunningLevel, ...]:
    """Levels must come later one after the other (a misordered configuration fails at start-up)."""
    times = [level.after_seconds for level in levels]
    if times != sorted(times) or len(set(times)) != len(times):
        raise ValueError(f"dunning levels must be strictly increasing in after_seconds, got {times}")
    return tuple(levels)


@dataclass(frozen=True)
class Reminder:
    level: int                 # 1-based
    name: str
    fee: Decimal
    interest: Decimal

    @property
    def charge(self) -> Decimal:
        return self.fee + self.interest


def next_reminder(levels: tuple[DunningLevel, ...], *, due_at: dt.datetime, now: dt.datetime, last_level: int,
                  outstanding: Decimal) -> Reminder | None:
    """The next level an open invoice has reached and not yet had, or None. One level at a time:
    a late sweep walks the levels on its following runs instead of sending three letters at once."""
    if outstanding <= 0 or last_level >= len(levels):
        return None
    level = levels[last_level]
    overdue = (now - due_at).total_seconds()
    if overdue < level.after_seconds or overdue <= 0:
        return None
    return Reminder(level=last_level + 1, name=level.name, fee=level.fee.quantize(CENT),
                    interest=interest(outstanding, level.interest_rate_pct, overdue))


def interest(outstanding: Decimal, rate_pct: Decimal, overdue_seconds: float) -> Decimal:
    """Simple interest per year on the overdue amount for the time overdue, to the cent."""
    if rate_pct <= 0 or overdue_seconds <= 0:
        return Decimal("0.00")
    years = Decimal(str(overdue_seconds)) / Decimal(365 * 86400)
    return (outstanding * rate_pct / 100 * years).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Overdue:
    invoice_number: str
    outstanding: Decimal
    due_at: dt.datetime


def hold_reason(overdue: list[Overdue], *, now: dt.datetime, threshold_seconds: float,
                min_amount: Decimal) -> str | None:
    """Why the customer belongs on credit hold, or None: an invoice overdue longer than the threshold
    and enough overdue in total."""
    late = [o for o in overdue if o.outstanding > 0 and (now - o.due_at).total_seconds() > threshold_seconds]
    total = sum((o.outstanding for o in late), Decimal("0.00"))
    if not late or total < min_amount:
        return None
    oldest = min(late, key=lambda o: o.due_at)
    days = int((now - oldest.due_at).total_seconds() // 86400)
    names = ", ".join(o.invoice_number for o in sorted(late, key=lambda o: o.due_at))
    return f"{total.quantize(CENT)} overdue ({names}; oldest due {oldest.due_at:%Y-%m-%d %H:%M:%S}Z, {days} days)"


def policy_for(customer_policy: str | None, default: str) -> str:
    policy = customer_policy or default
    if policy not in POLICIES:
        raise ValueError(f"credit hold policy {policy!r}: expected one of {', '.join(POLICIES)}")
    return policy


def held_back_reason(customer_id: str, hold_reason_text: str, policy: str) -> str:
    """What the order's timeline (and the customer's clerk) reads."""
    verb = "waits for finance" if policy == "wait" else "rejected"
    return f"customer {customer_id} is on credit hold ({hold_reason_text}): new orders {verb} until it is paid"
