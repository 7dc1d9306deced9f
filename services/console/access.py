"""Who sees which console page: the roles of the department endpoints behind it (README, "HTTP: who
may do what"). Routes declare these with `needs(...)`; the navigation shows a page only to those
roles; tests/unit/test_console_access.py checks each set against the APIs' own `requires(...)`, so
the console never offers a page whose API would refuse the user."""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.roles import (ALL, AUDITOR, CLERK, FINANCE, LOGISTICS, OPERATOR, PROCUREMENT, SALES_MANAGER,
                                    WAREHOUSE)

ORDER_READERS = (CLERK, SALES_MANAGER, OPERATOR, AUDITOR)          # sales GET /orders, /orders/{id}
ORDER_PLACERS = (CLERK, SALES_MANAGER)                             # sales POST /orders
ORDER_CHANGERS = (SALES_MANAGER, CLERK)                            # changes, cancel (a clerk: own orders)
APPROVERS = (SALES_MANAGER,)                                       # approve, review
REVIEW_READERS = (SALES_MANAGER, OPERATOR, AUDITOR)                # GET /reviews
DECIDERS = (SALES_MANAGER, PROCUREMENT, LOGISTICS)                 # POST /orders/{id}/decision
DECISION_READERS = (SALES_MANAGER, PROCUREMENT, LOGISTICS, OPERATOR, AUDITOR)   # GET /decisions
ALERT_READERS = (SALES_MANAGER, OPERATOR, AUDITOR)                 # GET /alerts
RETRIERS = (OPERATOR,)                                             # compensations/retry
DEAD_LETTER_READERS = (OPERATOR, AUDITOR)                          # GET /dead-letters (every service)
DEAD_LETTER_ACTORS = (OPERATOR,)                                   # replay / skip (when the API has them)
LAG_READERS = (OPERATOR, AUDITOR)                                  # the console's own lag page
RISK_READERS = (SALES_MANAGER, FINANCE, WAREHOUSE, LOGISTICS, PROCUREMENT, OPERATOR, AUDITOR)
SHIPMENT_READERS = (LOGISTICS, OPERATOR, AUDITOR)                  # logistics GET /shipments
MONEY_READERS = (FINANCE, AUDITOR)                                 # finance GET /invoices, /payments
STOCK_READERS = (WAREHOUSE, PROCUREMENT, CLERK, SALES_MANAGER, OPERATOR, AUDITOR)   # warehouse GET /stock
KPI_READERS = (SALES_MANAGER, FINANCE, AUDITOR)                    # sales GET /kpis (when it exists)
ANYONE = ALL


@dataclass(frozen=True)
class Page:
    path: str
    label: str
    roles: tuple[str, ...]


NAVIGATION = (
    Page("/orders", "Orders", ORDER_READERS),
    Page("/orders/new", "Place order", ORDER_PLACERS),
    Page("/approvals", "Approvals", REVIEW_READERS),
    Page("/decisions", "Decisions", DECISION_READERS),
    Page("/alerts", "Alerts", ALERT_READERS),
    Page("/risks", "Risks", RISK_READERS),
    Page("/kpis", "KPIs", KPI_READERS),
    Page("/dead-letters", "Dead letters", DEAD_LETTER_READERS),
    Page("/lag", "Consumer lag", LAG_READERS),
)


def pages_for(roles: frozenset[str]) -> list[Page]:
    return [page for page in NAVIGATION if roles & set(page.roles)]
