# Two commands do all set-up on a fresh machine: `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: browser up down test test-unit test-multi-host infra infra-down install tools netns-tools status clean images lock k8s bench bench-quick chaos chaos-ci

# Python dependencies (re-installed when pyproject.toml changes).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required, found " + sys.version'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# Kafka (from Maven Central) and PostgreSQL 15 (from Debian), installed when missing.
infra: install
	deploy/local/postgres.sh start
	deploy/local/kafka.sh start

infra-down:
	-deploy/local/kafka.sh stop
	-deploy/local/postgres.sh stop

# Test tools that are not Python packages (into .local/tools, offline after the first run): promtool
# from Debian's prometheus package, the AsyncAPI project's parser from npm (deploy/local/tools.sh).
tools:
	deploy/local/tools.sh all

# Everything up, demo orders placed and shown; the stack stays running in the background.
up: infra
	$(PY) -m services.cli.main up

down:
	@if [ -x $(PY) ]; then $(PY) -m services.cli.main down; else $(MAKE) infra-down; fi

status: install
	$(PY) -m services.cli.main status

# iproute2 (`ip netns`, veth, bridge) for the multi-host test, apt-installed when missing. Without
# root the test is skipped with the reason, so this only installs as root.
netns-tools:
	@command -v ip >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { echo "installing iproute2 via apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null; }

# Debian's chromium for the console's browser tests (tests/e2e/test_console.py): Playwright drives the
# system browser through its executable path; Playwright's own browser download is never used.
browser:
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && { echo "installing chromium via apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium is missing and installing it needs root: the console's browser tests will fail"; }

# The whole suite: unit, then end-to-end against real Kafka + PostgreSQL + service processes
# (including the multi-host run, tests/e2e/test_multi_host.py).
test: infra tools netns-tools browser
	ORDERFLOW_REQUIRE_BROWSER=1 $(PY) -m pytest -q -rfEs --durations=15

# Only the multi-host run: every component on its own network-namespace host, a department cut off.
test-multi-host: install netns-tools
	$(PY) -m pytest -q -rfEs -s tests/e2e/test_multi_host.py

test-unit: install tools
	$(PY) -m pytest -q tests/unit

# Chaos on a stack of its own (own ORDERFLOW_HOME, Kafka, PostgreSQL, ports): 10,000 mixed orders
# while services, the broker and PostgreSQL are killed; prints lost/doubled/stuck/invariants and
# recovery times (long: not part of `make test`, which runs the CI-sized profile, see chaos-ci).
chaos: install
	$(PY) -m services.cli.main chaos --profile full --report .local/chaos-full.json

chaos-ci: install
	$(PY) -m services.cli.main chaos --profile ci --report .local/chaos-ci.json

clean: down
	rm -rf .local

# Container images of every component, built and started once each (slow: not part of `make test`).
# Needs root for debootstrap/buildah; see deploy/images/build.sh.
images: infra
	deploy/images/build.sh all

# The images' hashed lock file, after a dependency change in pyproject.toml.
lock: install
	$(VENV)/bin/uv lock
	$(VENV)/bin/uv export --format requirements-txt --no-emit-project --no-dev --frozen -o deploy/images/requirements.lock

# Kubernetes resources generated from the topic catalogue, ACLs, versions and alert rules.
k8s: install
	$(PY) -m deploy.k8s.generate
# Benchmarks: NOT part of `make test`. Each scenario on a fresh stack (own topics, groups, databases,
# simulators' delays 0), results as JSON in .local/bench/<stamp>/. See docs/performance.md.
# Needs the demo stack's service ports free (`make down` or `orderflow down --keep-infra`).
BENCH_ARGS ?=
bench: infra
	$(PY) -m services.cli.main bench-suite $(BENCH_ARGS)

bench-quick: infra
	$(PY) -m services.cli.main bench-suite --scenario capacity --scenario 10 --capacity-orders 500 --duration 30 --no-bound $(BENCH_ARGS)
