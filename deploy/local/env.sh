# shellcheck shell=bash
# Source me:  . deploy/local/env.sh
# Connection defaults for the local Kafka/PostgreSQL started by kafka.sh / postgres.sh.
# Only sets variables that are not already set, so CI or a developer can override them.
# (No `set -e` here: this file is sourced into the caller's shell.)
: "${ORDERFLOW_KAFKA_BOOTSTRAP:=127.0.0.1:${ORDERFLOW_KAFKA_PORT:-9092}}"
: "${ORDERFLOW_PG_HOST:=127.0.0.1}"
: "${ORDERFLOW_PG_PORT:=5433}"
: "${ORDERFLOW_PG_USER:=orderflow}"
: "${ORDERFLOW_PG_PASSWORD:=orderflow}"
export ORDERFLOW_KAFKA_BOOTSTRAP ORDERFLOW_PG_HOST ORDERFLOW_PG_PORT ORDERFLOW_PG_USER ORDERFLOW_PG_PASSWORD
