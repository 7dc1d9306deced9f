#!/bin/sh
# Runs once, when the department's PostgreSQL volume is initialised (docker-entrypoint-initdb.d):
# the department's login role owning only its database, which nobody else may connect to.
# Names and the password file come from the StatefulSet's environment (base/postgres/generated.yaml).
set -eu
password="$(cat "$ORDERFLOW_DB_PASSWORD_FILE")"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v role="$ORDERFLOW_DB_ROLE" -v db="$ORDERFLOW_DB_NAME" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
SQL
