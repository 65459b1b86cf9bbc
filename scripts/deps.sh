#!/usr/bin/env bash
# scripts/deps.sh - install every Debian package hoopsync needs to build and test.
#
# Idempotent: checks each package with dpkg-query and runs `apt-get update` (once, quietly)
# and `apt-get install` only when something is missing. Needs root (or sudo) only then.
# Also installs the npm tool used by the conformance tests (@stoplight/prism-cli) into
# build/tools/prism when npm is available and it is not there yet.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  clang-14 libclang-rt-14-dev clang-format clang-tidy cppcheck
  libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev
  libpq-dev libsodium-dev libyaml-dev libcmocka-dev libjemalloc-dev
  curl python3 python3-yaml libxml2-utils
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Prism (spec-validating proxy) for the conformance tests; optional when npm is absent.
root=$(cd "$(dirname "$0")/.." && pwd)
prism_dir="$root/build/tools/prism"
if [ "${HS_SKIP_PRISM:-0}" != 1 ] && [ ! -x "$prism_dir/node_modules/.bin/prism" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "deps: installing @stoplight/prism-cli into build/tools/prism"
    mkdir -p "$prism_dir"
    (cd "$prism_dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
      npm install --no-audit --no-fund --silent @stoplight/prism-cli@5 >/dev/null 2>&1) ||
      echo "deps: warning: could not install prism; conformance tests will say so" >&2
  else
    echo "deps: npm not found; conformance tests that need prism will say so" >&2
  fi
fi
