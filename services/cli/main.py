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
from services.cli import client, demo, exit_codes, lag as lag_mod, supervisor
from services.cli.dlq import dlq_app
from services.cli.client import call, console, err_console, fail, json_or_fail
from services.cli.provisioning import acl_app, provision as provision_environment
from services.cli.orders import order_app
from services.cli.risk import risk_app
from services.cli.settlement import kpi, statement_app
from services.cli.stack import CONSOLE, EXPORTER, SERVICES, SIMULATORS, SUPERVISED, Stack
from services.runtime import dev_issuer, roles
from services.runtime.config import Settings
from services.runtime.tokens import AuthSettings

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("ORDERFLOW_RUN_DIR") or ROOT / ".local" / "run")
INFRA = {"kafka": ROOT / "deploy/local/kafka.sh", "postgres": ROOT / "deploy/local/postgres.sh"}

app = typer.Typer(help="Operate the local orderflow stack.", no_args_is_help=True, add_completion=False)
app.callback()(client.address_options)     # --<service>-url / ORDERFLOW_<SERVICE>_URL: remote services
topics_app = typer.Typer(help="The topic catalogue.", no_args_is_help=True)
app.add_typer(order_app, name="order")
app.add_typer(topics_app, name="topics")
app.add_typer(dlq_app, name="dlq")
app.add_typer(acl_app, name="acl")
app.add_typer(risk_app, name="risk")
app.add_typer(statement_app, name="statement")
app.command()(kpi)


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
    """Start Kafka, PostgreSQL, provisioning, and under a supervisor the five services, the simulators,
    the lag exporter and the console (then a demo)."""
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
        console.print(f"  supervisor started (pid {pid}): runs {', '.join(SUPERVISED)} and restarts "
                      f"whatever exits, with backoff (log: {(st.run_dir / supervisor.LOG_FILE)})", highlight=False)
    wait_ready(st)
    if run_demo and not demo.run():
        raise typer.Exit(1)
    address = wait_console(st)
    console.print(f"\n[green]stack is running[/] (pids and logs in {RUN_DIR.relative_to(ROOT)}); "
                  "stop it with `orderflow down`")
    console.print(f"[bold]console:[/] {address}  (sign in as a dev user, e.g. clara, maria or oscar)", highlight=False)


def console_address() -> str:
    from services.console.settings import ConsoleSettings
    settings = ConsoleSettings()
    return f"http://{settings.http_host}:{settings.port()}"


def wait_console(st: Stack, timeout: float = 60.0) -> str:
    """The browser console's address once it answers (the supervisor starts it with the rest)."""
    address = console_address()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{address}/health/ready", timeout=2).status_code == 200:
                return address
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise fail(f"the console is not ready on {address} after {timeout:.0f}s; see `orderflow logs console`")


@app.command()
def down(keep_infra: bool = typer.Option(False, "--keep-infra", help="Stop only the services and simulators.")
         ) -> None:
    """Stop the supervisor and what it runs, then Kafka and PostgreSQL."""
    st = stack()
    with console.status("stopping services…"):
        if supervisor.stop(st.run_dir):
            console.print("  supervisor stopped what it ran")
        for name in reversed(SUPERVISED):                # anything started without it
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
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Processes, health, restarts and infrastructure of the local stack. Exit 4 (unavailable) if anything
    is down."""
    st = stack()
    report: dict[str, dict] = {}
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
        report[name] = {"url": st.url(name), "pid": pid, "live": live, "ready": ready,
                        "database": checks.get("database"), "broker": checks.get("broker"),
                        "restarts": supervised.get(name, {}).get("restarts")}
        table.add_row(f"{name} :{st.ports[name]}", remote or (f"pid {pid}" if pid else "[red]not running[/]"),
                      _check(live), _check(ready), _check(checks.get("database", "?") if live else "-"),
                      _check(checks.get("broker", "?") if live else "-"), restarts(name))
    for name in (*SIMULATORS, EXPORTER) if not st.urls else ():   # a remote stack's are not ours
        pid = st.pid(name)
        healthy &= bool(pid)
        report[name] = {"pid": pid, "running": bool(pid), "restarts": supervised.get(name, {}).get("restarts")}
        kind = "simulator" if name in SIMULATORS else "exporter"
        table.add_row(f"{name} ({kind})", f"pid {pid}" if pid else "[red]not running[/]", "", "", "", "",
                      restarts(name))
    if not st.urls:                                  # the console is optional: shown, never "unhealthy"
        pid = st.pid(CONSOLE)
        table.add_row(f"console {console_address()}", f"pid {pid}" if pid else "[dim]not running[/]", "", "", "", "",
                      restarts(CONSOLE))
    for name in INFRA if not st.urls else ():
        rc = infra(name, "status", quiet=True)
        healthy &= rc == 0
        state = {0: "[green]running[/]", 1: "[red]running, not answering[/]"}.get(rc, "[red]stopped[/]")
        report[name] = {"running": rc in (0, 1), "answering": rc == 0}
        table.add_row(name, state, "", "", "", "", "")
    if not st.urls:
        report["supervisor"] = {"pid": watcher, "running": bool(watcher)}
        table.add_row("supervisor", f"pid {watcher}" if watcher else "[red]not running[/] (orderflow up starts it)",
                      "", "", "", "", "")
    if as_json:
        client.print_json({"healthy": healthy, "components": report})
    else:
        console.print(table)
    if not healthy:
        raise typer.Exit(exit_codes.UNAVAILABLE)


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
          limit: int = typer.Option(30, "--limit", min=1, max=1000),
          as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Who did what through a service's API (needs the auditor or operator role)."""
    if service not in SERVICES:
        raise fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}", exit_codes.INVALID_INPUT)
    params = {k: v for k, v in {"order_id": order, "subject": subject, "limit": limit}.items() if v}
    entries = json_or_fail(call(service, "GET", "/audit", params=params), f"reading {service}'s audit log")
    if as_json:
        client.print_json(entries)
        return
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
def topics_list(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The topic catalogue."""
    prefix = Settings().topic_prefix
    if as_json:
        client.print_json([{"topic": prefix + spec.name, "catalogue_name": spec.name, "partitions": spec.partitions,
                            "owner": spec.owner, "writers": sorted(spec.writers), "readers": sorted(spec.readers),
                            "retention_ms": spec.retention_ms, "description": spec.description}
                           for spec in CATALOGUE.values()])
        return
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
        lagging: bool = typer.Option(False, "--lagging", help="Only partitions with lag (totals always shown)."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        watch: bool = typer.Option(False, "--watch", "-w", help="Poll until interrupted: adds lag in seconds and "
                                                                 "each group's status (OK/WARNING/STALLED/STOPPED)."),
        interval: float = typer.Option(5.0, "--interval", min=0.2, help="Seconds between polls with --watch."),
        window: float = typer.Option(60.0, "--window", min=1.0, help="Status window in seconds with --watch."),
        count: Optional[int] = typer.Option(None, "--count", min=1, help="Stop --watch after this many polls."),
        max_lag: Optional[int] = typer.Option(None, "--max-lag", min=0,
                                              help="Exit 5 when a group's lag exceeds this many messages."),
        max_lag_seconds: Optional[float] = typer.Option(None, "--max-lag-seconds", min=0,
                                                        help="With --watch: exit 5 when a group's lag exceeds this."),
        fail_on_status: bool = typer.Option(False, "--fail-unless-ok",
                                            help="With --watch: exit 5 when a group is not OK."),
        ) -> None:
    """Consumer lag per group, topic and partition (as the `monitor` principal). Exit codes: 3 no such
    group, 4 Kafka unavailable, 5 over a threshold (--max-lag, --max-lag-seconds, --fail-unless-ok)."""
    settings = Settings()
    problems: list[str] = []

    def show(snapshot, reports) -> bool:
        nonlocal problems
        problems = lag_mod.over_threshold(snapshot, reports if watch else None, max_lag, max_lag_seconds,
                                          fail_on_status)
        if as_json:
            client.print_json(lag_mod.as_json(snapshot, reports if watch else None))
        elif not snapshot.partitions:
            console.print(f"no committed offsets for {group or 'the orderflow consumer groups'}")
        else:
            console.print(lag_mod.lag_table(snapshot, reports if watch else None, show_zero=not lagging))
        return True

    try:
        if watch:
            try:
                asyncio.run(lag_mod.watch(settings, group, all_groups, interval, window, show, count))
            except KeyboardInterrupt:
                pass
        else:
            show(lag_mod.run(group, all_groups), None)
    except LookupError as exc:
        raise fail(str(exc), exit_codes.NOT_FOUND) from None
    except Exception as exc:  # noqa: BLE001 - Kafka unreachable etc.
        raise fail(f"reading consumer offsets from {settings.kafka_bootstrap} failed: "
                   f"{exc or type(exc).__name__} (is Kafka running? try `orderflow up`)", exit_codes.UNAVAILABLE) from None
    if problems:
        raise fail("over threshold: " + "; ".join(problems), exit_codes.OVER_THRESHOLD)


@app.command()
def bench(orders: int = typer.Option(500, "--orders", "-n", min=1, help="Orders to place (capacity mode)."),
          rate: Optional[float] = typer.Option(None, "--rate", min=0.1,
                                               help="Open model: this many orders/s for --duration seconds."),
          duration: float = typer.Option(60.0, "--duration", min=1, help="Seconds of load with --rate."),
          concurrency: int = typer.Option(20, "--concurrency", "-c", min=1, help="Requests in flight at most."),
          warmup: int = typer.Option(20, "--warmup", min=0, help="Orders completed before measuring."),
          customer: str = typer.Option("CUST-NORD", "--customer"),
          sku: str = typer.Option("SKU-BOLT-M8", "--sku"),
          quantity: int = typer.Option(1, "--quantity", min=1),
          timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for the last orders."),
          bound: bool = typer.Option(False, "--bound", help="Also measure Kafka's, PostgreSQL's and the bare "
                                                             "stack's bound in the same run."),
          as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
          output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the JSON here."),
          ) -> None:
    """Benchmark the running stack: capacity from a backlog (default) or an open-model load at
    --rate; throughput, latency percentiles, CPU per order per process and costs per order."""
    import json

    from services.cli.bench import report, runner

    options = runner.BenchOptions(orders=int(rate * duration) if rate else orders, rate=rate,
                                  concurrency=max(concurrency, 200) if rate else concurrency, warmup=warmup,
                                  customer=customer, sku=sku, quantity=quantity, timeout=timeout, bound=bound)
    with err_console.status("bench…") as status:
        try:
            result = asyncio.run(runner.run(options, progress=status.update))
        except httpx.HTTPError as exc:
            raise fail(f"benchmark failed talking to sales: {exc}") from None
    text = json.dumps(result, indent=2, default=str)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        table = Table(title=f"orderflow bench ({result['commit']})", title_justify="left")
        table.add_column("measure")
        table.add_column("value", overflow="fold")
        for name, value in report.rows(result):
            table.add_row(name, value)
        console.print(table)
    if result["orders"]["outcome"].get("not final") or result["orders"]["failed_requests"]:
        raise typer.Exit(1)


@app.command("bench-suite")
def bench_suite(scenario: list[str] = typer.Option(["capacity", "10", "50", "100"], "--scenario", "-s",
                                                   help="capacity, or a rate in orders/s (repeatable)."),
                capacity_orders: int = typer.Option(1000, "--capacity-orders", help="Backlog size for capacity."),
                duration: float = typer.Option(45.0, "--duration", help="Seconds of load per rate."),
                bound: bool = typer.Option(True, "--bound/--no-bound", help="Measure the bound with capacity."),
                out: Optional[Path] = typer.Option(None, "--out", help="Directory for the JSON results.")) -> None:
    """The published figures: each scenario on a fresh stack with the simulators' delays at 0
    (needs Kafka and PostgreSQL up and the ports of the demo stack free: `orderflow down --keep-infra`)."""
    from services.cli.bench import report, suite

    out_dir = out or ROOT / ".local" / "bench" / time.strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in scenario:
        if name != "capacity":
            try:
                float(name)
            except ValueError:
                raise fail(f"--scenario {name!r}: capacity or a number of orders/s") from None
        options = suite.options_for(name, capacity_orders=capacity_orders, duration=duration, bound=bound)
        with err_console.status(f"{name}…") as status:
            result = suite.run_scenario(name, options, out_dir, lambda text: status.update(f"{name}: {text}"))
        table = Table(title=f"{name} ({result['commit']})", title_justify="left")
        table.add_column("measure")
        table.add_column("value", overflow="fold")
        for row_name, value in report.rows(result):
            table.add_row(row_name, value)
        console.print(table)
    console.print(f"results in {out_dir}")


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
def logs(service: str = typer.Argument(..., help=f"One of {', '.join(SUPERVISED)}"),
         lines: int = typer.Option(50, "-n", "--lines", help="How many lines."),
         follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines.")) -> None:
    """Tail the log of a process of the local stack (.local/run), or of the supervisor."""
    if service not in (*SUPERVISED, "supervisor"):
        raise fail(f"unknown process {service!r}; one of {', '.join(SUPERVISED)}, supervisor",
                   exit_codes.INVALID_INPUT)
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
