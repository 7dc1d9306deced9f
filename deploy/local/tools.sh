#!/usr/bin/env bash
# Test tools that are not Python packages, installed into the git-ignored .local/tools/ on demand
# (offline after the first run). Prints the tool's path.
#
#   deploy/local/tools.sh promtool        # Prometheus' rule checker, from Debian's `prometheus` package
#   deploy/local/tools.sh asyncapi-parser # node_modules with @asyncapi/parser (npm)
#
# promtool: the Debian package is downloaded and only its promtool binary unpacked (`apt-get
# download` + `dpkg-deb -x`): installing the package would also install and start a Prometheus
# server, which a test machine shared by several people does not want.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="${ORDERFLOW_TOOLS_DIR:-${ORDERFLOW_HOME:-$ROOT}/.local/tools}"
log() { echo "[tools] $*" >&2; }

install_promtool() {
  if [ -x "$(type -P promtool || true)" ]; then type -P promtool; return; fi
  local bin="$TOOLS/prometheus/usr/bin/promtool"
  if [ ! -x "$bin" ]; then
    command -v apt-get >/dev/null || { log "promtool missing and no apt-get to fetch Debian's prometheus package"; exit 3; }
    local tmp; tmp="$(mktemp -d)"
    log "fetching Debian's prometheus package for promtool"
    if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
      [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 || true
      (cd "$tmp" && apt-get download -qq prometheus >/dev/null) || { log "apt-get download prometheus failed"; exit 3; }
    fi
    mkdir -p "$TOOLS/prometheus"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$TOOLS/prometheus.tmp"
    mkdir -p "$(dirname "$bin")" && mv "$TOOLS/prometheus.tmp/usr/bin/promtool" "$bin"
    rm -rf "$TOOLS/prometheus.tmp" "$tmp"
  fi
  echo "$bin"
}

asyncapi_parser() {
  local dir="$TOOLS/asyncapi"
  if [ ! -d "$dir/node_modules/@asyncapi/parser" ]; then
    command -v npm >/dev/null || { log "npm is missing (node 20 + npm are needed for the AsyncAPI parser)"; exit 3; }
    mkdir -p "$dir"
    log "installing @asyncapi/parser into $dir"
    (cd "$dir" && [ -f package.json ] || echo '{"name":"orderflow-asyncapi-check","private":true}' >"$dir/package.json")
    (cd "$dir" && npm install --silent --no-audit --no-fund "@asyncapi/parser@^3" >/dev/null) \
      || { log "npm install @asyncapi/parser failed"; exit 3; }
  fi
  echo "$dir"
}

case "${1:-}" in
  promtool) install_promtool ;;
  asyncapi-parser) asyncapi_parser ;;
  all) install_promtool >/dev/null && asyncapi_parser >/dev/null ;;
  *) echo "usage: $0 promtool|asyncapi-parser|all" >&2; exit 2 ;;
esac
