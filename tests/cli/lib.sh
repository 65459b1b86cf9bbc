#!/usr/bin/env bash
# tests/cli/lib.sh - shared set-up of the CLI tests that run against hoopsync-sandbox, sourced
# after `build=$1`: checks the programs, makes $tmp (removed on exit with every process the
# test started), provides ok/fail (count in $fails), starts the sandbox (seed 7, free port) and
# sets $base, and writes a workspace $ws whose hoopsync.yaml connects HubSpot and QuickBooks
# in the sandbox (extra YAML, e.g. flows, from stdin of hs_test_workspace). A test that sets
# HS_TEST_SBX_ARGS before sourcing passes those options to the sandbox (e.g. --time-scale 60).
bin="$build/bin/hoopsync"
sbx="$build/bin/hoopsync-sandbox"
[ -x "$bin" ] || { echo "skip: $bin not built"; exit 77; }
[ -x "$sbx" ] || { echo "skip: $sbx not built"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
unset HOOPSYNC_CONFIG HOOPSYNC_MASTER_KEY

tmp=$(mktemp -d)
spid=""
cpid=""
cleanup() {
  for p in $cpid $spid; do
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p"; wait "$p" 2>/dev/null; fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# shellcheck disable=SC2086 # HS_TEST_SBX_ARGS: extra sandbox options, split on blanks
"$sbx" --port 0 --seed 7 ${HS_TEST_SBX_ARGS:-} >"$tmp/sbx.out" 2>"$tmp/sbx.err" &
spid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$tmp/sbx.out" 2>/dev/null && break
  sleep 0.1
done
base=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$tmp/sbx.out" | head -n 1)
[ -n "$base" ] || { cat "$tmp/sbx.err" >&2; echo "FAIL: sandbox did not start" >&2; exit 1; }

# hs_test_workspace: writes $ws/hoopsync.yaml (connections to the sandbox, then stdin) and
# runs `hoopsync init` on it.
ws="$tmp/ws"
hs_test_workspace() {
  mkdir -p "$ws"
  {
    cat <<YAML
version: 1
store: sqlite:hoopsync.db
master_key_file: hoopsync.key
connections:
  crm:
    provider: hubspot
    client_id: hoopsync-test-app
    client_secret_env: TEST_HUBSPOT_SECRET
    redirect_uri: http://127.0.0.1:0/oauth/callback
    base_url: $base/hubspot
  accounting:
    provider: quickbooks
    client_id: hoopsync-test-app
    client_secret_env: TEST_QBO_SECRET
    redirect_uri: http://127.0.0.1:0/oauth/callback
    scopes: [com.intuit.quickbooks.accounting]
    base_url: $base/quickbooks
YAML
    cat
  } >"$ws/hoopsync.yaml"
  "$bin" init "$ws" >/dev/null 2>"$tmp/init.err" ||
    { cat "$tmp/init.err" >&2; echo "FAIL: init" >&2; exit 1; }
  export TEST_HUBSPOT_SECRET=hub-secret TEST_QBO_SECRET=qbo-secret
}

# hs_test_use_zohobooks ALL_MS DAY_CALLS DAY_MS: turns the workspace's accounting connection
# into Zoho Books in the same sandbox, handed the windows "100 calls per ALL_MS" and "DAY_CALLS
# per DAY_MS" (rate_limits: the sandbox's compressed minute and day); sets $org, the sandbox's
# organization id.
hs_test_use_zohobooks() {
  python3 - "$ws/hoopsync.yaml" "$base" "$1" "$2" "$3" <<'PY'
import sys
p, base, all_ms, day_calls, day_ms = sys.argv[1:6]
s = open(p).read()
s = s.replace("provider: quickbooks", "provider: zohobooks")
s = s.replace("scopes: [com.intuit.quickbooks.accounting]", "scopes: [ZohoBooks.fullaccess.all]")
s = s.replace(base + "/quickbooks", base + "/zohobooks\n"
              "    settings:\n"
              "      rate_limits:\n"
              "        - {scope: all, requests: 100, window_ms: %s}\n"
              "        - {scope: day, requests: %s, window_ms: %s}" % (all_ms, day_calls, day_ms))
open(p, "w").write(s)
PY
  org=$(curl -s "$base/_sandbox/tenants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["zohobooks"]["organizationId"])')
}

# hs_test_zoho_token: sets $ztok, an access token of the test's own for the sandbox's Zoho API
# (authorization code through the consent redirect, then the token endpoint).
hs_test_zoho_token() {
  local cb=http://127.0.0.1:9/cb zcode
  zcode=$(curl -s -o /dev/null -w '%{redirect_url}' \
    "$base/zohobooks/accounts/oauth/v2/auth?client_id=check&redirect_uri=$cb&response_type=code&state=s&scope=ZohoBooks.fullaccess.all" |
    sed -E 's/.*[?&]code=([^&]*).*/\1/')
  ztok=$(curl -s -X POST "$base/zohobooks/accounts/oauth/v2/token?grant_type=authorization_code&code=$zcode&client_id=check&client_secret=secret&redirect_uri=$cb" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
}

# hs_test_connect NAME [ARGS]: runs `hoopsync connect NAME --url-only` in the background,
# follows the printed consent URL with curl (the sandbox redirects to our callback) and waits;
# sets rc, out, err, consent_url, and leaves the page in $tmp/page.html, its status in
# $tmp/curl.code.
hs_test_connect() {
  local name=$1; shift
  "$bin" -c "$ws/hoopsync.yaml" connect --url-only --timeout 30 "$@" "$name" \
    >"$tmp/c.out" 2>"$tmp/c.err" &
  cpid=$!
  local url=""
  for _ in $(seq 100); do
    url=$(head -n 1 "$tmp/c.out" 2>/dev/null)
    [ -n "$url" ] && break
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$url" ]; then
    curl -s -L -o "$tmp/page.html" -w '%{http_code}' "$url" >"$tmp/curl.code"
  fi
  rc=0
  wait "$cpid" || rc=$?
  cpid=""
  out=$(cat "$tmp/c.out")
  err=$(cat "$tmp/c.err")
  consent_url=$url
}

# hs_test_hub_search TOKEN OBJECT BODY OUT: a HubSpot CRM search into OUT; when the pass just
# run spent HubSpot's searches of this second (429 RATE_LIMITS), waits a second and asks again
hs_test_hub_search() {
  local i
  for i in 1 2 3; do
    curl -s -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$3" \
      "$base/hubspot/crm/v3/objects/$2/search" >"$4"
    grep -q '"RATE_LIMITS"' "$4" || return 0
    sleep 1
  done
}
