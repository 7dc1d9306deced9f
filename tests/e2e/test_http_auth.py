"""HTTP authentication, roles and audit on the real stack: every endpoint but /health needs a valid
bearer token; roles decide who may do what; every action is on the audit log, on the order's
timeline, and in the envelope of the messages it causes (`initiated_by`)."""

from __future__ import annotations

import json
import re
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.cli.stack import SERVICES
from services.runtime import dev_issuer
from services.runtime.tokens import AuthSettings
from tests.e2e.conftest import E2E
from tests.e2e.masterdata import new_product


def actions(order: dict, action: str) -> list[dict]:
    return [e["detail"] for e in order["timeline"] if e["kind"] == "action" and e["type"] == action]


def wait_status(e2e: E2E, order_id: str, *statuses: str) -> dict:
    return e2e.wait_for(f"{order_id} in {statuses}", lambda: (o := e2e.order(order_id))["status"] in statuses and o)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forged(kid: str | None = None, **claims: object) -> str:
    """A well-formed token signed by a key the services never saw."""
    settings = AuthSettings()
    now = int(time.time())
    body = {"iss": settings.issuer, "aud": settings.audience, "sub": "mallory", "roles": ["sales_manager"],
            "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                      headers={"kid": kid} if kid else None)


def real_kid() -> str:
    return jwt.get_unverified_header(dev_issuer.issue_token("probe", ["auditor"]))["kid"]


# --- authentication ----------------------------------------------------------------------------

def test_every_endpoint_but_health_needs_a_token(e2e: E2E) -> None:
    for service in SERVICES:
        base = e2e.stack.url(service)
        assert httpx.get(f"{base}/health/live").status_code == 200
        assert httpx.get(f"{base}/metrics").status_code == 200             # ORDERFLOW_METRICS_PUBLIC default
        for path in ("/openapi.json", "/docs", "/asyncapi.json", "/dead-letters", "/audit", "/no-such-path"):
            response = httpx.get(f"{base}{path}")
            assert response.status_code == 401, (service, path, response.status_code)
            assert response.headers["www-authenticate"] == 'Bearer realm="orderflow"'
            assert "missing bearer token" in response.json()["detail"]
    response = httpx.post(f"{e2e.stack.url('sales')}/orders",
                          json={"customer_id": "CUST-ACME", "lines": [{"sku": "SKU-BOLT-M8", "quantity": 1}]})
    assert response.status_code == 401


@pytest.mark.parametrize("label, make, message", [
    ("expired", lambda: dev_issuer.issue_token("clara", ["clerk"], issued_at=time.time() - 7200, ttl_seconds=60),
     "token expired"),
    ("wrong audience", lambda: dev_issuer.issue_token("clara", ["clerk"], audience="another-api"),
     "token is not meant for this API"),
    ("wrong issuer", lambda: dev_issuer.issue_token("clara", ["clerk"], issuer="https://evil.example"),
     "untrusted issuer"),
    ("forged signature", lambda: forged(kid=real_kid()), "signature is invalid"),
    ("another key", lambda: forged(kid="someone-elses-key"), "unknown key"),
    ("malformed", lambda: "not-a-jwt", "malformed token"),
    ("alg none", lambda: jwt.encode({"sub": "mallory", "roles": ["operator"]}, None, algorithm="none"),
     "is not accepted"),
    ("HMAC", lambda: jwt.encode({"sub": "mallory", "roles": ["operator"]}, "a-guessed-secret-of-32-bytes-len",
                                algorithm="HS256"), "is not accepted"),
    ("no expiry", lambda: dev_issuer.sign({"iss": AuthSettings().issuer, "aud": AuthSettings().audience,
                                           "sub": "clara", "iat": int(time.time()), "roles": ["clerk"]}),
     "lacks the 'exp' claim"),
])
def test_invalid_tokens_get_401_with_the_reason_never_500(e2e: E2E, label: str, make, message: str) -> None:
    token = make()
    for service in ("sales", "finance"):
        response = httpx.get(f"{e2e.stack.url(service)}/dead-letters", headers=bearer(token))
        assert response.status_code == 401, (label, service, response.status_code, response.text)
        assert message in response.json()["detail"], (label, response.json())
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="orderflow", error="invalid_token", error_description="'), challenge
    wrong_scheme = httpx.get(f"{e2e.stack.url('sales')}/orders", headers={"Authorization": f"Basic {token}"})
    assert wrong_scheme.status_code == 401 and 'error="invalid_request"' in wrong_scheme.headers["www-authenticate"]


# --- roles -------------------------------------------------------------------------------------

def test_departments_read_their_own_records_and_the_auditor_reads_everything(e2e: E2E) -> None:
    def status(service: str, path: str, user: str) -> int:
        return e2e.http.get(f"{e2e.stack.url(service)}{path}", headers=e2e.as_user(user)).status_code

    assert status("finance", "/invoices", "fiona") == 200
    assert status("finance", "/invoices", "wanda") == 403                 # money is finance's
    assert status("finance", "/customers/CUST-ACME/credit", "maria") == 200
    assert status("finance", "/customers/CUST-ACME/credit", "clara") == 403
    assert status("sales", "/orders", "leo") == 403                       # orders carry addresses
    assert status("warehouse", "/stock", "clara") == 200                  # availability, for promises
    assert status("warehouse", "/reservations", "clara") == 403
    assert status("procurement", "/suppliers", "oscar") == 403            # costs: not for operators
    assert status("sales", "/dead-letters", "clara") == 403
    assert status("sales", "/dead-letters", "oscar") == 200
    for service in SERVICES:
        assert status(service, "/audit", "audrey") == 200
        assert status(service, "/audit", "clara") == 403
    refused = e2e.http.get(f"{e2e.stack.url('finance')}/invoices", headers=e2e.as_user("wanda"))
    assert refused.json()["detail"] == "GET /invoices needs one of the roles finance, auditor; wanda has warehouse"
    nobody = e2e.http.get(f"{e2e.stack.url('sales')}/orders", headers=e2e.as_user("walk-in"))
    assert nobody.status_code == 403 and "walk-in has no role" in nobody.json()["detail"]


async def test_sample_approval_needs_a_sales_manager_and_the_whole_chain_knows_who_asked(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=5)
    placed = e2e.post("sales", "/orders", {"customer_id": "CUST-ACME", "order_type": "sample",
                                           "lines": [{"sku": sku, "quantity": 1}]}, headers=e2e.as_user("clara"))
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    wait_status(e2e, order_id, "awaiting_approval")

    refused = e2e.post("sales", f"/orders/{order_id}/approve", headers=e2e.as_user("clara"))
    assert refused.status_code == 403 and "sales_manager" in refused.json()["detail"]
    approved = e2e.post("sales", f"/orders/{order_id}/approve", headers=e2e.as_user("maria"))
    assert approved.status_code == 202, approved.text
    order = e2e.wait_final(order_id)
    assert order["status"] == "completed" and order["placed_by"] == "clara"

    # The timeline names the user of each action, and who asked for what each department did.
    assert [(a["user"], a["name"], a["role"]) for a in actions(order, "place")] == [("clara", "Clara Clerk", "clerk")]
    assert [(a["user"], a["role"]) for a in actions(order, "approve")] == [("maria", "sales_manager")]
    reserved = next(e for e in order["timeline"] if e["type"] == "warehouse.stock_reserved")
    assert reserved["initiated_by"] == {"subject": "maria", "name": "Maria Manager", "role": "sales_manager"}

    # On Kafka: the placement carries the clerk, the warehouse's answer to the approved order the manager.
    placed_events = await e2e.read_topic("sales.events.v1", until=lambda recs: any(
        r["value"]["type"] == "sales.order_placed" and r["value"]["correlation_id"] == order_id for r in recs))
    placed_event = next(r["value"] for r in placed_events if r["value"]["correlation_id"] == order_id
                        and r["value"]["type"] == "sales.order_placed")
    assert placed_event["initiated_by"] == {"subject": "clara", "name": "Clara Clerk", "role": "clerk"}
    warehouse_events = await e2e.read_topic("warehouse.events.v1", until=lambda recs: any(
        r["value"]["type"] == "warehouse.stock_reserved" and r["value"]["correlation_id"] == order_id for r in recs))
    stock_reserved = next(r["value"] for r in warehouse_events if r["value"]["correlation_id"] == order_id
                          and r["value"]["type"] == "warehouse.stock_reserved")
    assert stock_reserved["initiated_by"]["subject"] == "maria"
    assert stock_reserved["producer"] == "warehouse"                      # carried on by another department
    moves = await e2e.rows("warehouse", "SELECT kind, initiated_by FROM stock_movements WHERE order_id = $1", order_id)
    reserved_by = [json.loads(m["initiated_by"])["subject"] for m in moves if m["kind"] == "reserved"]
    assert reserved_by == ["maria"]                                      # the warehouse's own record says who

    # The audit log: the refusal and the approval, with subject and source address.
    audit = e2e.get("sales", "/audit", order_id=order_id)
    seen = [(a["subject"], a["role"], a["method"], a["path"].rsplit("/", 1)[-1], a["status"], a["source"])
            for a in reversed(audit)]
    assert seen == [("clara", "clerk", "POST", "orders", 201, "127.0.0.1"),
                    ("clara", None, "POST", "approve", 403, "127.0.0.1"),
                    ("maria", "sales_manager", "POST", "approve", 202, "127.0.0.1")]
    assert audit[0]["roles"] == ["sales_manager"] and audit[0]["name"] == "Maria Manager"
    assert audit[-1]["request"]["lines"] == [{"sku": sku, "quantity": 1}]      # what was asked
    assert "sales_manager" in audit[1]["outcome"]
    assert order_id in [a["order_id"] for a in e2e.get("sales", "/audit", subject="maria")]


async def test_a_clerk_changes_and_cancels_only_their_own_orders(e2e: E2E) -> None:
    sku = await new_product(e2e, stock=0, suppliers=["SUP-T-SLOW"])        # waits for stock: stays open
    placed = e2e.post("sales", "/orders", {"customer_id": "CUST-ACME", "lines": [{"sku": sku, "quantity": 2}]},
                      headers=e2e.as_user("clara"))
    order_id = placed.json()["order_id"]
    wait_status(e2e, order_id, "awaiting_stock")

    other = e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "not mine"}, headers=e2e.as_user("colin"))
    assert other.status_code == 403
    assert "only the orders they placed" in other.json()["detail"] and "clara" in other.json()["detail"]
    other = e2e.post("sales", f"/orders/{order_id}/changes", {"lines": [{"sku": sku, "quantity": 1}]},
                     headers=e2e.as_user("colin"))
    assert other.status_code == 403
    assert e2e.order(order_id)["status"] == "awaiting_stock"

    change = e2e.post("sales", f"/orders/{order_id}/changes", {"lines": [{"sku": sku, "quantity": 3}]},
                      headers=e2e.as_user("clara"))
    assert change.status_code == 202, change.text
    e2e.wait_for("revision 2", lambda: e2e.order(order_id)["revision"] == 2)
    wait_status(e2e, order_id, "awaiting_stock")
    cancel = e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "customer withdrew", "password": "hunter2"},
                      headers=e2e.as_user("clara"))
    assert cancel.status_code == 202, cancel.text
    order = e2e.wait_final(order_id)
    assert order["status"] == "cancelled"
    assert [(a["user"], a["lines"]) for a in actions(order, "change")] == [("clara", [{"sku": sku, "quantity": 3}])]
    assert [(a["user"], a["role"], a["reason"]) for a in actions(order, "cancel")] == \
        [("clara", "clerk", "customer withdrew")]
    audit = e2e.get("sales", "/audit", order_id=order_id)
    refusals = [a for a in audit if a["status"] == 403]
    assert {(a["subject"], a["path"].rsplit("/", 1)[-1]) for a in refusals} == {("colin", "cancel"), ("colin", "changes")}
    cancelled = next(a for a in audit if a["path"].endswith("/cancel") and a["status"] == 202)
    assert cancelled["request"] == {"reason": "customer withdrew", "password": "***"}    # never a secret


def test_a_sales_manager_cancels_any_order(e2e: E2E) -> None:
    placed = e2e.post("sales", "/orders", {"customer_id": "CUST-SLOW", "order_type": "prepaid_at_order",
                                           "lines": [{"sku": "SKU-GEAR-40", "quantity": 1}]}, headers=e2e.as_user("colin"))
    order_id = placed.json()["order_id"]
    wait_status(e2e, order_id, "awaiting_payment")
    response = e2e.post("sales", f"/orders/{order_id}/cancel", {"reason": "duplicate"}, headers=e2e.as_user("maria"))
    assert response.status_code == 202, response.text
    order = e2e.wait_final(order_id)
    assert [(a["user"], a["role"]) for a in actions(order, "cancel")] == [("maria", "sales_manager")]


def test_refused_and_anonymous_requests_are_audited(e2e: E2E) -> None:
    expired = dev_issuer.issue_token("clara", ["clerk"], issued_at=time.time() - 7200, ttl_seconds=60)
    assert httpx.post(f"{e2e.stack.url('finance')}/invoices", headers=bearer(expired)).status_code == 401
    entries = e2e.wait_for("the refusal on finance's audit log", lambda: [
        a for a in e2e.get("finance", "/audit", limit=20) if a["path"] == "/invoices" and a["status"] == 401])
    assert entries[0]["subject"] is None and entries[0]["outcome"] == "token expired"
    assert entries[0]["source"] == "127.0.0.1"


def test_no_token_or_key_in_any_log(e2e: E2E) -> None:
    """Runs late in this module: the services have seen every kind of token by now."""
    logs = {path.name: path.read_text(errors="replace") for path in e2e.stack.run_dir.glob("*.log")}
    assert logs
    key = (dev_issuer.key_dir() / dev_issuer.KEY_FILE).read_text()
    secret_lines = [line for line in key.splitlines() if "-----" not in line]
    for name, text in logs.items():
        assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", text), f"a JWT in {name}"
        assert not re.search(r"(?i)authorization:|bearer [\w-]{20,}", text), f"an Authorization header in {name}"
        assert not any(token in text for token in e2e.issued_tokens()), name
        assert not any(line in text for line in secret_lines), f"the dev issuer's key in {name}"
