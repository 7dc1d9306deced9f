"""`orderflow`: the operator CLI for the local stack (up/down/status), orders, topics, lag, DLQs,
audit, logs, dev tokens."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import httpx
import typer
from rich.table import Table

from contracts.topics import CATALOGUE
from services.cli import client, demo, lag as lag_mod, supervisor
from services.cli.client import call, console, err_console, fail, json_or_fail, status_text
from services.cli.provisioning import acl_app, provision as provision_environment
from services.cli.stack import SERVICES, SIMULATORS, Stack
from services.runtime import dev_issuer, roles
from services.runtime.config import Settings
from services.runtime.tokens import AuthSettings

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("ORDERFLOW_RUN_DIR") or ROOT / ".local" / "run")
INFRA = {"kafka": ROOT / "deploy/local/kafka.sh", "postgres": ROOT / "deploy/local/postgres.sh"}

app = typer.Typer(help="Operate the local orderflow stack.", no_args_is_help=True, add_completion=False)
app.callback()(client.address_options)     # --<service>-url / ORDERFLOW_<SERVICE>_URL: remote services
order_app = typer.Typer(help="Place, show and list orders (sales HTTP API).", no_args_is_help=True)
topics_app = typer.Typer(help="The topic catalogue.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters recorded by the services.", no_args_is_help=True)
app.add_typer(order_app, name="order")
app.add_typer(topics_app, name="topics")
app.add_typer(dlq_app, name="dlq")
app.add_typer(acl_app, name="acl")


def stack() -> Stack:
    return Stack(run_dir=RUN_DIR, ports=client.ports(), urls=client.remote_urls())


def infra(name: str, action: str, quiet: bool = False) -> int:
    """Run kafka.sh/postgres.sh; output streams to the terminal unless quiet."""
    try:
        result = subprocess.run([str(INFRA[name]), action], cwd=ROOT, stdin=subprocess.DEVNULL,
                                capture_output=quiet, text=True)
    except OSError as exc:
        raise fail(f"cannot run {INFRA[name].relative_to(ROOT)}: {exc}") from None
    return result.returncode


# --- up / down / status ---------------------------------------------------------------------

def wait_ready(st: Stack, timeout: float = float(os.environ.get("ORDERFLOW_UP_READY_TIMEOUT", "120"))) -> None:
    pending = list(SERVICES)
    deadline = time.monotonic() + timeout
    with console.status("starting services…") as status:
        while pending:
            for name in list(pending):
                if st.ready(name)[0]:
                    pending.remove(name)
                    console.print(f"  [green]✓[/] {name} ready on {st.url(name)}")
            if time.monotonic() > deadline:
                raise fail("not ready in time: " + "; ".join(f"{n} {st.ready(n)[1]}" for n in pending)
                           + f"\nsee `orderflow logs {pending[0]}`")
            status.update(f"waiting for {', '.join(pending)} to be ready…")
            time.sleep(0.3)


def ensure_dev_issuer() -> None:
    """The dev issuer's key and the JWKS the services read, unless an identity provider is configured."""
    if AuthSettings().jwks_url:
        console.print("auth: tokens from the identity provider (ORDERFLOW_AUTH_JWKS_URL)")
        return
    jwks = dev_issuer.ensure_keys()
    console.print(f"auth: dev issuer keys in {jwks.parent}", highlight=False)


@app.command()
def up(run_demo: bool = typer.Option(True, "--demo/--no-demo", help="Place demo orders once the stack is up.")
       ) -> None:
    """Start Kafka, PostgreSQL, topics, the five services and the simulators (then a demo)."""
    for name in INFRA:
        console.rule(name)
        if infra(name, "start") != 0:
            raise fail(f"{INFRA[name].relative_to(ROOT)} start failed (see its output above)")
    console.rule("provisioning")
    provision_environment()
    ensure_dev_issuer()
    console.rule("services")
    st = stack()
    running = supervisor.supervisor_pid(st.run_dir)
    if running:
        console.print(f"  supervisor already running (pid {running}); it restarts whatever exits")
    else:
        pid = supervisor.spawn(st.run_dir)
        console.print(f"  supervisor started (pid {pid}): runs {', '.join((*SERVICES, *SIMULATORS))} and restarts "
                      f"whatever exits, with backoff (log: {(st.run_dir / supervisor.LOG_FILE)})", highlight=False)
    wait_ready(st)
    if run_demo and not demo.run():
        raise typer.Exit(1)
    console.print(f"\n[green]stack is running[/] (pids and logs in {RUN_DIR.relative_to(ROOT)}); "
                  "stop it with `orderflow down`")


@app.command()
def down(keep_infra: bool = typer.Option(False, "--keep-infra", help="Stop only the services and simulators.")
         ) -> None:
    """Stop the services and simulators, then Kafka and PostgreSQL."""
    st = stack()
    with console.status("stopping services…"):
        if supervisor.stop(st.run_dir):
            console.print("  supervisor stopped its services and simulators")
        for name in (*SIMULATORS, *reversed(SERVICES)):     # anything started without it
            if st.stop(name):
                console.print(f"  {name}: stopped")
    if keep_infra:
        return
    failed = []
    for name in INFRA:
        console.rule(name)
        if infra(name, "stop") != 0:
            failed.append(name)
    if failed:
        raise fail(f"stopping {', '.join(failed)} failed (see output above)")


def _check(value: object) -> str:
    if value == "-":
        return "[dim]-[/]"
    if value == "ok" or value is True:
        return "[green]ok[/]"
    return f"[red]{value if value not in (None, False) else 'down'}[/]"


@app.command()
def status() -> None:
    """Processes, health and infrastructure of the local stack. Exit 1 if anything is down."""
    st = stack()
    table = Table(title="orderflow stack", title_justify="left")
    for column in ("component", "process", "live", "ready", "database", "broker", "restarts"):
        table.add_column(column, overflow="fold")
    watcher = supervisor.supervisor_pid(st.run_dir)
    supervised = supervisor.read_state(st.run_dir).get("children", {}) if watcher else {}

    def restarts(name: str) -> str:
        return supervisor.restarts_text(supervised[name]) if name in supervised else "-"
    healthy = True
    for name in SERVICES:
        pid = st.pid(name)
        try:
            live = httpx.get(f"{st.url(name)}/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            live = False
        ready, checks = st.ready(name) if live else (False, {})
        remote = st.urls.get(name)           # runs elsewhere: no local process to look for
        healthy &= bool((pid or remote) and live and ready)
        table.add_row(f"{name} :{st.ports[name]}", remote or (f"pid {pid}" if pid else "[red]not running[/]"),
                      _check(live), _check(ready), _check(checks.get("database", "?") if live else "-"),
                      _check(checks.get("broker", "?") if live else "-"), restarts(name))
    for name in SIMULATORS if not st.urls else ():   # a remote stack's simulators and infra are not ours
        pid = st.pid(name)
        healthy &= bool(pid)
        table.add_row(f"{name} (simulator)", f"pid {pid}" if pid else "[red]not running[/]", "", "", "", "",
                      restarts(name))
    for name in INFRA if not st.urls else ():
        rc = infra(name, "status", quiet=True)
        healthy &= rc == 0
        state = {0: "[green]running[/]", 1: "[red]running, not answering[/]"}.get(rc, "[red]stopped[/]")
        table.add_row(name, state, "", "", "", "", "")
    if not st.urls:
        table.add_row("supervisor", f"pid {watcher}" if watcher else "[red]not running[/] (orderflow up starts it)",
                      "", "", "", "", "")
    console.print(table)
    if not healthy:
        raise typer.Exit(1)


# --- tokens and audit -----------------------------------------------------------------------

DEV_USERS_HELP = ", ".join(f"{u.username} ({'/'.join(u.roles)})" for u in dev_issuer.DEV_USERS)


@app.command()
def token(user: str = typer.Option(..., "--user", "-u", help=f"Subject; dev users: {DEV_USERS_HELP}"),
          role: list[str] = typer.Option([], "--role", "-r", help="Role (repeatable); default: the dev user's roles"),
          ttl: int = typer.Option(3600, "--ttl", min=1, help="Seconds until the token expires."),
          name: Optional[str] = typer.Option(None, "--name", help="Display name (default: the dev user's)")) -> None:
    """Print a token from the local dev issuer, e.g. `export ORDERFLOW_TOKEN=$(orderflow token -u maria)`."""
    known = dev_issuer.dev_user(user)
    chosen = role or (list(known.roles) if known else [])
    if not chosen:
        raise fail(f"{user!r} is not a dev user: give --role (one of {', '.join(roles.ALL)})")
    unknown = sorted(set(chosen) - set(roles.ALL))
    if unknown:
        raise fail(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(roles.ALL)}")
    try:
        print(dev_issuer.issue_token(user, chosen, name=name, ttl_seconds=ttl))
    except RuntimeError as exc:
        raise fail(str(exc)) from None


@app.command()
def audit(service: str = typer.Option("sales", "--service", "-s", help=f"One of {', '.join(SERVICES)}"),
          order: Optional[str] = typer.Option(None, "--order", help="Only requests about this order id."),
          subject: Optional[str] = typer.Option(None, "--user", help="Only this user's requests."),
          limit: int = typer.Option(30, "--limit", min=1, max=1000)) -> None:
    """Who did what through a service's API (needs the auditor or operator role)."""
    if service not in SERVICES:
        raise fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    params = {k: v for k, v in {"order_id": order, "subject": subject, "limit": limit}.items() if v}
    entries = json_or_fail(call(service, "GET", "/audit", params=params), f"reading {service}'s audit log")
    table = Table(title=f"{service} audit: {len(entries)}", title_justify="left")
    for column in ("at", "user", "role", "from", "request", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("outcome", overflow="fold", min_width=16)
    for e in entries:
        table.add_row(str(e["at"])[:19].replace("T", " "), e.get("subject") or "[red]anonymous[/]",
                      e.get("role") or ",".join(e.get("roles") or []), e.get("source") or "",
                      f"{e['method']} {e['path']}", str(e["status"]), e.get("outcome") or "")
    console.print(table)


# --- orders ---------------------------------------------------------------------------------

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
def order_show(order_id: str = typer.Argument(..., help="Order id (UUID)")) -> None:
    """Status, lines, totals and timeline of one order."""
    order = client.get_order(order_id)
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
               limit: int = typer.Option(20, "--limit", min=1, max=1000)) -> None:
    """The newest orders (optionally with one status)."""
    orders = client.list_orders(status, limit)
    table = Table(title=f"orders{f' ({status})' if status else ''}: {len(orders)}", title_justify="left")
    for column, width in (("number", 9), ("order id", 36), ("customer", 9), ("status", 9), ("total", 7),
                          ("created", 19)):
        table.add_column(column, no_wrap=True, min_width=width, justify="right" if column == "total" else "left")
    table.add_column("reason", overflow="fold", min_width=12)
    for order in orders:
        table.add_row(order["order_number"], order["order_id"], order["customer_id"], status_text(order["status"]),
                      order["total"], str(order["created_at"])[:19].replace("T", " "), order.get("status_reason") or "")
    console.print(table)


# --- topics, lag, dead letters, logs ---------------------------------------------------------

@app.command()
def provision(kafka: bool = typer.Option(True, "--kafka/--no-kafka", help="Topics, Kafka users and ACLs."),
              databases: bool = typer.Option(True, "--databases/--no-databases",
                                             help="PostgreSQL roles and databases."),
              prune: bool = typer.Option(False, "--prune", help="Delete ACLs the catalogue does not grant.")) -> None:
    """Create what the environment needs, idempotently: the catalogue's topics, one Kafka user per
    principal with the ACLs the catalogue grants it, one PostgreSQL role and database per service.
    Runs as Kafka `admin` and PostgreSQL `orderflow_admin` (ORDERFLOW_KAFKA_USERNAME/PG_USER to override)."""
    provision_environment(kafka=kafka, databases=databases, prune=prune)


@topics_app.command("create")
def topics_create() -> None:
    """Create the catalogue's topics, Kafka users and ACLs that are missing (same as `provision --no-databases`)."""
    provision_environment(databases=False)


@topics_app.command("list")
def topics_list() -> None:
    """The topic catalogue."""
    prefix = Settings().topic_prefix
    table = Table(title=f"topic catalogue{f' (prefix {prefix!r})' if prefix else ''}", title_justify="left")
    for column in ("topic", "partitions", "owner", "writers", "retention", "description"):
        table.add_column(column, justify="right" if column == "partitions" else "left",
                         no_wrap=column != "description")
    for spec in CATALOGUE.values():
        table.add_row(prefix + spec.name, str(spec.partitions), spec.owner, ", ".join(sorted(spec.writers)),
                      f"{spec.retention_ms // 86_400_000}d", spec.description)
    console.print(table)


@app.command()
def lag(group: Optional[str] = typer.Option(None, "--group", "-g", help="Only this consumer group."),
        all_groups: bool = typer.Option(False, "--all", help="All groups on the cluster, not only orderflow's."),
        lagging: bool = typer.Option(False, "--lagging", help="Only partitions with lag (totals always shown).")
        ) -> None:
    """Consumer lag per group, topic and partition."""
    try:
        rows = lag_mod.run(group, all_groups)
    except LookupError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - Kafka unreachable etc.
        raise fail(f"reading consumer offsets from {Settings().kafka_bootstrap} failed: "
                   f"{exc or type(exc).__name__} (is Kafka running? try `orderflow up`)") from None
    if not rows:
        console.print(f"no committed offsets for {group or 'the orderflow consumer groups'}")
        return
    console.print(lag_mod.lag_table(rows, show_zero=not lagging))


@dlq_app.command("list")
def dlq_list(service: Optional[str] = typer.Option(None, "--service", "-s", help="Only this service."),
             limit: int = typer.Option(20, "--limit", min=1, max=1000)) -> None:
    """Dead letters of every service (newest first)."""
    if service and service not in SERVICES:
        raise fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    letters, unreachable = [], []
    for name in [service] if service else SERVICES:
        try:
            letters += [{**item, "service": name} for item in
                        json_or_fail(call(name, "GET", "/dead-letters", params={"limit": limit}), name)]
        except typer.Exit:
            if service:
                raise
            unreachable.append(name)
    if unreachable and len(unreachable) == len([service] if service else SERVICES):
        raise typer.Exit(1)
    letters.sort(key=lambda item: str(item.get("created_at")), reverse=True)
    table = Table(title=f"dead letters: {len(letters[:limit])}", title_justify="left")
    for column in ("id", "service", "topic/partition@offset", "type", "created_at"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", overflow="fold", min_width=16)
    for item in letters[:limit]:
        reason = str(item.get("reason") or "")
        table.add_row(str(item["id"]), item["service"],
                      f"{item.get('topic')}/{item.get('kafka_partition')}@{item.get('kafka_offset')}",
                      str(item.get("message_type") or "?"), str(item.get("created_at"))[:19].replace("T", " "),
                      reason if len(reason) <= 120 else reason[:119] + "…")
    console.print(table)
    if unreachable:
        raise typer.Exit(1)


@app.command()
def bench(orders: int = typer.Option(200, "--orders", "-n", min=1, help="How many orders to place."),
          concurrency: int = typer.Option(20, "--concurrency", "-c", min=1, help="Orders placed at once."),
          customer: str = typer.Option("CUST-NORD", "--customer"),
          sku: str = typer.Option("SKU-BOLT-M8", "--sku"),
          quantity: int = typer.Option(1, "--quantity", min=1),
          timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for every order to be final."),
          rate: Optional[float] = typer.Option(None, "--rate", min=0.1,
                                               help="Orders per second (steady load) instead of all at once.")
          ) -> None:
    """Benchmark: orders through all five services; prints throughput and p50/p99 latencies."""
    from services.cli import bench as bench_mod

    with console.status("placing orders…") as status:
        def progress(stage: str, count: int) -> None:
            status.update(f"{stage}: {count}/{orders}")
        try:
            result = asyncio.run(bench_mod.run(client.url("sales"), orders=orders, concurrency=concurrency,
                                               customer=customer, sku=sku, quantity=quantity, timeout=timeout,
                                               rate=rate, progress=progress, headers=client.auth_headers()))
        except httpx.HTTPError as exc:
            raise fail(f"benchmark failed talking to sales: {exc}") from None
    load = f"{rate:g} orders/s" if rate else f"concurrency {concurrency}"
    table = Table(title=f"orderflow bench: {orders} orders, {load}", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in bench_mod.summary(result):
        table.add_row(name, value)
    console.print(table)
    if result.statuses.get("not final"):
        raise typer.Exit(1)


@app.command()
def chaos(profile: str = typer.Option("ci", "--profile", help="ci: 300 orders, each service killed once, one broker "
                                                          "and one database restart; full: 10,000 orders, 20 kills, "
                                                          "2 + 2 restarts"),
          orders: Optional[int] = typer.Option(None, "--orders", min=1),
          rate: Optional[float] = typer.Option(None, "--rate", min=0.1, help="Orders per second."),
          service_kills: Optional[int] = typer.Option(None, "--service-kills", min=0),
          broker_restarts: Optional[int] = typer.Option(None, "--broker-restarts", min=0),
          db_restarts: Optional[int] = typer.Option(None, "--db-restarts", min=0),
          seed: int = typer.Option(20261122, "--seed", help="Same seed, same orders and fault schedule."),
          home: Optional[Path] = typer.Option(None, "--home", help="The run's own ORDERFLOW_HOME "
                                                                 "(default .local/chaos/<time>)"),
          keep: bool = typer.Option(False, "--keep", help="Keep the run's stack up and its home afterwards."),
          report: Optional[Path] = typer.Option(None, "--report", help="Also write the result as JSON here.")) -> None:
    """Chaos run on a stack of its own: mixed orders at a rate while random services (sales too), the
    broker and PostgreSQL are killed on a schedule; then quiescence and every invariant over the whole
    database. Prints lost / doubled / stuck / invariant failures and recovery times; exit 1 unless all are 0."""
    import dataclasses

    from services.cli.chaos import PROFILES, ChaosRun, summary

    if profile not in PROFILES:
        raise fail(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    overrides = {k: v for k, v in {"orders": orders, "rate": rate, "service_kills": service_kills,
                                   "broker_restarts": broker_restarts, "db_restarts": db_restarts}.items()
                 if v is not None}
    plan = dataclasses.replace(PROFILES[profile], **overrides)
    home = (home or ROOT / ".local" / "chaos" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    say = lambda text: console.print(text, markup=False, highlight=False)   # noqa: E731
    run = ChaosRun(plan, home, seed=seed, say=say)
    result = None
    try:
        result = asyncio.run(run.run())
    except Exception as exc:  # noqa: BLE001 - the run's own stack is stopped all the same
        import traceback

        err_console.print(f"chaos run aborted: {type(exc).__name__}: {exc}\n{traceback.format_exc()}", markup=False,
                          highlight=False)
    finally:
        if not keep:
            say("chaos: stopping the run's stack")
            run.world.down()
    if result is None:
        raise typer.Exit(2)
    for line in summary(result):
        say(line)
    (home / "report.json").write_text(result.to_json())
    if report:
        report.write_text(result.to_json())
    if result.ok and not keep:
        run.world.remove()
    else:
        say(f"chaos: logs and state kept in {home}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def logs(service: str = typer.Argument(..., help=f"One of {', '.join((*SERVICES, *SIMULATORS))}"),
         lines: int = typer.Option(50, "-n", "--lines", help="How many lines."),
         follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines.")) -> None:
    """Tail a service's or simulator's log in .local/run."""
    if service not in (*SERVICES, *SIMULATORS):
        raise fail(f"unknown service {service!r}; one of {', '.join((*SERVICES, *SIMULATORS))}")
    path = stack().log_file(service)
    if not path.exists():
        raise fail(f"no log yet for {service} ({path})")
    sys.stdout.write(stack().tail(service, lines) + "\n")   # raw: keeps the log's own colours
    if follow:
        with path.open(errors="replace") as handle:
            handle.seek(0, 2)
            try:
                while True:
                    chunk = handle.read()
                    if chunk:
                        sys.stdout.write(chunk)
                        sys.stdout.flush()
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    app()
