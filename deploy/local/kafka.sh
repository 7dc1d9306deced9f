#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) without Docker, secured:
# clients connect with SASL_SSL (SCRAM-SHA-512 over TLS), the StandardAuthorizer denies anything
# no ACL allows, and the controller listener takes only the broker's own certificate (mutual TLS).
#
#   deploy/local/kafka.sh install|start|stop|status|logs [-f|N]|tool <ToolClass> [args]
#
# Jars come from Maven Central via deploy/local/pom.xml into .cache/kafka/lib,
# state lives in .local/kafka (config, data, log, pid, tls/, users/, clients/). Certificates and the
# bootstrap passwords (admin, broker) are generated here on first start; the other principals,
# their ACLs and the topics are created by provisioning (`orderflow provision`).
# See deploy/local/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${ORDERFLOW_HOME:-$(cd "$SCRIPT_DIR/../.." && pwd)}"
ROOT="$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)"

KAFKA_VERSION="${ORDERFLOW_KAFKA_VERSION:-$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$SCRIPT_DIR/pom.xml")}"
KAFKA_HOST="${ORDERFLOW_KAFKA_HOST:-127.0.0.1}"      # listen and advertise address
CERT_SANS="${ORDERFLOW_KAFKA_CERT_SANS:-}"           # extra names for the broker certificate, comma-separated
KAFKA_PORT="${ORDERFLOW_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${ORDERFLOW_KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT="${ORDERFLOW_KAFKA_START_TIMEOUT:-90}"

CACHE_DIR="$ROOT/.cache"
M2_REPO="$CACHE_DIR/m2"
LIB_DIR="$CACHE_DIR/kafka/lib"
LIB_MARKER="$LIB_DIR/.complete"
STATE_DIR="$ROOT/.local/kafka"
DATA_DIR="$STATE_DIR/data"
CONFIG="$STATE_DIR/server.properties"
LOG4J_CONFIG="$STATE_DIR/log4j2.properties"
TOOLS_LOG4J_CONFIG="$STATE_DIR/tools-log4j2.properties"
LOG_FILE="$STATE_DIR/kafka.log"
PID_FILE="$STATE_DIR/kafka.pid"
CLUSTER_ID_FILE="$STATE_DIR/cluster.id"
FORMAT_PORTS_FILE="$STATE_DIR/formatted-with"
PROBE="$SCRIPT_DIR/kafka_probe.py"
TLS_DIR="$STATE_DIR/tls"
USERS_DIR="$STATE_DIR/users"
CLIENTS_DIR="$STATE_DIR/clients"
SECURITY_LAYOUT="sasl_ssl-scram512-mtls-controller-v1"

log() { echo "[kafka] $*"; }
err() { echo "[kafka] ERROR: $*" >&2; }

# Make a directory ignored by git without touching the repo's .gitignore.
self_ignore() { mkdir -p "$1"; [ -f "$1/.gitignore" ] || printf '*\n' >"$1/.gitignore"; }

# ---------------------------------------------------------------- install

ensure_tools() {
  local missing=()
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} via apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  local jv
  jv="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  if [ -n "$jv" ] && [ "$jv" -lt 17 ]; then
    err "Kafka 4.x brokers need Java 17+, found Java $jv"
    exit 1
  fi
}

lib_complete() {
  [ -f "$LIB_MARKER" ] && [ "$(cat "$LIB_MARKER")" = "$KAFKA_VERSION" ] \
    && [ -f "$LIB_DIR/kafka_2.13-$KAFKA_VERSION.jar" ] \
    && [ -f "$LIB_DIR/kafka-tools-$KAFKA_VERSION.jar" ] \
    && ls "$LIB_DIR"/log4j-core-*.jar "$LIB_DIR"/log4j-slf4j-impl-*.jar >/dev/null 2>&1
}

cmd_install() {
  if lib_complete; then
    log "Kafka $KAFKA_VERSION jars already in $LIB_DIR"
    return 0
  fi
  ensure_tools
  self_ignore "$CACHE_DIR"
  log "resolving Kafka $KAFKA_VERSION from Maven Central into $LIB_DIR (local repo $M2_REPO)"
  local tmp="$CACHE_DIR/kafka/lib.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$SCRIPT_DIR/pom.xml" -Dmaven.repo.local="$M2_REPO" \
      -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" >"$CACHE_DIR/kafka/mvn.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 40 "$CACHE_DIR/kafka/mvn.log" >&2
    err "maven could not resolve Kafka $KAFKA_VERSION (try ORDERFLOW_KAFKA_VERSION=<other 4.x>)"
    exit 1
  fi
  echo "$KAFKA_VERSION" >"$tmp/.complete"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  log "installed $(ls "$LIB_DIR"/*.jar | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1))"
}

# ---------------------------------------------------------------- helpers

CP() { echo "$LIB_DIR/*"; }

# version_at_least 4.3.1 4.2 -> true (compares major.minor)
version_at_least() {
  local have_major have_minor want_major want_minor
  IFS=. read -r have_major have_minor _ <<<"$1"
  IFS=. read -r want_major want_minor _ <<<"$2"
  [ "${have_major:-0}" -gt "$want_major" ] || { [ "${have_major:-0}" -eq "$want_major" ] && [ "${have_minor:-0}" -ge "$want_minor" ]; }
}

read_pid() { [ -f "$PID_FILE" ] && tr -dc '0-9' <"$PID_FILE" || true; }

# Our broker = live process whose command line is kafka.Kafka with our config.
pid_is_ours() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $CONFIG"
}

# Prints probe output; returns 0 answering, 1 nothing listening, 2 not kafka, 3 kafka not ready.
probe() {
  if command -v python3 >/dev/null 2>&1; then
    python3 "$PROBE" "$KAFKA_HOST" "$KAFKA_PORT" 3 --cafile "$TLS_DIR/ca.crt"
  else
    # Fallback without python: TCP check, then a JVM admin call (~2 s).
    if ! (exec 3<>"/dev/tcp/$KAFKA_HOST/$KAFKA_PORT") 2>/dev/null; then
      echo "not listening"; return 1
    fi
    if java -cp "$(CP)" org.apache.kafka.tools.BrokerApiVersionsCommand \
        --bootstrap-server "$KAFKA_HOST:$KAFKA_PORT" --command-config "$CLIENTS_DIR/admin.properties" >/dev/null 2>&1; then
      echo "kafka answering"; return 0
    fi
    echo "listening, but not answering as kafka"; return 2
  fi
}

port_listener() {
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:(\(.*\))/\1/p' | head -1
}

# ---------------------------------------------------------------- secrets

new_secret() { openssl rand -hex 24; }

# A secret file (mode 0600), created once.
ensure_secret_file() {
  [ -s "$1" ] && return 0
  (umask 077 && new_secret >"$1")
}

san_list() {
  local sans="IP:127.0.0.1,DNS:localhost" item
  case "$KAFKA_HOST" in
    127.0.0.1|localhost) ;;
    *[!0-9.]*) sans="$sans,DNS:$KAFKA_HOST" ;;
    *) sans="$sans,IP:$KAFKA_HOST" ;;
  esac
  local IFS=,
  for item in $CERT_SANS; do
    item="${item// /}"
    [ -n "$item" ] || continue
    case "$item" in
      IP:*|DNS:*) sans="$sans,$item" ;;
      *[!0-9.]*) sans="$sans,DNS:$item" ;;
      *) sans="$sans,IP:$item" ;;
    esac
  done
  echo "$sans"
}

# A local CA, and a broker certificate (CN=broker, the super user's name on the controller
# listener) signed by it for every address clients use. Re-issued when the address list changes.
ensure_tls() {
  if ! command -v openssl >/dev/null 2>&1; then
    log "installing openssl via apt-get (to generate the local certificates)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
  fi
  (umask 077 && mkdir -p "$TLS_DIR" "$USERS_DIR" "$CLIENTS_DIR")
  chmod 700 "$TLS_DIR" "$USERS_DIR" "$CLIENTS_DIR"
  if [ ! -s "$TLS_DIR/ca.key" ] || [ ! -s "$TLS_DIR/ca.crt" ]; then
    log "generating a local certificate authority in $TLS_DIR"
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
      -subj "/CN=orderflow local CA/O=orderflow" -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null)
    chmod 644 "$TLS_DIR/ca.crt"
    rm -f "$TLS_DIR/broker.p12"
  fi
  local sans
  sans="$(san_list)"
  if [ -s "$TLS_DIR/broker.p12" ] && [ "$(cat "$TLS_DIR/broker.sans" 2>/dev/null)" = "$sans" ]; then
    return 0
  fi
  log "issuing the broker certificate for $sans"
  ensure_secret_file "$TLS_DIR/keystore.password"
  local tmp="$TLS_DIR/tmp.$$"
  (umask 077 && mkdir -p "$tmp")
  (umask 077 && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=broker/O=orderflow" \
    -keyout "$tmp/broker.key" -out "$tmp/broker.csr" 2>/dev/null)
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyAgreement\n' \
    "$sans" >"$tmp/ext.cnf"
  openssl x509 -req -in "$tmp/broker.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
    -days 825 -extfile "$tmp/ext.cnf" -out "$tmp/broker.crt" 2>/dev/null
  (umask 077 && openssl pkcs12 -export -name broker -in "$tmp/broker.crt" -inkey "$tmp/broker.key" \
    -certfile "$TLS_DIR/ca.crt" -out "$TLS_DIR/broker.p12" -passout "file:$TLS_DIR/keystore.password")
  rm -rf "$tmp" "$TLS_DIR/ca.srl"
  echo "$sans" >"$TLS_DIR/broker.sans"
}

# The two principals the broker needs before provisioning can run: `broker` (inter-broker) and
# `admin` (provisioning). Their SCRAM credentials go into the metadata log when storage is formatted.
ensure_bootstrap_users() {
  ensure_secret_file "$USERS_DIR/broker.password"
  ensure_secret_file "$USERS_DIR/admin.password"
  (umask 077 && cat >"$CLIENTS_DIR/admin.properties" <<EOF
# Generated by deploy/local/kafka.sh: Kafka's Java tools as the admin principal (--command-config).
bootstrap.servers=$KAFKA_HOST:$KAFKA_PORT
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat "$USERS_DIR/admin.password")";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.crt
EOF
  )
}

write_config() {
  mkdir -p "$STATE_DIR" "$DATA_DIR"
  local keystore_password
  keystore_password="$(cat "$TLS_DIR/keystore.password")"
  (umask 077 && cat >"$CONFIG" <<EOF
# Generated by deploy/local/kafka.sh - edits are overwritten on every start. Holds secrets (0600).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$KAFKA_HOST:$CONTROLLER_PORT
listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$CONTROLLER_PORT
inter.broker.listener.name=SASL_SSL
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL
log.dirs=$DATA_DIR

# Clients: SCRAM-SHA-512 over TLS. The broker talks to itself as the super user "broker".
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$(cat "$USERS_DIR/broker.password")";
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$keystore_password
ssl.key.password=$keystore_password
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.crt
# The controller listener takes only certificates from our CA (the broker's own, CN=broker).
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^(.*,)?CN=([a-zA-Z0-9._-]+)(,.*)?\$/\$2/,DEFAULT

# Nothing is allowed unless an ACL (generated from the topic catalogue) allows it.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:broker;User:admin
EOF
  )
  cat >>"$CONFIG" <<EOF

# Topics are created explicitly by the services / tests.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=3
default.replication.factor=1
min.insync.replicas=1

# Single node: every internal topic has replication factor 1.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Fast consumer-group joins in tests.
group.initial.rebalance.delay.ms=0

num.network.threads=2
num.io.threads=4
log.retention.hours=168
log.segment.bytes=104857600
EOF
  cat >"$LOG4J_CONFIG" <<'EOF'
# Generated by deploy/local/kafka.sh: everything to stdout (-> .local/kafka/kafka.log)
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
  write_tools_log4j
}

write_tools_log4j() {
  mkdir -p "$STATE_DIR"
  [ -f "$TOOLS_LOG4J_CONFIG" ] && return 0
  cat >"$TOOLS_LOG4J_CONFIG" <<'EOF'
# Generated by deploy/local/kafka.sh: quiet config for CLI tools (kafka.sh tool ...)
status = warn
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

# kafka.sh tool TopicCommand --list  ->  runs org.apache.kafka.tools.TopicCommand
# with --bootstrap-server and the client config of a principal (admin unless
# ORDERFLOW_KAFKA_TOOL_PRINCIPAL names another one provisioned in .local/kafka/clients/)
# added when not given. Class may be short or fully qualified.
cmd_tool() {
  [ $# -ge 1 ] || { echo "usage: $0 tool <ToolClass> [args...]" >&2; exit 2; }
  lib_complete || cmd_install >&2
  write_tools_log4j
  local cls="$1"; shift
  case "$cls" in
    *.*) ;;
    ConsoleConsumer|ConsoleShareConsumer) cls="org.apache.kafka.tools.consumer.$cls" ;;
    ConsumerGroupCommand|ShareGroupCommand) cls="org.apache.kafka.tools.consumer.group.$cls" ;;
    *) cls="org.apache.kafka.tools.$cls" ;;
  esac
  local args=("$@") short="${cls##*.}"
  case " $* " in
    *" --bootstrap-server "*|*" --bootstrap-controller "*|*" --help "*) ;;
    *) args=(--bootstrap-server "$KAFKA_HOST:$KAFKA_PORT" "${args[@]}") ;;
  esac
  # Kafka 4.2+ (KIP-1147): every tool takes --command-config (4.3.1 still accepts the older
  # --producer.config/--consumer.config but prints a deprecation line on stdout). Older 4.x: per tool.
  local principal="${ORDERFLOW_KAFKA_TOOL_PRINCIPAL:-admin}" config_flag=--command-config
  if ! version_at_least "$KAFKA_VERSION" 4.2; then
    case "$short" in
      ConsoleConsumer|ConsoleShareConsumer|ConsumerPerformance) config_flag=--consumer.config ;;
      ConsoleProducer|ProducerPerformance) config_flag=--producer.config ;;
    esac
  fi
  case " $* " in
    *" --help "*|*" --command-config "*|*" --consumer.config "*|*" --producer.config "*) ;;
    *) if [ -f "$CLIENTS_DIR/$principal.properties" ]; then
         args+=("$config_flag" "$CLIENTS_DIR/$principal.properties")
       else
         err "no client config for principal '$principal' in $CLIENTS_DIR (start the broker / run provisioning)"
         exit 1
       fi ;;
  esac
  exec java -Dlog4j2.configurationFile="$TOOLS_LOG4J_CONFIG" -cp "$(CP)" "$cls" "${args[@]}"
}

format_storage() {
  local want="kafka=$KAFKA_PORT controller=$CONTROLLER_PORT host=$KAFKA_HOST security=$SECURITY_LAYOUT"
  if [ -f "$DATA_DIR/meta.properties" ]; then
    if [ -f "$FORMAT_PORTS_FILE" ] && [ "$(cat "$FORMAT_PORTS_FILE")" != "$want" ]; then
      err "storage in $DATA_DIR was formatted with '$(cat "$FORMAT_PORTS_FILE")' but now '$want';"
      err "the KRaft voter endpoint and the bootstrap SCRAM users are baked into the log."
      err "Reset (this deletes the local topics) with: $0 stop && rm -rf $STATE_DIR"
      exit 1
    fi
    log "storage already formatted (cluster id $(cat "$CLUSTER_ID_FILE" 2>/dev/null || echo '?'))"
    return 0
  fi
  if [ ! -s "$CLUSTER_ID_FILE" ]; then
    java -cp "$(CP)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 >"$CLUSTER_ID_FILE"
  fi
  local cid
  cid="$(cat "$CLUSTER_ID_FILE")"
  log "formatting storage $DATA_DIR (cluster id $cid, standalone controller)"
  # The bootstrap users' SCRAM credentials are written into the metadata log here (KRaft has no
  # other way to create the first user). The passwords pass through the command line once.
  java -Dlog4j2.configurationFile="$LOG4J_CONFIG" -cp "$(CP)" kafka.tools.StorageTool format \
    --standalone -t "$cid" -c "$CONFIG" \
    --add-scram "SCRAM-SHA-512=[name=broker,password=$(cat "$USERS_DIR/broker.password")]" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$USERS_DIR/admin.password")]" \
    >"$STATE_DIR/format.log" 2>&1 || {
    err "storage format failed:"; cat "$STATE_DIR/format.log" >&2; exit 1; }
  echo "$want" >"$FORMAT_PORTS_FILE"
}

show_log_tail() {
  err "last 30 lines of $LOG_FILE:"
  tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true
}

# Wait for the broker (pid $1) to answer. Returns 0 on success, 1 if it died, 2 on timeout.
wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT)) out
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if out="$(probe 2>/dev/null)"; then
      log "broker answering on $KAFKA_HOST:$KAFKA_PORT ($out)"
      return 0
    fi
    sleep 0.5
  done
  return 2
}

# ---------------------------------------------------------------- commands

cmd_start() {
  local pid out rc
  pid="$(read_pid)"
  if [ -n "$pid" ]; then
    if pid_is_ours "$pid"; then
      if out="$(probe)"; then
        log "already running (pid $pid) and answering on $KAFKA_HOST:$KAFKA_PORT ($out)"
        return 0
      fi
      log "process $pid is running but not answering yet; waiting up to ${START_TIMEOUT}s"
      rc=0; wait_ready "$pid" || rc=$?
      [ "$rc" -eq 0 ] && return 0
      if [ "$rc" -eq 2 ]; then
        err "pid $pid is alive but the broker did not answer within ${START_TIMEOUT}s (half-started?)."
        err "inspect the log, then: $0 stop && $0 start"
      else
        err "pid $pid exited while waiting"
      fi
      show_log_tail
      exit 1
    fi
    log "stale pid file $PID_FILE (pid $pid is not a running broker), removing"
    rm -f "$PID_FILE"
  fi

  # Our broker running without a pid file (e.g. pid file deleted)? Adopt it.
  pid="$(pgrep -f "kafka.Kafka $CONFIG" | head -1 || true)"
  if [ -n "$pid" ] && pid_is_ours "$pid"; then
    echo "$pid" >"$PID_FILE"
    log "found our broker running without a pid file (pid $pid); pid file restored"
    cmd_start
    return
  fi

  # Is someone else on our ports?
  rc=0; out="$(probe 2>/dev/null)" || rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]; then
    log "NOTE: a Kafka broker not started by this script is already on $KAFKA_HOST:$KAFKA_PORT ($out)"
    log "NOTE: treating it as an externally provided broker; not starting ours. Owner: $(port_listener "$KAFKA_PORT" || true)"
    return 0
  elif [ "$rc" -eq 2 ]; then
    err "port $KAFKA_PORT is taken by another process that is not Kafka: $(port_listener "$KAFKA_PORT" || echo unknown)"
    err "free the port or set ORDERFLOW_KAFKA_PORT"
    exit 1
  fi
  if (exec 3<>"/dev/tcp/$KAFKA_HOST/$CONTROLLER_PORT") 2>/dev/null; then
    err "controller port $CONTROLLER_PORT is taken by another process: $(port_listener "$CONTROLLER_PORT" || echo unknown)"
    err "free the port or set ORDERFLOW_KAFKA_CONTROLLER_PORT"
    exit 1
  fi

  cmd_install
  self_ignore "$ROOT/.local"
  mkdir -p "$STATE_DIR"
  ensure_tls
  ensure_bootstrap_users
  write_config
  format_storage

  [ -f "$LOG_FILE" ] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  warn_if_ephemeral "$KAFKA_PORT" ORDERFLOW_KAFKA_PORT
  warn_if_ephemeral "$CONTROLLER_PORT" ORDERFLOW_KAFKA_CONTROLLER_PORT
  local attempt
  for attempt in 1 2 3 4 5; do
    log "starting Kafka $KAFKA_VERSION (KRaft) on $KAFKA_HOST:$KAFKA_PORT, controller $CONTROLLER_PORT"
    # setsid+nohup: the broker survives the calling shell / CI step.
    # shellcheck disable=SC2086
    setsid nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
      ${ORDERFLOW_KAFKA_JAVA_OPTS:-} \
      -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$STATE_DIR" \
      -cp "$(CP)" kafka.Kafka "$CONFIG" >"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    log "pid $pid, log $LOG_FILE; waiting up to ${START_TIMEOUT}s for it to answer"
    rc=0; wait_ready "$pid" || rc=$?
    case "$rc" in
      0) log "started in ${SECONDS}s"; return 0 ;;
      1) rm -f "$PID_FILE"
         if grep -q "Address already in use" "$LOG_FILE" 2>/dev/null && [ "$attempt" -lt 5 ]; then
           # Typically a client's outgoing connection that the kernel gave our port as its local
           # (ephemeral) port: it goes away by itself, so say who holds it and try again.
           err "a port is taken (attempt $attempt/5): $(port_holders "$KAFKA_PORT" "$CONTROLLER_PORT")"
           sleep $((attempt * 2))
           continue
         fi
         err "broker process exited during startup"
         if grep -q "Address already in use" "$LOG_FILE" 2>/dev/null; then
           err "port still taken: $(port_holders "$KAFKA_PORT" "$CONTROLLER_PORT")"
           err "free it, or choose other ports (ORDERFLOW_KAFKA_PORT / ORDERFLOW_KAFKA_CONTROLLER_PORT) below $(ephemeral_low)"
         fi
         show_log_tail; exit 1 ;;
      *) err "broker (pid $pid) is alive but not answering after ${START_TIMEOUT}s (half-started)"
         err "stop it with: $0 stop"; show_log_tail; exit 1 ;;
    esac
  done
}

ephemeral_low() { awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768; }

# Ports in the kernel's ephemeral range can be taken at any moment by an outgoing connection.
warn_if_ephemeral() {
  local low high
  read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
  if [ "$1" -ge "$low" ] && [ "$1" -le "$high" ]; then
    log "WARNING: port $1 ($2) is inside the ephemeral range $low-$high: an outgoing connection may take it; prefer a port below $low"
  fi
}

# Who holds a port, listening or as the local end of a connection: "port 9092: ESTAB by python3(pid 42)".
port_holders() {
  local port out found=""
  for port in "$@"; do
    out="$(ss -Htanp "( sport = :$port )" 2>/dev/null | awk 'NR <= 3 { printf "%s %s -> %s %s; ", $1, $4, $5, $6 }')"
    [ -n "$out" ] && found="$found port $port: $out"
  done
  echo "${found:-nobody now (it was released)}"
}

cmd_stop() {
  local pid
  pid="$(read_pid)"
  if [ -z "$pid" ]; then
    log "not running (no pid file)"
    return 0
  fi
  if ! pid_is_ours "$pid"; then
    log "stale pid file (pid $pid not running), removing"
    rm -f "$PID_FILE"
    return 0
  fi
  log "stopping broker pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid out
  pid="$(read_pid)"
  if [ -n "$pid" ] && pid_is_ours "$pid"; then
    if out="$(probe)"; then
      log "running (pid $pid), answering on $KAFKA_HOST:$KAFKA_PORT ($out)"
      return 0
    fi
    log "running (pid $pid) but NOT answering on $KAFKA_HOST:$KAFKA_PORT ($out)"
    return 1
  fi
  if [ -n "$pid" ]; then
    log "stale (pid file says $pid, process gone)"
  else
    log "stopped"
  fi
  if out="$(probe 2>/dev/null)"; then
    log "note: an external Kafka broker answers on $KAFKA_HOST:$KAFKA_PORT ($out)"
  fi
  return 3
}

cmd_logs() {
  [ -f "$LOG_FILE" ] || { log "no log yet ($LOG_FILE)"; return 0; }
  if [ "${1:-}" = "-f" ]; then tail -n 100 -F "$LOG_FILE"; else tail -n "${1:-100}" "$LOG_FILE"; fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  tool) shift; cmd_tool "$@" ;;
  *) echo "usage: $0 install|start|stop|status|logs [-f|N]|tool <ToolClass> [args]" >&2; exit 2 ;;
esac
