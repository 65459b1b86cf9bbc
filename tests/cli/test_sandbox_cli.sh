#!/usr/bin/env bash
# tests/cli/test_sandbox_cli.sh BUILD_DIR SOURCE_DIR - the hoopsync-sandbox program end to end:
# --port 0 prints the port, admin endpoints answer, SIGTERM shuts down cleanly (exit 0), --data
# persists state across a restart, bad options exit 2.
set -euo pipefail
build=$1
bin="$build/bin/hoopsync-sandbox"
[ -x "$bin" ] || { echo "skip: $bin not built"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start ARGS...: starts the sandbox, sets pid and base
start() {
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  for _ in $(seq 100); do
    if grep -q 'listening on' "$tmp/out" 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/err" >&2; fail "sandbox exited at start"; }
    sleep 0.1
  done
  line=$(head -n 1 "$tmp/out")
  [[ "$line" =~ ^hoopsync-sandbox\ listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]] ||
    fail "unexpected first line '$line'"
  [ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "more than one line on stdout"
  base="http://127.0.0.1:${BASH_REMATCH[1]}"
}

# stop: SIGTERM, expect exit 0
stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
}

start --port 0 --seed 7 --token tok --data "$tmp/state.json"
health=$(curl -sf "$base/_sandbox/health")
echo "$health" | grep -q '"status":"ok"' || fail "health: $health"
echo "$health" | grep -q '"seed":7' || fail "health seed: $health"
tenants=$(curl -sf "$base/_sandbox/tenants")
echo "$tenants" | grep -q '^{' || fail "tenants: $tenants"
before=$(curl -sf -X POST -d '{"advance_ms":86400000}' "$base/_sandbox/clock")
now_before=$(echo "$before" | sed -E 's/.*"now":([0-9]+).*/\1/')
curl -sf -X POST -d '{"provider":"'"$(echo "$health" | sed -E 's/.*"providers":\["([a-z]+)".*/\1/')"'","url":"http://127.0.0.1:9/hook","secret":"s"}' \
  "$base/_sandbox/webhooks" >/dev/null || fail "webhook subscription"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"provider":"hubspot","url":"http://example.com/"}' \
  "$base/_sandbox/webhooks")
[ "$code" = 400 ] || fail "non-loopback webhook url accepted ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/no/such/path")
[ "$code" = 404 ] || fail "unknown path gave $code"
stop
[ -s "$tmp/state.json" ] || fail "no data file after shutdown"
grep -q '"format":"hoopsync-sandbox/1"' "$tmp/state.json" || fail "data file format"

# restart from the data file alone: subscription, seed flag and clock offset survive
start --port 0 --data "$tmp/state.json"
subs=$(curl -sf "$base/_sandbox/webhooks")
echo "$subs" | grep -q 'http://127.0.0.1:9/hook' || fail "subscription lost: $subs"
curl -sf "$base/_sandbox/health" | grep -q '"seeded":true' || fail "seeded flag lost"
now_after=$(curl -sf "$base/_sandbox/clock" | sed -E 's/.*"now":([0-9]+).*/\1/')
[ "$now_after" -ge "$now_before" ] || fail "clock went back: $now_after < $now_before"
tenants2=$(curl -sf "$base/_sandbox/tenants")
[ "$tenants2" = "$tenants" ] || fail "tenants changed: $tenants2 vs $tenants"
stop

# usage errors exit 2 with a message on stderr
for args in "--bogus" "--port" "--port abc" "--port 70000" "--seed -1" "--faults 5xx=2" \
            "--no-rate-limits=1" "--threads 0"; do
  rc=0
  # shellcheck disable=SC2086
  "$bin" $args >/dev/null 2>"$tmp/err" || rc=$?
  [ "$rc" -eq 2 ] || fail "'$args' exited $rc, expected 2"
  grep -q '^hoopsync-sandbox: ' "$tmp/err" || fail "'$args': no message on stderr"
done
"$bin" --help >"$tmp/help"
for opt in --port --bind --seed --companies --contacts --products --deals --customers --data \
           --faults --token --no-rate-limits --time-scale --threads --help --version; do
  grep -q -- "$opt" "$tmp/help" || fail "--help does not explain $opt"
done
"$bin" --version | grep -q '^hoopsync-sandbox [0-9]' || fail "--version"
echo "ok"
