#!/usr/bin/env bash
# Local PostgreSQL 15 for orderflow (one server, five databases) without Docker.
#
#   deploy/local/postgres.sh install|start|stop|status|psql [psql args...]
#
# The server runs as the `postgres` OS user (PostgreSQL refuses root) from a
# project-local data dir (.local/pgdata), listening on 127.0.0.1:${ORDERFLOW_PG_PORT:-5433}.
# Auth: scram-sha-256 over TCP for every role; the `postgres` superuser only over the unix
# socket as the postgres OS user (peer). This script creates one role, `orderflow_admin`
# (CREATEDB, CREATEROLE, password generated into .local/postgres/roles/), which provisioning
# (`orderflow provision`) uses to create one login role per service owning only its database.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${ORDERFLOW_HOME:-$(cd "$SCRIPT_DIR/../.." && pwd)}"
ROOT="$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)"

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_HOST=127.0.0.1
PG_PORT="${ORDERFLOW_PG_PORT:-5433}"
ADMIN_ROLE=orderflow_admin
LISTEN="${ORDERFLOW_PG_LISTEN:-127.0.0.1}"          # listen_addresses (comma-separated)
ALLOW_CIDRS="${ORDERFLOW_PG_ALLOW_CIDRS:-}"         # extra client networks (scram-sha-256), comma-separated
PG_OS_USER=postgres
START_TIMEOUT="${ORDERFLOW_PG_START_TIMEOUT:-60}"

LOCAL_DIR="$ROOT/.local"
ROLES_DIR="$LOCAL_DIR/postgres/roles"
FALLBACK_DIR="/var/tmp/orderflow-pg-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"

log() { echo "[postgres] $*"; }
err() { echo "[postgres] ERROR: $*" >&2; }

as_pg() { runuser -u "$PG_OS_USER" -- "$@"; }

# ---------------------------------------------------------------- locations

# Data dir lives in .local/pgdata unless the postgres user cannot reach it
# (e.g. repo under a 0700 home dir), then in /var/tmp/orderflow-pg-<hash>/.
# The choice is remembered in .local/pg-location so every command agrees.
resolve_base() {
  mkdir -p "$LOCAL_DIR"
  [ -f "$LOCAL_DIR/.gitignore" ] || printf '*\n' >"$LOCAL_DIR/.gitignore"
  if [ -f "$LOCAL_DIR/pg-location" ]; then
    BASE="$(cat "$LOCAL_DIR/pg-location")"
  elif id "$PG_OS_USER" >/dev/null 2>&1 && as_pg test -x "$LOCAL_DIR"; then
    BASE="$LOCAL_DIR"
  elif id "$PG_OS_USER" >/dev/null 2>&1; then
    # Try making parents traversable (o+x only: no read/list permission added).
    local d="$LOCAL_DIR" fixed=1
    while [ "$d" != "/" ]; do
      if ! as_pg test -x "$d"; then chmod o+x "$d" 2>/dev/null || fixed=0; fi
      d="$(dirname "$d")"
    done
    if [ "$fixed" = 1 ] && as_pg test -x "$LOCAL_DIR"; then
      log "made parent directories of $LOCAL_DIR traversable (o+x) for the postgres user"
      BASE="$LOCAL_DIR"
    else
      BASE="$FALLBACK_DIR"
      log "$LOCAL_DIR is not reachable by the postgres user; using $BASE instead"
    fi
  else
    BASE="$LOCAL_DIR"  # decided for real after install creates the user
    return 0
  fi
  echo "$BASE" >"$LOCAL_DIR/pg-location"
}

set_paths() {
  resolve_base
  PGDATA="$BASE/pgdata"
  PG_LOG="$BASE/pgdata.log"
  SOCKET_DIR="$BASE/pgsock"
}

# ---------------------------------------------------------------- install

cmd_install() {
  local pkgs=()
  [ -x "$PG_BIN/postgres" ] || pkgs+=("postgresql-$PG_MAJOR")
  { [ -x "$PG_BIN/psql" ] && command -v psql >/dev/null 2>&1; } || pkgs+=("postgresql-client-$PG_MAJOR")
  if [ "${#pkgs[@]}" -gt 0 ]; then
    log "installing ${pkgs[*]} via apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${pkgs[@]}" >/dev/null
  else
    log "PostgreSQL $PG_MAJOR already installed ($PG_BIN)"
  fi
  if ! id "$PG_OS_USER" >/dev/null 2>&1; then
    log "creating system user $PG_OS_USER"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
  fi
  # We never use the distro cluster; if apt started it, stop it so it holds no resources.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name port status _; do
      if [ "$status" = "online" ]; then
        log "stopping distro cluster $ver/$name on port $port (not used by orderflow)"
        pg_ctlcluster "$ver" "$name" stop || true
      fi
    done
  fi
}

# ---------------------------------------------------------------- helpers

# Over the socket: answers whatever listen_addresses is.
is_ready() { "$PG_BIN/pg_isready" -q -h "$SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1; }

# pid from postmaster.pid if that process is alive and is a postgres postmaster for our data dir.
live_pid() {
  local pf="$PGDATA/postmaster.pid" pid
  [ -f "$pf" ] || return 1
  pid="$(head -1 "$pf" | tr -dc '0-9')"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # (a zombie has an empty cmdline and counts as dead)
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "postgres" || return 1
  echo "$pid"
}

# After a crash (kill -9) the dead postmaster may linger as a zombie for a moment;
# PostgreSQL treats a lock file whose pid still exists as live, so wait for it to
# vanish, then drop postmaster.pid and socket lock files that point at dead pids.
remove_stale_locks() {
  local f pid i
  for f in "$PGDATA/postmaster.pid" "$SOCKET_DIR"/.s.PGSQL.*.lock; do
    [ -f "$f" ] || continue
    pid="$(head -1 "$f" | tr -dc '0-9')"
    for i in $(seq 1 20); do
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ ! -s "/proc/$pid/cmdline" ] || break
      sleep 0.5
    done
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || [ ! -s "/proc/$pid/cmdline" ]; then
      rm -f "$f"
    fi
  done
}

port_listener() {
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:(\(.*\))/\1/p' | head -1
}

port_busy() { (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null; }

init_cluster() {
  if [ -f "$PGDATA/PG_VERSION" ]; then return 0; fi
  log "initdb $PGDATA (owner $PG_OS_USER, peer on the socket, scram-sha-256 over TCP)"
  mkdir -p "$BASE"
  install -d -m 0700 -o "$PG_OS_USER" -g "$(id -gn "$PG_OS_USER")" "$PGDATA"
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
    >"$BASE/initdb.log" 2>&1 || { err "initdb failed:"; cat "$BASE/initdb.log" >&2; rm -rf "$PGDATA"; exit 1; }
}

write_conf() {
  install -d -m 0755 -o "$PG_OS_USER" "$SOCKET_DIR"
  touch "$PG_LOG" && chown "$PG_OS_USER" "$PG_LOG"
  # Included from postgresql.conf; rewritten on every start so port changes apply.
  cat >"$PGDATA/orderflow.conf" <<EOF
# Generated by deploy/local/postgres.sh - rewritten on every start.
listen_addresses = '$LISTEN'
password_encryption = scram-sha-256
port = $PG_PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = on
full_page_writes = on
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = -1
timezone = 'UTC'
EOF
  chown "$PG_OS_USER" "$PGDATA/orderflow.conf"
  grep -q "^include_if_exists = 'orderflow.conf'" "$PGDATA/postgresql.conf" \
    || echo "include_if_exists = 'orderflow.conf'" >>"$PGDATA/postgresql.conf"
  {
    cat <<'EOF'
# Generated by deploy/local/postgres.sh. The superuser only over the socket as the postgres OS
# user; every other connection authenticates with scram-sha-256. Database access is decided by
# CONNECT privileges: each service role can open only its own database.
local   all  postgres                peer
local   all  all                     scram-sha-256
host    all  all      127.0.0.1/32   scram-sha-256
host    all  all      ::1/128        scram-sha-256
EOF
    local cidr IFS=,
    for cidr in $ALLOW_CIDRS; do
      [ -n "${cidr// /}" ] && printf 'host    all  all      %-14s scram-sha-256\n' "${cidr// /}"
    done
  } >"$PGDATA/pg_hba.conf"
  chown "$PG_OS_USER" "$PGDATA/pg_hba.conf"
}

psql_admin() {
  # As the postgres OS user over the unix socket (peer authentication): no password involved.
  (cd / && as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres "$@")
}

# The one role provisioning uses (CREATEDB, CREATEROLE; not a superuser). Its password is generated
# once into .local/postgres/roles/ (0600) and set from that file on every start. The service roles
# and databases are created by provisioning (`orderflow provision`), as this role.
ensure_admin_role() {
  (umask 077 && mkdir -p "$ROLES_DIR")
  chmod 700 "$ROLES_DIR"
  local pwfile="$ROLES_DIR/$ADMIN_ROLE.password"
  [ -s "$pwfile" ] || (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$pwfile")
  # The password reaches psql as a variable on stdin, not on a command line; statement logging is
  # off for this session so that even a failing statement is never written to the server log.
  { printf '\\set pw %s\n' "$(tr -d '\n' <"$pwfile")"
    cat <<SQL
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SELECT format('CREATE ROLE %I LOGIN CREATEDB CREATEROLE', '$ADMIN_ROLE')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ADMIN_ROLE') \\gexec
ALTER ROLE $ADMIN_ROLE WITH LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD :'pw';
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
GRANT CONNECT ON DATABASE postgres TO $ADMIN_ROLE;
SQL
  } | psql_admin -f -
  # The role of the first, unsecured version of this script was a superuser with a known password.
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'orderflow' AND (rolsuper OR rolcanlogin)")" = "1" ]; then
    log "disarming the legacy role 'orderflow' (superuser with a well-known password): NOLOGIN NOSUPERUSER"
    psql_admin -c "ALTER ROLE orderflow NOSUPERUSER NOLOGIN PASSWORD NULL"
  fi
}

# ---------------------------------------------------------------- commands

cmd_start() {
  [ -x "$PG_BIN/postgres" ] && id "$PG_OS_USER" >/dev/null 2>&1 || cmd_install
  set_paths
  local pid
  if [ -f "$PGDATA/postmaster.pid" ]; then
    if pid="$(live_pid)"; then
      if is_ready; then
        log "already running (pid $pid) and answering on $PG_HOST:$PG_PORT"
        ensure_admin_role
        return 0
      fi
      log "postmaster pid $pid is alive but not answering on $PG_HOST:$PG_PORT yet; waiting"
      local deadline=$((SECONDS + START_TIMEOUT))
      while [ "$SECONDS" -lt "$deadline" ] && ! is_ready; do sleep 0.5; done
      if is_ready; then ensure_admin_role; log "running"; return 0; fi
      err "postmaster pid $pid is alive but not answering on port $PG_PORT (different port? half-started?)"
      err "last lines of $PG_LOG:"; tail -n 30 "$PG_LOG" >&2 || true
      exit 1
    fi
    log "stale $PGDATA/postmaster.pid (pid $(head -1 "$PGDATA/postmaster.pid") not running), removing"
    remove_stale_locks
  fi
  if port_busy; then
    if is_ready; then
      err "port $PG_PORT already has a PostgreSQL that is not ours ($(port_listener "$PG_PORT" || echo unknown))"
    else
      err "port $PG_PORT is taken by another process: $(port_listener "$PG_PORT" || echo unknown)"
    fi
    err "free it or set ORDERFLOW_PG_PORT"
    exit 1
  fi
  init_cluster
  write_conf
  log "starting PostgreSQL $PG_MAJOR on $PG_HOST:$PG_PORT (data $PGDATA, log $PG_LOG)"
  # cd / : the postgres user may not be allowed to read the caller's cwd.
  if ! (cd / && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" -s start); then
    err "pg_ctl start failed; last lines of $PG_LOG:"
    tail -n 30 "$PG_LOG" >&2 || true
    exit 1
  fi
  local deadline=$((SECONDS + START_TIMEOUT))
  while ! is_ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      err "server started but pg_isready does not answer on $PG_HOST:$PG_PORT"
      tail -n 30 "$PG_LOG" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
  ensure_admin_role
  log "ready on $PG_HOST:$PG_PORT; provisioning role $ADMIN_ROLE (password in $ROLES_DIR/)"
}

cmd_stop() {
  set_paths
  local pid
  if [ ! -f "$PGDATA/postmaster.pid" ]; then
    log "not running"
    return 0
  fi
  if ! pid="$(live_pid)"; then
    log "stale $PGDATA/postmaster.pid (process gone), removing"
    remove_stale_locks
    return 0
  fi
  log "stopping (pid $pid, fast mode)"
  (cd / && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 -s stop)
  log "stopped"
}

cmd_status() {
  set_paths
  local pid
  if pid="$(live_pid)"; then
    if is_ready; then
      log "running (pid $pid), answering on $PG_HOST:$PG_PORT, data $PGDATA"
      return 0
    fi
    log "process $pid alive but NOT answering on $PG_HOST:$PG_PORT"
    return 1
  fi
  if [ -f "$PGDATA/postmaster.pid" ]; then log "stale (postmaster.pid present, process gone)"; else log "stopped"; fi
  return 3
}

# psql as the provisioning role (a member of every service role), e.g. `postgres.sh psql -d orderflow_sales`.
cmd_psql() {
  PGPASSWORD="$(cat "$ROLES_DIR/$ADMIN_ROLE.password")"
  export PGPASSWORD
  local have_db=0 a
  for a in "$@"; do case "$a" in -d|--dbname|--dbname=*) have_db=1 ;; esac; done
  if [ "$have_db" = 1 ]; then
    exec "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$ADMIN_ROLE" "$@"
  fi
  exec "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$ADMIN_ROLE" -d "${ORDERFLOW_PG_DB:-postgres}" "$@"
}

case "${1:-}" in
  install) cmd_install; set_paths; log "data dir will be $PGDATA" ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  psql) shift; cmd_psql "$@" ;;
  *) echo "usage: $0 install|start|stop|status|psql [psql args]" >&2; exit 2 ;;
esac
