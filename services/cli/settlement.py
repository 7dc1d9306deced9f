"""`orderflow kpi` and `orderflow statement import|lines|assign`: performance figures (sales) and
bank statements (finance), through the departments' HTTP APIs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from services.cli import client
from services.cli.client import call, console, fail, json_or_fail, status_text

statement_app = typer.Typer(help="Bank statements: import, lines to assign (finance HTTP API; needs the finance "
                                 "role, e.g. ORDERFLOW_CLI_ROLES=finance on the local stack).", no_args_is_help=True)


# --- performance -----------------------------------------------------------------------------

def kpi(start: Optional[str] = typer.Option(None, "--from", help="YYYY-MM-DD or ISO time (default: this month)"),
        end: Optional[str] = typer.Option(None, "--to", help="Exclusive; a date means its whole day (default: now)"),
        period: Optional[str] = typer.Option(None, "--period", help="day | month | quarter | year"),
        customer: Optional[str] = typer.Option(None, "--customer", "-c"),
        sku: Optional[str] = typer.Option(None, "--sku"),
        as_json: bool = typer.Option(False, "--json", help="The raw answer of GET /kpis")) -> None:
    """KPIs per period: timeliness, on-time delivery, accuracy, satisfaction, turnover, margin (needs
    sales_manager, finance or auditor, e.g. ORDERFLOW_CLI_ROLES=sales_manager)."""
    params = {k: v for k, v in {"from": start, "to": end, "period": period, "customer_id": customer,
                                "sku": sku}.items() if v}
    response = call("sales", "GET", "/kpis", params=params, timeout=30.0)
    if response.status_code == 422:
        raise fail("; ".join(client.validation_errors(response)))
    result = json_or_fail(response, "reading the KPIs")
    if as_json:
        console.print_json(data=result)
        return
    table = Table(title="KPIs" + (f" of {customer}" if customer else "") + (f" for {sku}" if sku else "")
                  + " (margins in EUR)", title_justify="left")
    table.add_column("period", no_wrap=True)
    for column in ("orders", "to dispatch (median / p90)", "in target", "on time", "accurate", "rating (responses)",
                   "turnover", "margin"):
        table.add_column(column, justify="right")

    def show(value: object, suffix: str = "") -> str:
        return "–" if value is None else f"{value}{suffix}"

    for p in result["periods"]:
        k = p["kpis"]
        t, s, m = k["order_processing_timeliness"], k["customer_satisfaction"], k["order_profit_margin"]
        turnover = (k["inventory_turnover"] or {}).get("turnover")
        table.add_row(p["period"][:23], str(t["orders"]),
                      f"{show(t['median_seconds'], 's')} / {show(t['p90_seconds'], 's')}", show(t["within_target"]),
                      show(k["on_time_delivery"]["on_time"]), show(k["order_accuracy"]["accurate"]),
                      f"{show(s['mean_rating'])} ({s['responses']}/{s['orders']})", show(turnover),
                      f"{show(m['margin'])} ({show(m['margin_ratio'])})")
    console.print(table)


# --- bank statements ------------------------------------------------------------------------

@statement_app.command("import")
def statement_import(path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                                 help="A CSV or ISO 20022 camt.053 file"),
                     format: Optional[str] = typer.Option(None, "--format", help="csv | camt.053 (default: detect)"),
                     statement_id: Optional[str] = typer.Option(None, "--statement-id",
                                                                help="CSV: the statement's id (default: file hash)")
                     ) -> None:
    """Import a bank statement: incoming payments are matched to invoices; a repeat import applies nothing."""
    params = {k: v for k, v in {"format": format, "statement_id": statement_id}.items() if v}
    kind = "application/xml" if path.read_bytes().lstrip()[:1] == b"<" else "text/csv"
    response = call("finance", "POST", "/bank-statements", timeout=60.0, params=params, content=path.read_bytes(),
                    headers={"content-type": kind})
    result = json_or_fail(response, f"importing {path}")
    verb = "already imported: nothing applied again" if result["already_imported"] else "imported"
    console.print(f"statement [bold]{result['statement_id']}[/] ({result['format']}) {verb}", highlight=False)
    table = Table(title="lines", title_justify="left")
    for column in ("bank ref", "amount", "status", "applied", "left", "invoices"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("amount", "applied", "left") else "left")
    table.add_column("reason", overflow="fold")
    for line in result["lines"]:
        table.add_row(str(line.get("bank_ref")), f"{line.get('amount', '')} {line.get('currency', '')}",
                      status_text(line["status"]), str(line.get("applied", "")), str(line.get("unapplied", "")),
                      ", ".join(i["invoice_number"] for i in line.get("invoices", [])), line.get("reason") or "")
    console.print(table)
    console.print(", ".join(f"{k} {result[k]}" for k in ("matched", "partial", "overpaid", "unmatched", "ignored")))


@statement_app.command("lines")
def statement_lines(open_only: bool = typer.Option(True, "--open/--all", help="Only lines with money to assign."),
                    statement_id: Optional[str] = typer.Option(None, "--statement-id")) -> None:
    """Bank lines (default: those with money a person still has to assign)."""
    params = {"open": str(open_only).lower(), **({"statement_id": statement_id} if statement_id else {})}
    lines = json_or_fail(call("finance", "GET", "/bank-lines", params=params), "reading bank lines")
    table = Table(title=f"bank lines: {len(lines)}", title_justify="left")
    for column in ("line", "statement", "bank ref", "amount", "status", "left"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", overflow="fold")
    for line in lines:
        table.add_row(str(line["line_id"]), line["statement_id"], line["bank_ref"],
                      f"{line['amount']} {line['currency']}", status_text(line["status"]), str(line["unapplied"]),
                      line.get("reason") or "")
    console.print(table)


@statement_app.command("assign")
def statement_assign(line_id: int = typer.Argument(..., help="Bank line id (orderflow statement lines)"),
                     invoice: str = typer.Argument(..., help="Invoice number, e.g. INV-000042"),
                     amount: Optional[str] = typer.Option(None, "--amount", help="Default: all that is left")) -> None:
    """Apply what is left on a bank line to an invoice."""
    body = {"invoice_number": invoice, **({"amount": amount} if amount else {})}
    result = json_or_fail(call("finance", "POST", f"/bank-lines/{line_id}/assign", json=body), "assigning")
    console.print(f"applied {result['applied']} to {invoice}; {result['unapplied']} left on line {line_id}",
                  highlight=False)
