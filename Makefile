# Two commands do all set-up on a fresh machine: `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: up down test test-unit infra infra-down install status clean bench bench-quick

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

# Everything up, demo orders placed and shown; the stack stays running in the background.
up: infra
	$(PY) -m services.cli.main up

down:
	@if [ -x $(PY) ]; then $(PY) -m services.cli.main down; else $(MAKE) infra-down; fi

status: install
	$(PY) -m services.cli.main status

# The whole suite: unit, then end-to-end against real Kafka + PostgreSQL + service processes.
test: infra
	$(PY) -m pytest -q -rfE --durations=15

test-unit: install
	$(PY) -m pytest -q tests/unit

clean: down
	rm -rf .local

# Benchmarks: NOT part of `make test`. Each scenario on a fresh stack (own topics, groups, databases,
# simulators' delays 0), results as JSON in .local/bench/<stamp>/. See docs/performance.md.
# Needs the demo stack's service ports free (`make down` or `orderflow down --keep-infra`).
BENCH_ARGS ?=
bench: infra
	$(PY) -m services.cli.main bench-suite $(BENCH_ARGS)

bench-quick: infra
	$(PY) -m services.cli.main bench-suite --scenario capacity --scenario 10 --capacity-orders 500 --duration 30 --no-bound $(BENCH_ARGS)
