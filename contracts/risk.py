"""Risks: typed early warnings about an order, a customer, a SKU, a supplier or a carrier.

Each department detects its own risks and publishes them on its own events topic
(`<dept>.risk_raised` / `<dept>.risk_closed`, the shapes below): the broker lets only that
department write there, so no department can raise or close a risk in another's name. Sales
copies each one onto the company's risk feed, `risk.events.v1` (`risk.raised` / `risk.closed`),
setting `department` from the topic it read the risk from, never from the payload; sales is the
feed's only writer. People and systems subscribe to the feed; `GET /risks` on sales lists the
open ones.

A risk has a stable `risk_id` (e.g. `carrier.eta_passed:SHP-1`): raising a known open risk again
updates it (a new severity or summary); it is closed (`*_closed`) when its cause goes away.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Message, utcnow

RISK_EVENTS = "risk.events.v1"


class RiskKind(StrEnum):
    CREDIT = "credit"        # a customer near or over the credit limit, overdue invoices
    STOCK = "stock"          # below the reorder point, a projected stock-out for open orders
    SUPPLIER = "supplier"    # no confirmation, a promise later than needed, a late delivery
    CARRIER = "carrier"      # an ETA passed without delivery, tracking silent for too long
    ORDER = "order"          # anything else about one order


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class RiskSubject(BaseModel):
    """What the risk is about; only the fields that apply are set."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: str | None = None
    customer_id: str | None = None
    sku: str | None = None
    supplier_id: str | None = None
    purchase_order_id: str | None = None
    carrier: str | None = None
    shipment_id: str | None = None
    invoice_number: str | None = None


class RiskRaisedShape(Message):
    """A risk detected (or updated: same `risk_id`, new severity or summary)."""

    risk_id: str = Field(min_length=1, max_length=200, description="Stable key: '<kind>.<cause>:<subject>'")
    kind: RiskKind
    cause: str = Field(description="What was detected, e.g. 'eta_passed', 'near_limit', 'promise_late'")
    severity: Severity = Severity.WARNING
    department: str = Field(description="The department that owns the risk (and detected it)")
    owner_role: str = Field(description="The role that acts on it, e.g. 'logistics'")
    summary: str
    subject: RiskSubject = Field(default_factory=RiskSubject)
    detected_at: dt.datetime = Field(default_factory=utcnow)


class RiskClosedShape(Message):
    """The cause of a risk went away (paid, delivered, re-booked, restocked, ...)."""

    risk_id: str
    kind: RiskKind
    cause: str
    department: str
    reason: str
    subject: RiskSubject = Field(default_factory=RiskSubject)
    closed_at: dt.datetime = Field(default_factory=utcnow)


# --- the company's risk feed (written by sales only) ---------------------------------------

class RiskRaised(RiskRaisedShape):
    TYPE: ClassVar[str] = "risk.raised"
    TOPIC: ClassVar[str] = RISK_EVENTS


class RiskClosed(RiskClosedShape):
    TYPE: ClassVar[str] = "risk.closed"
    TOPIC: ClassVar[str] = RISK_EVENTS
