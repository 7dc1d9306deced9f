# Two commands do all set-up on a fresh machine: `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: up down test test-unit infra infra-down install status clean images lock k8s chaos chaos-ci

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
