"""The README's role table is what the services enforce: every route of the five apps has roles
(`requires(...)`), and those roles are exactly the table's. Also the table's policy: the auditor
reads everything and changes nothing; money and supplier costs are not for operators."""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import pytest

from services.cli.stack import SERVICES
from services.runtime import http_auth, roles

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_IN_OPENAPI = {"/openapi.json", "/docs"}     # FastAPI's own pages: behind the token, any role


def readme_table() -> dict[tuple[str, str, str], frozenset[str] | None]:
    """(service, method, path) -> roles (None: public) as the README says."""
    text = README.read_text()
    table = text[text.index("<!-- role-table"):text.index("<!-- /role-table -->")]
    entries: dict[tuple[str, str, str], frozenset[str] | None] = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("service", "---"):
            continue
        services = SERVICES if cells[0] == "every service" else (cells[0],)
        if cells[2].startswith("anyone"):
            allowed = None
        elif cells[2] == "any role":
            allowed = frozenset(roles.ALL)
        else:
            allowed = frozenset(w for w in re.findall(r"[a-z_]+", cells[2]) if w in roles.ALL)
        for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) ([^`]+)`", cells[1]):
            for service in services:
                entries[(service, method, path)] = allowed
    return entries


@functools.cache
def enforced() -> dict[tuple[str, str, str], frozenset[str] | None]:
    """Imported inside the tests (not at collection), where unit tests' Kafka credentials are set."""
    table = {}
    for service in SERVICES:
        app = importlib.import_module(f"services.{service}.app").service.http
        for (method, path), allowed in http_auth.route_roles(app).items():
            table[(service, method, path)] = frozenset(allowed) if allowed else None
    return table


DOCUMENTED = readme_table()


def test_the_readme_table_is_what_the_services_enforce():
    documented = {k: v for k, v in DOCUMENTED.items() if k[2] not in NOT_IN_OPENAPI}
    assert set(documented) == set(enforced()), (
        f"in the README only: {sorted(set(documented) - set(enforced()))}; "
        f"in the services only: {sorted(set(enforced()) - set(documented))}")
    differing = {k: (documented[k], enforced()[k]) for k in enforced() if documented[k] != enforced()[k]}
    assert not differing, f"README vs services (README, enforced): {differing}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_but_health_and_metrics_needs_a_role(service):
    public = {path for (s, _, path), allowed in enforced().items() if s == service and allowed is None}
    assert public == {"/health/live", "/health/ready", "/metrics"}


def test_the_auditor_reads_everything_and_changes_nothing():
    for (service, method, path), allowed in enforced().items():
        if allowed is None:
            continue
        assert (roles.AUDITOR in allowed) == (method == "GET"), (service, method, path)


def test_sensitive_reads():
    money = [k for k in enforced() if k[0] == "finance" and k[2] != "/asyncapi.json" and k[2] != "/audit"
             and not k[2].startswith("/dead-letters")]     # dead letters are the operator's tool in every service
    assert money and all(roles.OPERATOR not in (enforced()[k] or ()) for k in money)
    assert enforced()[("procurement", "GET", "/suppliers")] == {roles.PROCUREMENT, roles.AUDITOR}
    assert enforced()[("sales", "GET", "/orders/{order_id}")] == {roles.CLERK, roles.SALES_MANAGER, roles.OPERATOR,
                                                               roles.AUDITOR}
    for service in SERVICES:
        assert enforced()[(service, "GET", "/dead-letters")] == enforced()[(service, "GET", "/audit")] == \
            {roles.OPERATOR, roles.AUDITOR}
        for action in ("/dead-letters/{letter_id}/replay", "/dead-letters/{letter_id}/skip", "/dead-letters/purge"):
            assert enforced()[(service, "POST", action)] == {roles.OPERATOR}


def test_only_a_sales_manager_approves_and_only_an_operator_retries():
    assert enforced()[("sales", "POST", "/orders/{order_id}/approve")] == {roles.SALES_MANAGER}
    assert enforced()[("sales", "POST", "/orders/{order_id}/compensations/retry")] == {roles.OPERATOR}
