#!/bin/sh
# One-shot job (compose service `init-secrets`, run in the orderflow-cli image as root): generates
# every credential of the compose stack into the `secrets` volume, once. Nothing here is committed.
#
# Volume layout (the volume root is ORDERFLOW_HOME for the provisioning job, so `.local/` is where
# the local stack keeps the same files):
#   .local/kafka/tls/ca.crt, ca.key        the stack's own CA (ca.key: root only)
#   .local/kafka/tls/broker.p12, broker.password   the broker's key + certificate (SAN kafka, localhost)
#   .local/kafka/users/<principal>.password        SCRAM-SHA-512 password of every Kafka principal
#   .local/postgres/roles/<role>.password          orderflow_admin and orderflow_<department>
#   grafana/admin.password                         Grafana's admin (uid 472, Grafana's own user)
#   principals/<principal>/{ca.crt,kafka.password[,postgres.password]}   what ONE container mounts
# .local/ is readable by group 10001 (kafka, postgres and provisioning are given that
# group); principals/<p>/ only by uid 10001, and each service mounts only its own directory.
set -eu
STATE="${ORDERFLOW_HOME:-/state}"
S="$STATE/.local"
if [ -f "$S/.secrets-complete" ]; then
  echo "init-secrets: credentials already exist in $STATE, nothing to do"
  exit 0
fi
umask 077
mkdir -p "$S/kafka/tls" "$S/kafka/users" "$S/postgres/roles" "$STATE/grafana" "$STATE/principals"

# Principals and departments come from the topic catalogue, never from a list kept here.
PRINCIPALS="$(python -c 'from services.runtime.kafka_acl import SUPER_USERS, kafka_principals; print(" ".join([*SUPER_USERS, *kafka_principals()]))')"
DEPARTMENTS="$(python -c 'from contracts.topics import DEPARTMENTS; print(" ".join(DEPARTMENTS))')"

secret() { [ -s "$1" ] || openssl rand -hex 24 >"$1"; }   # hex: safe in every config syntax
for p in $PRINCIPALS; do secret "$S/kafka/users/$p.password"; done
secret "$S/postgres/roles/orderflow_admin.password"
for d in $DEPARTMENTS; do secret "$S/postgres/roles/orderflow_$d.password"; done
secret "$STATE/grafana/admin.password"
secret "$S/kafka/tls/broker.password"

T="$S/kafka/tls"
openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 825 -subj "/CN=orderflow compose CA" \
  -keyout "$T/ca.key" -out "$T/ca.crt" 2>/dev/null
openssl req -newkey rsa:3072 -nodes -sha256 -subj "/CN=kafka" -keyout "$T/broker.key" -out "$T/broker.csr" 2>/dev/null
printf 'subjectAltName=DNS:kafka,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$T/broker.ext"
openssl x509 -req -in "$T/broker.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -days 825 -sha256 \
  -extfile "$T/broker.ext" -out "$T/broker.crt" 2>/dev/null
openssl pkcs12 -export -name kafka -in "$T/broker.crt" -inkey "$T/broker.key" -certfile "$T/ca.crt" \
  -passout "file:$T/broker.password" -out "$T/broker.p12"
rm -f "$T/broker.key" "$T/broker.csr" "$T/broker.ext" "$T/ca.srl"

for p in $PRINCIPALS; do
  case "$p" in admin|broker) continue ;; esac      # super users: only provisioning and the broker
  dir="$STATE/principals/$p"
  mkdir -p "$dir"
  cp "$T/ca.crt" "$dir/ca.crt"
  cp "$S/kafka/users/$p.password" "$dir/kafka.password"
  case " $DEPARTMENTS " in *" $p "*) cp "$S/postgres/roles/orderflow_$p.password" "$dir/postgres.password" ;; esac
done

chown -R 0:10001 "$S" && find "$S" -type d -exec chmod 750 {} + && find "$S" -type f -exec chmod 440 {} +
chmod 400 "$T/ca.key"
chown -R 10001:10001 "$STATE/principals" && chmod -R u=rX,go= "$STATE/principals"
chown -R 472:0 "$STATE/grafana" && chmod -R u=rX,go= "$STATE/grafana"
chmod 711 "$STATE"                # others may traverse to what their group or uid may read
touch "$S/.secrets-complete"
echo "init-secrets: generated credentials for: $PRINCIPALS"
