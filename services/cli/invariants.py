"""Cross-department invariants, read straight from each department's own database (as that
department's role). Used after every saga scenario of the e2e suite (per order) and by the chaos
run (`orderflow chaos`, over the whole database).

- stock is conserved: on_hand = the movement ledger, `reserved` = the open reservations, and
  0 <= reserved <= on_hand (never oversold);
- money balances per order: invoiced - credited = paid - refunded + outstanding, nothing owed back;
- every order is final or in a state the saga can explain (with a reason unless completed);
- a completed order is delivered everywhere and paid in finance's ledger (nothing outstanding,
  billed = paid net of refunds), unless it is a sample (never billed, nothing paid);
- a completed or cancelled order holds no credit; a cancelled one no reservation and no booking;
- the saga's view equals each department's: its shipments are the warehouse's dispatches and
  logistics' shipments under way, its invoices are finance's, its payment count is finance's;
- no effect twice: one dispatch per shipment, one invoice per shipment reference; nothing in a
  department that sales does not know of (whole-database mode).

`collect` reads a `Snapshot`; `check` is pure (unit-tested in tests/unit/test_invariants.py).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from services.runtime.config import Settings

FINAL = {"completed", "rejected", "cancelled"}
EXPLAINABLE = {"awaiting_stock", "awaiting_payment", "awaiting_approval", "backordered", "shipped", "cancelling"}
UNDER_WAY = {"in_transit", "returning", "returned", "delivered"}      # logistics: handed over to a carrier
BOOKED = {"requested", "booked"}
ZERO = Decimal("0.00")


@dataclass
class Snapshot:
    """What each department's database says (rows as dicts), for some orders or for all."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    money: list[dict[str, Any]] = field(default_factory=list)       # per order: invoiced, credited, paid, ...
    reservations: list[dict[str, Any]] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    stock: list[dict[str, Any]] = field(default_factory=list)       # per SKU: on_hand, reserved, ledger, open
    whole_database: bool = False


@dataclass
class Report:
    checked_orders: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.doubled


# --- reading ---------------------------------------------------------------------------------------

ORDERS_SQL = ("SELECT order_id::text, order_number, status, status_reason, order_type, saga FROM orders"
              " WHERE $1::text[] IS NULL OR order_id::text = ANY($1)")
HOLDS_SQL = "SELECT order_id, status, amount FROM credit_holds WHERE $1::text[] IS NULL OR order_id = ANY($1)"
INVOICES_SQL = ("SELECT invoice_number, order_id, shipment_ref, amount FROM invoices"
                " WHERE $1::text[] IS NULL OR order_id = ANY($1)")
PAYMENTS_SQL = "SELECT payment_ref, order_id, amount FROM payments WHERE $1::text[] IS NULL OR order_id = ANY($1)"
MONEY_SQL = """
SELECT o.order_id,
       COALESCE((SELECT sum(amount) FROM invoices WHERE order_id = o.order_id), 0) AS invoiced,
       COALESCE((SELECT sum(amount) FROM credit_notes WHERE order_id = o.order_id), 0) AS credited,
       COALESCE((SELECT sum(amount) FROM payments WHERE order_id = o.order_id), 0) AS paid,
       COALESCE((SELECT sum(amount) FROM refunds WHERE order_id = o.order_id), 0) AS refunded,
       COALESCE((SELECT sum(outstanding) FROM invoice_balances WHERE order_id = o.order_id), 0) AS outstanding
FROM (SELECT DISTINCT order_id FROM invoices UNION SELECT order_id FROM payments
      UNION SELECT order_id FROM credit_holds) o
WHERE $1::text[] IS NULL OR o.order_id = ANY($1)
"""
RESERVATIONS_SQL = ("SELECT order_id, sku, status, quantity_requested, quantity_reserved, quantity_shipped"
                    " FROM reservations WHERE $1::text[] IS NULL OR order_id = ANY($1)")
DISPATCHES_SQL = "SELECT shipment_id, order_id FROM dispatches WHERE $1::text[] IS NULL OR order_id = ANY($1)"
SHIPMENTS_SQL = "SELECT shipment_id, order_id, status FROM shipments WHERE $1::text[] IS NULL OR order_id = ANY($1)"
STOCK_SQL = """
SELECT s.sku, s.on_hand, s.reserved,
       COALESCE((SELECT sum(delta_on_hand) FROM stock_movements m WHERE m.sku = s.sku), 0) AS ledger,
       COALESCE((SELECT sum(quantity_reserved) FROM reservations r WHERE r.sku = s.sku AND r.status = 'open'), 0)
           AS open_reservations
FROM stock s WHERE $1::text[] IS NULL OR s.sku = ANY($1)
"""


async def _fetch(settings: Settings, service: str, queries: dict[str, tuple[str, Any]]) -> dict[str, list[dict]]:
    conn = await asyncpg.connect(settings.model_copy(update={"service": service}).dsn(), timeout=30)
    try:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        async with conn.transaction(isolation="repeatable_read", readonly=True):   # one consistent view
            return {name: [dict(r) for r in await conn.fetch(sql, arg)] for name, (sql, arg) in queries.items()}
    finally:
        await conn.close()


async def collect(settings: Settings, order_ids: list[str] | None = None, skus: list[str] | None = None
                  ) -> Snapshot:
    """Read every department (concurrently); `order_ids=None` means every order, `skus=None` every SKU."""
    ids = list(order_ids) if order_ids is not None else None
    sales, finance, warehouse, logistics = await asyncio.gather(
        _fetch(settings, "sales", {"orders": (ORDERS_SQL, ids)}),
        _fetch(settings, "finance", {"holds": (HOLDS_SQL, ids), "invoices": (INVOICES_SQL, ids),
                                     "payments": (PAYMENTS_SQL, ids), "money": (MONEY_SQL, ids)}),
        _fetch(settings, "warehouse", {"reservations": (RESERVATIONS_SQL, ids), "dispatches": (DISPATCHES_SQL, ids),
                                       "stock": (STOCK_SQL, list(skus) if skus is not None else None)}),
        _fetch(settings, "logistics", {"shipments": (SHIPMENTS_SQL, ids)}))
    return Snapshot(**sales, **finance, **warehouse, **logistics, whole_database=order_ids is None)


# --- checking --------------------------------------------------------------------------------------

def check(snap: Snapshot) -> Report:
    report = Report(checked_orders=len(snap.orders))
    fail = report.failures.append
    by_order: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for name in ("holds", "invoices", "payments", "money", "reservations", "dispatches", "shipments"):
        for row in getattr(snap, name):
            by_order[row["order_id"]][name].append(row)

    for s in snap.stock:
        if s["on_hand"] != s["ledger"]:
            fail(f"stock {s['sku']}: on_hand {s['on_hand']} != movement ledger {s['ledger']}")
        if s["reserved"] != s["open_reservations"]:
            fail(f"stock {s['sku']}: reserved {s['reserved']} != open reservations {s['open_reservations']}")
        if not 0 <= s["reserved"] <= s["on_hand"]:
            fail(f"stock {s['sku']}: oversold (on_hand {s['on_hand']}, reserved {s['reserved']})")

    for rows in by_order.values():
        for shipment, n in Counter(d["shipment_id"] for d in rows["dispatches"]).items():
            if n > 1:
                report.doubled.append(f"shipment {shipment} dispatched {n} times")
        for ref, n in Counter(i["shipment_ref"] for i in rows["invoices"]).items():
            if n > 1:
                report.doubled.append(f"order {rows['invoices'][0]['order_id']}: {n} invoices for {ref}")

    known = set()
    for order in snap.orders:
        known.add(order["order_id"])
        report.statuses[order["status"]] += 1
        for problem in _order_problems(order, by_order[order["order_id"]]):
            fail(f"{order['order_number']} ({order['order_id']}, {order['order_type']}, {order['status']}): {problem}")
    if snap.whole_database:
        for order_id, rows in by_order.items():
            if order_id not in known and any(rows[k] for k in ("invoices", "payments", "dispatches", "shipments")):
                fail(f"order {order_id} has effects in departments but sales does not know it")
    return report


def _order_problems(order: dict[str, Any], rows: dict[str, list[dict]]) -> list[str]:
    problems: list[str] = []
    status, saga = order["status"], order["saga"] or {}
    if status not in FINAL | EXPLAINABLE:
        problems.append("not final and not in a state the saga explains")
    if status != "completed" and not order["status_reason"]:
        problems.append("no reason given for the status")

    held = [h for h in rows["holds"] if h["status"] == "held"]
    open_reservations = [r for r in rows["reservations"] if r["quantity_reserved"] > 0]
    bookings = [s["shipment_id"] for s in rows["shipments"] if s["status"] in BOOKED]
    if status in FINAL and held:
        problems.append(f"still holds credit ({', '.join(str(h['amount']) for h in held)})")
    if status in ("cancelled", "rejected"):
        if open_reservations:
            problems.append("still reserves stock: " + ", ".join(f"{r['quantity_reserved']}x {r['sku']}"
                                                                 for r in open_reservations))
        if bookings:
            problems.append(f"still has a carrier booking: {', '.join(bookings)}")

    money = rows["money"][0] if rows["money"] else dict.fromkeys(
        ("invoiced", "credited", "paid", "refunded", "outstanding"), ZERO)
    billed, net_paid = money["invoiced"] - money["credited"], money["paid"] - money["refunded"]
    if billed != net_paid + money["outstanding"]:
        problems.append(f"money does not balance: invoiced {money['invoiced']} - credited {money['credited']} != "
                        f"paid {money['paid']} - refunded {money['refunded']} + outstanding {money['outstanding']}")
    if status == "completed":
        shipments = rows["shipments"]
        if not shipments or any(s["status"] not in ("delivered", "cancelled", "failed") for s in shipments) \
                or not any(s["status"] == "delivered" for s in shipments):
            problems.append("completed but not delivered: " + (", ".join(
                f"{s['shipment_id']} {s['status']}" for s in shipments) or "no shipment"))
        if any(r["quantity_shipped"] != r["quantity_requested"] for r in rows["reservations"]):
            problems.append("completed but not everything reserved was shipped")
        if order["order_type"] == "sample":
            if money["invoiced"] or money["paid"]:
                problems.append(f"a sample was billed {money['invoiced']} / paid {money['paid']}")
        elif not money["invoiced"] or money["outstanding"] != ZERO or net_paid != billed:
            problems.append(f"completed but not paid in finance's ledger: billed {billed}, paid {net_paid}, "
                            f"outstanding {money['outstanding']}")

    # The saga's view of the order equals each department's.
    saga_shipments = set(saga.get("dispatched") or ())
    dispatched = {d["shipment_id"] for d in rows["dispatches"]}
    under_way = {s["shipment_id"] for s in rows["shipments"] if s["status"] in UNDER_WAY}
    if not saga_shipments == dispatched == under_way:
        problems.append(f"shipments disagree: sales {sorted(saga_shipments)}, warehouse dispatched {sorted(dispatched)}"
                        f", logistics under way {sorted(under_way)}")
    saga_invoices = set(saga.get("invoices") or ())
    invoices = {i["invoice_number"] for i in rows["invoices"]}
    if saga_invoices != invoices:
        problems.append(f"invoices disagree: sales {sorted(saga_invoices)}, finance {sorted(invoices)}")
    if int(saga.get("payments") or 0) != len(rows["payments"]):
        problems.append(f"payments disagree: sales counted {saga.get('payments') or 0}, "
                        f"finance recorded {len(rows['payments'])}")
    return problems
