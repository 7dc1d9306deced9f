#!/bin/sh
# Kafka for the compose stack (apache/kafka image): single node, KRaft (broker + controller),
# clients only on SASL_SSL (SCRAM-SHA-512 over TLS) with the StandardAuthorizer and no access
# without an ACL, as in the security issue. Credentials come from the `secrets` volume
# (deploy/compose/secrets/init.sh); every principal's SCRAM credential is seeded when the storage
# is formatted, and `orderflow provision` keeps them and the ACLs up to date afterwards.
#
# The defaults fit the compose service; the variables let the same broker set-up run elsewhere
# (testcontainers, or a check with the local jars): ORDERFLOW_KAFKA_BIN, ORDERFLOW_KAFKA_STATE,
# ORDERFLOW_KAFKA_DATA, ORDERFLOW_KAFKA_RUN, ORDERFLOW_KAFKA_ADVERTISED (host:port),
# ORDERFLOW_KAFKA_CLIENT_PORT, ORDERFLOW_KAFKA_CONTROLLER_PORT.
set -eu
KAFKA="${ORDERFLOW_KAFKA_BIN:-/opt/kafka/bin}"
S="${ORDERFLOW_KAFKA_STATE:-/state}/.local"
DATA="${ORDERFLOW_KAFKA_DATA:-/var/lib/kafka/data}"
RUN="${ORDERFLOW_KAFKA_RUN:-/tmp}"
CLIENT_PORT="${ORDERFLOW_KAFKA_CLIENT_PORT:-9092}"
CONTROLLER_PORT="${ORDERFLOW_KAFKA_CONTROLLER_PORT:-9094}"
ADVERTISED="${ORDERFLOW_KAFKA_ADVERTISED:-kafka:$CLIENT_PORT}"
CONFIG="$RUN/server.properties"

password() { cat "$S/kafka/users/$1.password"; }

cat >"$CONFIG" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
# The controller listener is reachable only inside this container (loopback).
listeners=SASL_SSL://0.0.0.0:$CLIENT_PORT,CONTROLLER://localhost:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$ADVERTISED
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$(password broker)";
ssl.keystore.type=PKCS12
ssl.keystore.location=$S/kafka/tls/broker.p12
ssl.keystore.password=$(cat "$S/kafka/tls/broker.password")
ssl.truststore.type=PEM
ssl.truststore.location=$S/kafka/tls/ca.crt
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# ANONYMOUS is only ever the loopback controller listener's principal (SASL_SSL always authenticates).
super.users=User:admin;User:broker;User:ANONYMOUS
auto.create.topics.enable=false
log.dirs=$DATA
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
chmod 600 "$CONFIG"

# Java client settings for the admin principal (health check, operators' tools).
cat >"$RUN/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(password admin)";
ssl.truststore.type=PEM
ssl.truststore.location=$S/kafka/tls/ca.crt
PROPS
chmod 600 "$RUN/admin.properties"

if [ ! -f "$DATA/meta.properties" ]; then
  set --
  for file in "$S"/kafka/users/*.password; do
    name="$(basename "$file" .password)"
    set -- "$@" --add-scram "SCRAM-SHA-512=[name=$name,password=$(cat "$file")]"
  done
  "$KAFKA/kafka-storage.sh" format --standalone -t "$("$KAFKA/kafka-storage.sh" random-uuid)" -c "$CONFIG" "$@"
fi
exec "$KAFKA/kafka-server-start.sh" "$CONFIG"
