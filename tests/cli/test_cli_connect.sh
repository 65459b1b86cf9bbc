#!/usr/bin/env bash
# tests/cli/test_cli_connect.sh BUILD_DIR SOURCE_DIR - `hoopsync connect` end to end against
# hoopsync-sandbox over real loopback HTTP: the consent URL is printed, curl follows it (the
# sandbox redirects to our callback), the code is exchanged, the connection is stored with
# its tenant and the tokens are not in the database files in plaintext; HubSpot's set-up
# created the hoopsync properties; a refused consent and usage errors exit 1 and 2.
set -uo pipefail
build=${1:?usage: test_cli_connect.sh BUILD_DIR SOURCE_DIR}
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
hs_test_workspace </dev/null

hs_test_connect crm
if [ "$rc" -eq 0 ]; then ok "connect crm exits 0"; else fail "connect crm exited $rc: $err"; fi
[[ "$consent_url" == "$base/hubspot/oauth/authorize?response_type=code&client_id=hoopsync-test-app&"* ]] &&
  ok "the consent URL points at the sandbox's HubSpot authorize endpoint" ||
  fail "unexpected consent URL '$consent_url'"
grep -q 'state=' <<<"$consent_url" && ok "the consent URL carries a state" || fail "no state"
[ "$(cat "$tmp/curl.code")" = 200 ] && grep -q 'connected' "$tmp/page.html" &&
  ok "the browser (curl) sees the success page" || fail "callback page: $(cat "$tmp/curl.code")"
grep -qE "^connected 'crm' \(hubspot, tenant [0-9]+\); tokens stored encrypted in .*hoopsync.db; set-up done$" <<<"$out" &&
  ok "connect crm reports the portal and the set-up" || fail "connect crm printed: $out"
[ -z "$err" ] && ok "--url-only prints nothing on stderr" || fail "stderr: $err"

hs_test_connect accounting --json
if [ "$rc" -eq 0 ]; then ok "connect accounting exits 0"; else fail "connect accounting exited $rc: $err"; fi
realm=$(curl -s "$base/_sandbox/tenants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["quickbooks"]["realmId"])')
grep -q "\"tenant\":\"$realm\"" <<<"$out" && grep -q '"connection":"accounting"' <<<"$out" &&
  ok "the realm id from the redirect is the accounting tenant ($realm)" || fail "json: $out"

# what the store holds
python3 - "$ws/hoopsync.db" "$realm" >"$tmp/db.out" 2>&1 <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = {r[0]: r for r in db.execute(
    "SELECT id, kind, provider, tenant_id, access_token IS NOT NULL, refresh_token IS NOT NULL,"
    " client_secret IS NOT NULL, token_expires_at FROM connections")}
assert set(rows) == {"crm", "accounting"}, rows
assert rows["crm"][1:3] == ("crm", "hubspot"), rows["crm"]
assert rows["crm"][3].isdigit(), rows["crm"]
assert rows["accounting"][1:4] == ("accounting", "quickbooks", sys.argv[2]), rows["accounting"]
for r in rows.values():
    assert r[4] and r[5] and r[6] and r[7] > 0, r
print("store ok")
EOF
grep -q 'store ok' "$tmp/db.out" && ok "both connections stored with tenant, tokens, secret, expiry" ||
  fail "store: $(cat "$tmp/db.out")"

# no token or secret in plaintext in the database or its WAL
if cat "$ws"/hoopsync.db* | grep -aqE '(at|rt)-[0-9a-f]{40}|hub-secret|qbo-secret'; then
  fail "a token or secret is in the database files in plaintext"
else
  ok "no token or secret in plaintext in the database files"
fi

# HubSpot set-up created the hoopsync properties with the new token
stats=$(curl -s "$base/_sandbox/stats")
grep -q 'POST /crm/v3/properties' <<<"$stats" && ok "set-up created HubSpot properties" ||
  fail "no property creation in the sandbox stats: $stats"

# consent refused: exit 1 with the reason
curl -s -X POST -d '{"deny":true}' "$base/_sandbox/oauth" >/dev/null
hs_test_connect crm
[ "$rc" -eq 1 ] && grep -q "the consent was refused (access_denied" <<<"$err" &&
  ok "a refused consent exits 1 and says so" || fail "refused consent: rc=$rc err=$err"
curl -s -X POST -d '{"deny":false}' "$base/_sandbox/oauth" >/dev/null

# usage errors
"$bin" -c "$ws/hoopsync.yaml" connect >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok "missing connection is a usage error" || fail "no operand: rc=$rc"
"$bin" -c "$ws/hoopsync.yaml" connect billing >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok "unknown connection is a usage error" || fail "billing: rc=$rc"
"$bin" -c "$ws/hoopsync.yaml" connect --timeout 0 crm >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok "bad timeout is a usage error" || fail "timeout 0: rc=$rc"
env -u TEST_HUBSPOT_SECRET "$bin" -c "$ws/hoopsync.yaml" connect crm >/dev/null 2>"$tmp/e"; rc=$?
[ "$rc" -eq 1 ] && grep -q 'TEST_HUBSPOT_SECRET' "$tmp/e" &&
  ok "a missing client secret names its variable" || fail "no secret: rc=$rc $(cat "$tmp/e")"
"$bin" -c "$ws/hoopsync.yaml" connect --timeout 1 --url-only crm >/dev/null 2>"$tmp/e"; rc=$?
[ "$rc" -eq 1 ] && grep -q "no answer from the consent page within 1 s; run 'hoopsync connect crm' again" "$tmp/e" &&
  ok "no consent within the timeout exits 1" || fail "timeout: rc=$rc $(cat "$tmp/e")"

[ "$fails" -eq 0 ] || exit 1
echo "all ok"
