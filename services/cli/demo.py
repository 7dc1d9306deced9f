"""The demo run of `orderflow up`: a few orders through the public API, followed to the end."""

from __future__ import annotations

import time

from services.cli.client import FINAL, console, err_console, list_orders, place_order, print_order_result, wait_final

DEMO_ORDERS = [
    ("CUST-ACME", [("SKU-BOLT-M8", 10), ("SKU-GEAR-40", 2)]),
    ("CUST-BOLT", [("SKU-GEAR-40", 3)]),
    ("CUST-NORD", [("SKU-MOTOR-1K", 1), ("SKU-BOLT-M8", 5)]),
]


def run(timeout: float = 60.0) -> bool:
    """Place the demo orders, follow them to a final state, show their timelines. True if all completed."""
    stamp = time.strftime("%Y%m%d%H%M%S")
    ids = []
    console.rule("demo orders")
    for n, (customer, lines) in enumerate(DEMO_ORDERS, start=1):
        body = {"customer_id": customer, "order_type": "standard", "payment_method": "invoice",
                "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
                "external_ref": f"demo-{stamp}-{n}"}
        accepted = place_order(body)
        ids.append(accepted["order_id"])
        console.print(f"placed {accepted['order_number']} {accepted['order_id']} for {customer}: "
                      + ", ".join(f"{qty}× {sku}" for sku, qty in lines), highlight=False)
    orders = wait_final(ids, timeout)
    for order in orders.values():
        print_order_result(order)
    completed = list_orders("completed", limit=1000)
    console.print(f"\ncompleted orders in sales: [bold]{len(completed)}{'+' if len(completed) == 1000 else ''}[/]")
    not_completed = [o for o in orders.values() if o["status"] != "completed"]
    for order in not_completed:
        err_console.print(f"[red]demo order {order['order_number']} ended {order['status']}"
                          f"{'' if order['status'] in FINAL else f' (not final after {timeout:g}s)'}[/]")
    return not not_completed
