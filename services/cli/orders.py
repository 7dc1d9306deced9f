"""`orderflow order place|show|list`: orders through the sales HTTP API."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from services.cli import client
from services.cli.client import console, fail, status_text

order_app = typer.Typer(help="Place, show and list orders (sales HTTP API).", no_args_is_help=True)


def _parse_line(text: str) -> dict:
    sku, sep, qty = text.rpartition(":")
    if not sep or not sku or not qty.strip().isdigit():
        raise fail(f"--line {text!r}: expected SKU:QUANTITY, e.g. SKU-BOLT-M8:10")
    return {"sku": sku.strip(), "quantity": int(qty)}


@order_app.command("place")
def order_place(
    customer: str = typer.Option(..., "--customer", "-c", help="Customer id, e.g. CUST-ACME"),
    line: list[str] = typer.Option(..., "--line", "-l", help="SKU:QUANTITY (repeatable)"),
    order_type: str = typer.Option("standard", "--type", help="standard | sample | prepaid_at_order | "
                                                              "prepaid_before_shipment"),
    payment: str = typer.Option("invoice", "--payment", help="invoice | card | bank_transfer"),
    delivery_date: Optional[str] = typer.Option(None, "--delivery-date", help="YYYY-MM-DD"),
    external_ref: Optional[str] = typer.Option(None, "--external-ref", help="Idempotency reference"),
    wait: bool = typer.Option(False, "--wait", help="Follow the order until it is final."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait with --wait."),
) -> None:
    """Place an order through POST /orders."""
    body = {"customer_id": customer, "order_type": order_type, "payment_method": payment,
            "lines": [_parse_line(text) for text in line]}
    if delivery_date:
        body["requested_delivery_date"] = delivery_date
    if external_ref:
        body["external_ref"] = external_ref
    accepted = client.place_order(body)
    verb = "placed" if accepted["created"] else "already placed (same external ref)"
    console.print(f"{verb} [bold]{accepted['order_number']}[/] {accepted['order_id']}: "
                  f"{status_text(accepted['status'])}", highlight=False)
    if wait:
        order = client.wait_final([accepted["order_id"]], timeout)[accepted["order_id"]]
        client.print_order_result(order)
        if order["status"] not in client.FINAL:
            raise fail(f"{order['order_number']} is still {order['status']} after {timeout:g}s")


@order_app.command("show")
def order_show(order_id: str = typer.Argument(..., help="Order id (UUID) or number (SO-000123)"),
               as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Status, lines, totals and timeline of one order (exit 3 when there is no such order)."""
    order = client.get_order(order_id)
    if as_json:
        client.print_json(order)
        return
    console.print(f"[bold]{order['order_number']}[/] {order['order_id']}  {status_text(order['status'])}",
                  highlight=False)
    if order.get("status_reason"):
        console.print(f"reason: {order['status_reason']}", highlight=False)
    console.print(f"customer {order['customer_id']}, {order['order_type']}, pays by {order['payment_method']}, "
                  f"channel {order['channel']}" + (f", ref {order['external_ref']}" if order.get('external_ref') else "")
                  + (f", delivery by {order['requested_delivery_date']}" if order.get("requested_delivery_date")
                     else ""), highlight=False)
    lines = Table(title="lines", title_justify="left")
    for column, justify in (("sku", "left"), ("quantity", "right"), ("unit price", "right"), ("amount", "right")):
        lines.add_column(column, justify=justify)
    for item in order["lines"]:
        amount = float(item["unit_price"]) * item["quantity"]
        lines.add_row(item["sku"], str(item["quantity"]), str(item["unit_price"]), f"{amount:.2f}")
    lines.add_row("[bold]total[/]", "", "", f"[bold]{order['total']}[/]", end_section=True)
    console.print(lines)
    console.print(client.timeline_table(order))


@order_app.command("list")
def order_list(status: Optional[str] = typer.Option(None, "--status", help="e.g. completed, rejected"),
               customer: Optional[str] = typer.Option(None, "--customer", "-c", help="Customer id"),
               created_from: Optional[str] = typer.Option(None, "--from", help="Created on/after (YYYY-MM-DD or ISO time)"),
               created_to: Optional[str] = typer.Option(None, "--to", help="Created before (a date: its whole day)"),
               number: Optional[str] = typer.Option(None, "--number", help="Order number, e.g. SO-000123"),
               external_ref: Optional[str] = typer.Option(None, "--external-ref", help="The caller's reference"),
               cursor: Optional[str] = typer.Option(None, "--cursor", help="Next page (printed under a full page)"),
               limit: int = typer.Option(20, "--limit", min=1, max=1000),
               as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Find orders, newest first (filters combine)."""
    orders = client.list_orders(status, limit, customer_id=customer, created_from=created_from,
                                created_to=created_to, order_number=number, external_ref=external_ref, cursor=cursor)
    if as_json:
        client.print_json(orders)
        return
    table = Table(title=f"orders{f' ({status})' if status else ''}: {len(orders)}", title_justify="left")
    for column, width in (("number", 9), ("order id", 36), ("customer", 9), ("status", 9), ("total", 7),
                          ("created", 19)):
        table.add_column(column, no_wrap=True, min_width=width, justify="right" if column == "total" else "left")
    table.add_column("reason", overflow="fold", min_width=12)
    for order in orders:
        table.add_row(order["order_number"], order["order_id"], order["customer_id"], status_text(order["status"]),
                      order["total"], str(order["created_at"])[:19].replace("T", " "), order.get("status_reason") or "")
    console.print(table)
    if client.last_cursor:
        console.print(f"more: --cursor {client.last_cursor}", highlight=False)
