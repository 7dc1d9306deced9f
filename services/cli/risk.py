"""`orderflow risk list`: the company's risks as sales keeps them (GET /risks), open ones by default,
most severe first, each with the department and role that own it."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from services.cli.client import call, console, json_or_fail

risk_app = typer.Typer(help="Risks raised by the departments (the risk.events.v1 feed).", no_args_is_help=True)
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}


def about(subject: dict) -> str:
    order = subject.get("order_id")
    parts = [f"{k.removesuffix('_id')} {v}" for k, v in subject.items() if v and k != "order_id"]
    return ", ".join(parts + ([f"order {order[:8]}"] if order else []))


@risk_app.command("list")
def risk_list(show_all: bool = typer.Option(False, "--all", help="Closed risks too."),
              kind: Optional[str] = typer.Option(None, "--kind", help="credit | stock | supplier | carrier"),
              department: Optional[str] = typer.Option(None, "--department"),
              order: Optional[str] = typer.Option(None, "--order", help="Only risks about this order id."),
              as_json: bool = typer.Option(False, "--json", help="Print the JSON as returned."),
              limit: int = typer.Option(200, "--limit", min=1, max=1000)) -> None:
    """Open risks with their owners (credit risks need the finance, sales_manager or auditor role)."""
    params = {k: v for k, v in {"status": "all" if show_all else "open", "kind": kind, "department": department,
                                "order_id": order, "limit": limit}.items() if v}
    risks = json_or_fail(call("sales", "GET", "/risks", params=params), "reading the risks")
    if as_json:
        console.print_json(json.dumps(risks, default=str))
        return
    table = Table(title=f"risks ({'all' if show_all else 'open'}): {len(risks)}", title_justify="left")
    for column in ("severity", "kind", "cause", "owner", "about", "since"):
        table.add_column(column, no_wrap=True)
    table.add_column("summary", overflow="fold", min_width=20)
    if show_all:
        table.add_column("closed", overflow="fold")
    for r in risks:
        row = [f"[{SEVERITY_STYLE.get(r['severity'], '')}]{r['severity']}[/]", r["kind"], r["cause"],
               f"{r['department']} ({r['owner_role']})", about(r.get("subject") or {}),
               str(r["raised_at"])[:19].replace("T", " "), r["summary"]]
        if show_all:
            row.append(f"{str(r['closed_at'])[:19]}: {r['closed_reason']}" if r.get("closed_at") else "")
        table.add_row(*row)
    console.print(table)
