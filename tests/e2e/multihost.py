"""orderflow spread over hosts: Kafka, PostgreSQL, each department and the external parties each on
a host of its own (a network namespace, tests/e2e/netns.py), plus a client host for the operator.

Every host knows the others only by address, every connection crosses the bridge:

- Kafka (`deploy/local/kafka.sh` with its own state, listening and advertising the kafka host's
  address, which its TLS certificate carries) takes SASL_SSL + SCRAM-SHA-512 only, ACLs from the
  catalogue; PostgreSQL (`deploy/local/postgres.sh`) listens on its host's address and admits the
  network with scram-sha-256; `orderflow provision` runs from the client host.
- Each department host gets only its own credentials (its Kafka password, its database role's
  password, the CA, the public keys bearer tokens are checked with) through the settings container
  platforms use (`*_FILE`), and an environment with no ORDERFLOW_* setting of the machine it happens
  to run on. Every department listens on port 8080 of its own address: nothing relies on distinct
  ports on one machine.
- The test process itself is the client host (`Network.entered`): orders, the invariants' database
  reads and the lag readings all cross the bridge, as an operator's would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.cli.stack import MODULES, SERVICES, SIMULATORS, Stack
from services.provisioning.secrets import write_private
from services.runtime.config import Settings
from tests.e2e.netns import Network

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"

# host -> last octet of its address in netns.SUBNET
HOSTS = {"kafka": 2, "postgres": 3, "sales": 11, "procurement": 12, "warehouse": 13, "logistics": 14,
         "finance": 15, "partners": 20, "client": 100}
PARTNERS = "partners"         # carrier, payment provider and supplier: outside parties, on a host of their own
KAFKA_PORT, CONTROLLER_PORT, PG_PORT, HTTP_PORT = 9092, 9093, 5432, 8080

# Simulated partners answer quickly, and a step without an answer is re-sent after a few seconds,
# so that a department cut off for CUT_SECONDS sees commands re-sent while it is away.
TIMINGS = {
    "ORDERFLOW_SIM_CARRIER_DELAY": "0.05",
    "ORDERFLOW_SIM_PAYMENT_DELAY": "0.05",
    "ORDERFLOW_SIM_SUPPLIER_DELAY": "0.1",
    "ORDERFLOW_SIM_SUPPLIER_DELIVERY_DELAY": "0.5",
    "ORDERFLOW_STEP_TIMEOUT_SECONDS": "8",
    "ORDERFLOW_SAGA_TICK_SECONDS": "0.5",
    "ORDERFLOW_PROCUREMENT_SWEEP_SECONDS": "0.5",
    "ORDERFLOW_SHUTDOWN_GRACE_SECONDS": "10",
}


def clean_env(**settings: str) -> dict[str, str]:
    """The environment of a process on another host: the machine's ORDERFLOW_* settings (ports and
    paths of the local stack) do not exist there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    return {**env, **settings}


@dataclass
class HostStack(Stack):
    """The supervisor of tests and `orderflow up`, each process started on its host with its own
    environment (`launch(name)` -> command prefix, environment)."""

    launch: Callable[[str], tuple[list[str], dict[str, str]]] | None = None

    def start(self, name: str) -> int:
        running = self.pid(name)
        if running:
            return running
        assert self.launch is not None
        prefix, env = self.launch(name)
        with self.log_file(name).open("ab") as log:
            process = subprocess.Popen([*prefix, sys.executable, "-m", MODULES[name]], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._pid_file(name).write_text(str(process.pid))
        return process.pid


@dataclass
class MultiHost:
    net: Network
    run_dir: Path                       # logs, the infrastructure's state and each host's credentials
    infra_home: Path = field(init=False)  # ORDERFLOW_HOME of kafka.sh/postgres.sh and of the operator
    stack: HostStack = field(init=False)

    def __post_init__(self) -> None:
        self.infra_home = self.run_dir / "infra"
        self.infra_home.mkdir(parents=True, exist_ok=True)
        self.stack = HostStack(run_dir=self.run_dir, ports={s: HTTP_PORT for s in SERVICES},
                               urls={s: self.url(s) for s in SERVICES}, launch=self._launch)

    # --- addresses ------------------------------------------------------------------------------

    def bootstrap(self) -> str:
        return f"{self.net.address('kafka')}:{KAFKA_PORT}"

    def url(self, service: str) -> str:
        return f"http://{self.net.address(service)}:{HTTP_PORT}"

    def operator_env(self) -> dict[str, str]:
        """The operator on the client host: the provisioning credentials, the remote endpoints, a
        bearer token (once given)."""
        token = self.host_dir("client") / "operator.token"
        return clean_env(ORDERFLOW_HOME=str(self.infra_home), ORDERFLOW_KAFKA_BOOTSTRAP=self.bootstrap(),
                         ORDERFLOW_PG_HOST=self.net.address("postgres"), ORDERFLOW_PG_PORT=str(PG_PORT),
                         **({"ORDERFLOW_TOKEN_FILE": str(token)} if token.exists() else {}))

    def operator_settings(self) -> Settings:
        return Settings(home=self.infra_home, state_dir=self.infra_home / ".local", kafka_bootstrap=self.bootstrap(),
                        pg_host=self.net.address("postgres"), pg_port=PG_PORT, topic_prefix="", group_prefix="",
                        db_prefix="orderflow_", kafka_username="", pg_user="", kafka_password=None,
                        kafka_password_file=None, kafka_ca_file=None, pg_password=None, pg_password_file=None)

    # --- infrastructure ---------------------------------------------------------------------------

    def _infra_env(self) -> dict[str, str]:
        return clean_env(
            ORDERFLOW_HOME=str(self.infra_home),
            ORDERFLOW_KAFKA_HOST=self.net.address("kafka"), ORDERFLOW_KAFKA_PORT=str(KAFKA_PORT),
            ORDERFLOW_KAFKA_CONTROLLER_PORT=str(CONTROLLER_PORT), ORDERFLOW_KAFKA_START_TIMEOUT="240",
            ORDERFLOW_PG_PORT=str(PG_PORT), ORDERFLOW_PG_LISTEN=self.net.address("postgres"),
            ORDERFLOW_PG_ALLOW_CIDRS=f"{self.net.address('postgres').rsplit('.', 1)[0]}.0/24",
            ORDERFLOW_PG_START_TIMEOUT="120")

    def prepare_binaries(self) -> None:
        """Kafka's jars and PostgreSQL's binaries come from the registries, which the hosts cannot
        reach: fetched (when missing) on this machine's own network, shared through `.cache`."""
        subprocess.run([str(LOCAL / "kafka.sh"), "install"], check=True, stdout=subprocess.DEVNULL)
        if not Path("/usr/lib/postgresql/15/bin/postgres").exists():
            subprocess.run([str(LOCAL / "postgres.sh"), "install"], check=True)
        cache = Path(os.environ.get("ORDERFLOW_HOME") or ROOT) / ".cache"
        link = self.infra_home / ".cache"
        if not link.exists():
            link.symlink_to(cache.resolve())

    def start_infra(self) -> None:
        """Kafka and PostgreSQL, each on its host, started side by side."""
        started = {host: subprocess.Popen([*self.net.exec(host), str(LOCAL / f"{host}.sh"), "start"],
                                          env=self._infra_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True, stdin=subprocess.DEVNULL)
                   for host in ("kafka", "postgres")}
        for host, process in started.items():
            output, _ = process.communicate(timeout=300)
            if process.returncode != 0:
                raise RuntimeError(f"{host}.sh start on host {host} failed:\n{output}")

    def stop_infra(self) -> None:
        for host in ("kafka", "postgres"):
            subprocess.run([*self.net.exec(host), str(LOCAL / f"{host}.sh"), "stop"], env=self._infra_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)

    def infra_logs(self) -> dict[str, Path]:
        """The broker's and the database server's logs, where their scripts write them."""
        state = self.infra_home / ".local"
        location = state / "pg-location"        # postgres.sh may have put its data elsewhere
        pg_base = Path(location.read_text().strip()) if location.exists() else state
        return {"kafka.log": state / "kafka" / "kafka.log", "postgres.log": pg_base / "pgdata.log"}

    def keep_logs_drop_state(self, keep_state: bool = False) -> None:
        """The broker's and the database's logs join the services' in the run directory (for a
        post-mortem); their data and every credential go, unless `keep_state`."""
        logs = self.infra_logs()
        for name, source in logs.items():
            if source.exists():
                shutil.copy2(source, self.run_dir / name)
        if not keep_state:
            shutil.rmtree(self.infra_home, ignore_errors=True)
            shutil.rmtree(self.run_dir / "hosts", ignore_errors=True)
            shutil.rmtree(logs["postgres.log"].parent, ignore_errors=True)   # when outside infra_home

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        """`orderflow ARGS` run on the client host as the operator."""
        return subprocess.run([*self.net.exec("client"), sys.executable, "-m", "services.cli.main", *args],
                              env={**self.operator_env(), "COLUMNS": "200", **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    # --- each host's own credentials ------------------------------------------------------------

    def host_dir(self, host: str) -> Path:
        return self.run_dir / "hosts" / host

    def distribute_credentials(self, jwks: Path) -> None:
        """Copy to each host what it needs and nothing else: the CA, its principal's Kafka password
        and, for a department, its database role's password and the public keys that bearer tokens
        are verified with (`jwks`, the identity provider's). Made by provisioning on the client host."""
        state = self.infra_home / ".local"
        placement = {name: name for name in SERVICES} | {name: PARTNERS for name in SIMULATORS}
        for name, host in placement.items():
            target = self.host_dir(host)
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy2(state / "kafka" / "tls" / "ca.crt", target / "ca.crt")
            shutil.copy2(state / "kafka" / "users" / f"{name}.password", target / f"{name}.kafka-password")
            if name in SERVICES:
                shutil.copy2(state / "postgres" / "roles" / f"orderflow_{name}.password",
                             target / f"orderflow_{name}.pg-password")
                shutil.copy2(jwks, target / "jwks.json")

    def give_operator_token(self, token: str) -> Path:
        """The operator's bearer token as a file on the client host (ORDERFLOW_TOKEN_FILE), the way a
        token from an identity provider reaches the CLI."""
        path = self.host_dir("client") / "operator.token"
        write_private(path, token + "\n")
        return path

    def host_of(self, name: str) -> str:
        return name if name in SERVICES else PARTNERS

    def _launch(self, name: str) -> tuple[list[str], dict[str, str]]:
        host = self.host_of(name)
        own = self.host_dir(host)
        env = clean_env(
            ORDERFLOW_HOME=str(own), **TIMINGS,
            ORDERFLOW_KAFKA_BOOTSTRAP=self.bootstrap(), ORDERFLOW_KAFKA_CA_FILE=str(own / "ca.crt"),
            ORDERFLOW_KAFKA_PASSWORD_FILE=str(own / f"{name}.kafka-password"),
            ORDERFLOW_HTTP_HOST=self.net.address(host))
        if name in SERVICES:
            env.update(ORDERFLOW_PG_HOST=self.net.address("postgres"), ORDERFLOW_PG_PORT=str(PG_PORT),
                       ORDERFLOW_PG_PASSWORD_FILE=str(own / f"orderflow_{name}.pg-password"),
                       ORDERFLOW_AUTH_JWKS_FILE=str(own / "jwks.json"),
                       **{f"ORDERFLOW_{name.upper()}_PORT": str(HTTP_PORT)})
        return self.net.exec(host), env
