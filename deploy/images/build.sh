#!/usr/bin/env bash
# Build every orderflow image from deploy/images/Containerfile and start each once (`make images`).
#
#   deploy/images/build.sh [build|smoke|sizes|all] [COMPONENT...]     (default: all, every component)
#
# No Docker daemon and no base-image registry are needed: the base is Debian bookworm made with
# `debootstrap --variant=minbase` and imported with `podman import`; images are built with
# `buildah bud --isolation chroot` (RUN steps reach Debian and PyPI) and started with
# `buildah run --isolation chroot` (podman run needs cgroups this machine lacks).
# Set ORDERFLOW_IMAGE_BASE to build on another base (e.g. docker.io/library/debian:bookworm-slim
# where a registry is reachable); then no debootstrap happens.
#
# smoke: each service and simulator image is started against the local Kafka and PostgreSQL
# (ORDERFLOW_KAFKA_BOOTSTRAP / ORDERFLOW_PG_*: chroot isolation shares the host's network), on a
# free port, and must answer /health/live with its own version; the CLI image must run
# `orderflow --help`. Nothing is left running.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
ROOT="${ORDERFLOW_HOME:-$REPO}"
STATE="$ROOT/.local/images"
LOCAL_BASE="localhost/debian-minbase:bookworm"
BASE="${ORDERFLOW_IMAGE_BASE:-$LOCAL_BASE}"
REGISTRY="${ORDERFLOW_IMAGE_REGISTRY:-localhost}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
COMPONENTS=(sales procurement warehouse logistics finance carrier payments supplier notifier cli)

log() { echo "[images] $*"; }
err() { echo "[images] ERROR: $*" >&2; }

ensure_tools() {
  local missing=()
  command -v buildah >/dev/null 2>&1 || missing+=(buildah)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} via apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_base() {
  [ "$BASE" = "$LOCAL_BASE" ] || return 0
  if buildah inspect --type image "$LOCAL_BASE" >/dev/null 2>&1; then
    return 0
  fi
  local rootfs="$STATE/rootfs-bookworm"
  mkdir -p "$STATE"
  [ -f "$STATE/.gitignore" ] || printf '*\n' >"$STATE/.gitignore"
  if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    log "debootstrap --variant=minbase bookworm $rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$STATE/debootstrap.log" 2>&1 \
      || { err "debootstrap failed, see $STATE/debootstrap.log"; exit 1; }
  fi
  # Made like Debian's bookworm-slim: no documentation, man pages or translations now or from
  # later apt-get installs, no apt caches (the image's own RUN steps fetch fresh lists).
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/90-slim"
  log "importing $rootfs as $LOCAL_BASE"
  tar -C "$rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/cache/apt/*.bin' \
    --exclude='./var/lib/apt/lists/*' --exclude='./usr/share/man/*' --exclude='./usr/share/info/*' \
    --exclude='./usr/share/locale/*' -c . \
    | podman import - "$LOCAL_BASE" >/dev/null
}

version_of() { (cd "$REPO" && "$PY" -m services.runtime.version "$1" | cut -d' ' -f2); }
image_of() { echo "$REGISTRY/orderflow-$1:$(version_of "$1")"; }

build() {
  ensure_tools
  ensure_base
  local component version secrets=()
  # This machine's CA bundle (it may include a proxy's CA) lets pip reach PyPI from the builder.
  local ca="${ORDERFLOW_BUILD_CA_FILE:-/etc/ssl/certs/ca-certificates.crt}"
  [ -s "$ca" ] && secrets=(--secret "id=build-ca,src=$ca")
  for component in "$@"; do
    version="$(version_of "$component")"
    log "building $REGISTRY/orderflow-$component:$version (target $component, base $BASE)"
    # --layers: the builder and runtime stages are built once and reused by every target.
    buildah bud --quiet --isolation chroot --format docker --layers "${secrets[@]}" \
      --build-arg "BASE=$BASE" --build-arg "VERSION=$version" \
      --target "$component" -t "$REGISTRY/orderflow-$component:$version" \
      -f "$SCRIPT_DIR/Containerfile" "$REPO" >/dev/null
  done
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Start the image's own command and probe it from inside the container with the image's own
# HEALTHCHECK command, then stop it (SIGTERM, graceful).
smoke_one() {
  local component="$1" image container port version
  image="$(image_of "$component")"
  version="$(version_of "$component")"
  container="$(buildah from --quiet "$image")"
  # shellcheck disable=SC2064
  trap "buildah rm '$container' >/dev/null 2>&1 || true" RETURN
  if [ "$component" = cli ]; then
    buildah run --isolation chroot "$container" -- python -m services.cli.main --help >/dev/null
    log "✓ $image: orderflow --help runs (version $version)"
    return 0
  fi
  port="$(free_port)"
  local cmd
  cmd="$(buildah inspect --type image --format '{{range .OCIv1.Config.Cmd}}{{.}} {{end}}' "$image")"
  local script="echo UID \$(id -u); $cmd & pid=\$!
    for _ in \$(seq 1 120); do
      if out=\$(python -m services.runtime.healthcheck 2>/dev/null); then echo \"LIVE \$out\"; break; fi
      kill -0 \$pid 2>/dev/null || { echo 'EXITED'; break; }
      sleep 1
    done
    kill -TERM \$pid 2>/dev/null; wait \$pid"
  local output
  # The host's connection settings (bootstrap, security, credentials files) pass through as they
  # are; $ROOT/.local (CA, password files) is mounted read-only at the same path.
  local envs=() name
  while IFS= read -r name; do envs+=(--env "$name=${!name}"); done \
    < <(compgen -e | grep -E '^ORDERFLOW_(KAFKA|PG|DB|TOPIC|GROUP)_|^ORDERFLOW_HOME$' || true)
  local mounts=()
  [ -d "$ROOT/.local" ] && mounts+=(--volume "$ROOT/.local:$ROOT/.local:ro")
  output="$(buildah run --isolation chroot "${envs[@]}" "${mounts[@]}" \
      --env "ORDERFLOW_HTTP_PORT=$port" --env "ORDERFLOW_HTTP_HOST=127.0.0.1" \
      "$container" -- /bin/sh -c "$script" 2>&1)" || true
  local live
  live="$(printf '%s\n' "$output" | sed -n 's/^LIVE //p' | tail -1)"
  if [ -z "$live" ] || ! printf '%s' "$live" | grep -q "\"version\": \"$version\""; then
    err "$image did not answer /health/live with version $version; its output:"
    printf '%s\n' "$output" | tail -25 >&2
    return 1
  fi
  log "✓ $image ran '${cmd% }' as uid $(printf '%s\n' "$output" | sed -n 's/^UID //p' | head -1), /health/live: $live"
}

smoke() {
  local component failed=0
  for component in "$@"; do
    smoke_one "$component" || failed=1
  done
  return "$failed"
}

sizes() {
  local component
  for component in "$@"; do
    buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$(image_of "$component")"
  done
}

action="${1:-all}"
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- "${COMPONENTS[@]}"
case "$action" in
  build) build "$@" ;;
  smoke) smoke "$@" ;;
  sizes) sizes "$@" ;;
  all) build "$@"; smoke "$@"; sizes "$@" ;;
  *) err "usage: $0 [build|smoke|sizes|all] [COMPONENT...]"; exit 2 ;;
esac
