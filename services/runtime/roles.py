"""The roles people hold (the token's roles claim). Which role may call which endpoint is declared
beside the endpoint with `requires(...)` (http_auth.py); the README's role table lists them all and
tests/unit/test_role_table.py keeps the two in step."""

from __future__ import annotations

CLERK = "clerk"                  # places orders; changes and cancels the orders they placed
SALES_MANAGER = "sales_manager"  # approves samples and major orders; changes and cancels any order
FINANCE = "finance"
WAREHOUSE = "warehouse"
LOGISTICS = "logistics"
PROCUREMENT = "procurement"
OPERATOR = "operator"            # alerts, compensation retry, dead letters, audit
AUDITOR = "auditor"              # reads everything, changes nothing

ALL = (CLERK, SALES_MANAGER, FINANCE, WAREHOUSE, LOGISTICS, PROCUREMENT, OPERATOR, AUDITOR)
