"""`orderflow provision` and `orderflow acl list|diff`: topics, Kafka users and ACLs, PostgreSQL
roles and databases of one environment (ORDERFLOW_TOPIC_PREFIX / GROUP_PREFIX / DB_PREFIX)."""

from __future__ import annotations

import asyncio
import json
from typing import Optional

import typer
from rich.table import Table

from services.cli.client import console, err_console, fail
from services.provisioning.kafka import acl_diff, ensure_acls, provision_kafka
from services.provisioning.postgres import provision_databases
from services.runtime.config import MissingSecret, Settings
from services.runtime.kafka_acl import AclBinding, bindings_by_principal

acl_app = typer.Typer(help="Kafka ACLs generated from the topic catalogue.", no_args_is_help=True)


def provision(settings: Settings | None = None, *, kafka: bool = True, databases: bool = True,
              prune: bool = False) -> None:
    """Provision the environment; raises typer.Exit with a clear message when something fails."""
    settings = settings or Settings()
    if kafka:
        try:
            report = asyncio.run(provision_kafka(settings, topic_prefix=settings.topic_prefix,
                                                 group_prefix=settings.group_prefix, prune=prune))
        except MissingSecret as exc:
            raise fail(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - any Kafka failure is reported, not dumped
            raise fail(f"provisioning Kafka at {settings.kafka_bootstrap} failed: {exc or type(exc).__name__}") from None
        console.print(f"topics: [green]{len(report.topics.created)} created[/], {len(report.topics.existing)} existing"
                      + (f" ({', '.join(report.topics.created)})" if report.topics.created else ""), highlight=False)
        for problem in report.topics.problems:
            err_console.print(f"[yellow]topic problem:[/] {problem}", highlight=False)
        console.print(f"kafka users: {len(report.users)} ({', '.join(report.users)}); credentials in "
                      f"{settings.state() / 'kafka' / 'users'}, client configs in "
                      f"{settings.state() / 'kafka' / 'clients'}", highlight=False)
        console.print(f"acls: [green]{len(report.acls.missing)} created[/], {len(report.acls.present)} present"
                      + (f", {len(report.acls.extra)} not in the catalogue"
                         + (" (deleted)" if prune else " (keep; `--prune` deletes them)") if report.acls.extra else ""),
                      highlight=False)
    if databases:
        try:
            created = asyncio.run(provision_databases(settings))
        except MissingSecret as exc:
            raise fail(str(exc)) from None
        except Exception as exc:  # noqa: BLE001
            raise fail(f"provisioning PostgreSQL at {settings.pg_host}:{settings.pg_port} failed: "
                       f"{exc or type(exc).__name__}") from None
        console.print(f"databases: [green]{len(created)} created[/] ({', '.join(created) or 'all present'}); "
                      f"one role per service, CONNECT revoked from PUBLIC", highlight=False)


def _rows(bindings: list[AclBinding]) -> list[dict]:
    return [{"principal": b.principal, "resource_type": b.resource_type, "resource": b.resource_name,
             "pattern": b.pattern_type, "operation": b.operation, "host": b.host} for b in bindings]


@acl_app.command("list")
def acl_list(principal: Optional[str] = typer.Option(None, "--principal", "-p", help="Only this principal."),
             as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The ACLs the catalogue gives each principal in this environment."""
    settings = Settings()
    grouped = bindings_by_principal(settings.topic_prefix, settings.group_prefix)
    if principal and principal not in grouped:
        raise fail(f"unknown principal {principal!r}; one of {', '.join(grouped)}")
    bindings = [b for p, items in grouped.items() if not principal or p == principal for b in items]
    if as_json:
        print(json.dumps(_rows(bindings), indent=2))
        return
    table = Table(title=f"ACLs from the topic catalogue: {len(bindings)}", title_justify="left")
    for column in ("principal", "operation", "resource", "pattern"):
        table.add_column(column, no_wrap=True)
    for b in bindings:
        table.add_row(b.principal, b.operation, f"{b.resource_type}:{b.resource_name}", b.pattern_type)
    console.print(table)


@acl_app.command("diff")
def acl_diff_cmd(apply: bool = typer.Option(False, "--apply", help="Create what is missing."),
                 prune: bool = typer.Option(False, "--prune", help="With --apply, delete what the catalogue lacks."),
                 as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """What the cluster has vs what the catalogue says. Exit 1 when they differ (after --apply: 0)."""
    settings = Settings()
    try:
        diff = (ensure_acls if apply else acl_diff)(settings, settings.topic_prefix, settings.group_prefix,
                                                   **({"prune": prune} if apply else {}))
    except Exception as exc:  # noqa: BLE001
        raise fail(f"reading ACLs from {settings.kafka_bootstrap} failed: {exc or type(exc).__name__}") from None
    if as_json:
        print(json.dumps({"missing": _rows(diff.missing), "extra": _rows(diff.extra),
                          "present": len(diff.present)}, indent=2))
    else:
        for b in diff.missing:
            console.print(f"[red]- missing[/] {b.describe()}" + (" (created)" if apply else ""), highlight=False)
        for b in diff.extra:
            console.print(f"[yellow]+ extra[/]   {b.describe()}" + (" (deleted)" if apply and prune else ""),
                          highlight=False)
        state = "in sync" if diff.in_sync else f"{len(diff.missing)} missing, {len(diff.extra)} extra"
        console.print(f"{len(diff.present)} ACLs as the catalogue says; {state}")
    if not diff.in_sync and not apply:
        raise typer.Exit(1)
