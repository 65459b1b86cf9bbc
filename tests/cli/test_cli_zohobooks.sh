#!/usr/bin/env bash
# tests/cli/test_cli_zohobooks.sh BUILD_DIR SOURCE_DIR - provider: zohobooks end to end:
# hoopsync-sandbox on a free port, a workspace whose accounting connection is Zoho Books,
# `hoopsync connect accounting` (OAuth against the sandbox's Zoho accounts server, then GET
# /organizations stores the default organization's id), and `sync --once` of customers both
# ways links the seeded contacts, creates the rest on both sides (one upsert per record), and a
# second sync has nothing to do; the CRM companies that were new are Zoho contacts keyed by
# cf_hoopsync_id.
set -uo pipefail
build=${1:?usage: test_cli_zohobooks.sh BUILD_DIR SOURCE_DIR}
# Zoho's 100 calls a minute and one call per record: the sandbox's windows are compressed 60x
# and the connection is handed the same windows (rate_limits), as bench/backfill does
HS_TEST_SBX_ARGS="--time-scale 60"
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
hs_test_workspace <<EOF
flows:
  - name: customers
    objects: customers
    direction: both
    authority:
      default: crm
EOF
cfg=(-c "$ws/hoopsync.yaml")
# the accounting connection becomes Zoho Books in the same sandbox (a minute lasts 1 s)
hs_test_use_zohobooks 1000 10000 1440000
"$bin" "${cfg[@]}" config check >/dev/null 2>"$tmp/err" && ok "config with provider: zohobooks" ||
  { fail "config check: $(cat "$tmp/err")"; exit 1; }

for name in crm accounting; do
  hs_test_connect "$name" --json
  [ "$rc" = 0 ] && ok "connect $name" || { fail "connect $name: $err"; exit 1; }
done
want=$org
got=$(tail -n 1 <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant"])')
[ -n "$want" ] && [ "$got" = "$want" ] && ok "connect stored the Zoho organization from /organizations ($got)" ||
  fail "organization: got '$got', want '$want' ($out)"
# Zoho's redirect named the data center's accounts server and the token answer its API
# domain (the sandbox's own origin): both are stored with the connection and used by sync
dc=$(python3 - "$ws/hoopsync.db" <<'PY'
import json, sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute("select settings from connections where id='accounting'").fetchone()
o = json.loads(row[0]).get("oauth", {})
print(o.get("accounts_server", ""), o.get("api_domain", ""))
PY
)
[ "$dc" = "$base/zohobooks/accounts $base/zohobooks" ] && ok "connect stored the accounts server and API domain ($dc)" ||
  fail "stored data center: '$dc'"

"$bin" "${cfg[@]}" plan >"$tmp/plan" 2>"$tmp/err" || fail "plan: $(cat "$tmp/err")"
summary=$(tail -n 1 "$tmp/plan")
grep -qE '^plan: [1-9][0-9]* created, [0-9]+ updated, [1-9][0-9]* linked, 0 conflicts, 0 errors' <<<"$summary" &&
  ok "plan against Zoho Books: $summary" || fail "plan summary: $summary"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync1" 2>"$tmp/err" || fail "sync: $(cat "$tmp/err")"
s1=$(tail -n 1 "$tmp/sync1")
[ "${s1#sync: }" = "${summary#plan: }" ] && ok "sync did what plan showed: $s1" || fail "sync '$s1' vs plan '$summary'"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync2" 2>"$tmp/err" || fail "second sync: $(cat "$tmp/err")"
grep -q '^sync: nothing to do' "$tmp/sync2" && ok "second sync --once: $(cat "$tmp/sync2")" ||
  fail "second sync: $(cat "$tmp/sync2") $(cat "$tmp/err")"

# a token of our own for the sandbox's Zoho API: the new contacts carry cf_hoopsync_id
hs_test_zoho_token
[ -n "$ztok" ] && ok "a test token for the sandbox's Zoho API" || { fail "no Zoho token"; exit 1; }
curl -s -H "Authorization: Zoho-oauthtoken $ztok" \
  "$base/zohobooks/books/v3/contacts?organization_id=$want&per_page=200" >"$tmp/contacts.json"
# the last five (creation order: the new ones), few calls under the sandbox's minute limit
ids=$(python3 -c 'import json,sys; print(" ".join(c["contact_id"] for c in json.load(open(sys.argv[1]))["contacts"][-5:]))' "$tmp/contacts.json")
keyed=0
for id in $ids; do
  curl -s -H "Authorization: Zoho-oauthtoken $ztok" \
    "$base/zohobooks/books/v3/contacts/$id?organization_id=$want" |
    grep -q '"api_name":"cf_hoopsync_id"' && keyed=$((keyed + 1))
done
created=$(grep -oE '[0-9]+ created' <<<"$s1" | grep -oE '[0-9]+')
[ "$keyed" -gt 0 ] && ok "$keyed Zoho contacts created by upsert on cf_hoopsync_id (sync created ${created:-?} in all)" ||
  fail "no contact carries cf_hoopsync_id (ids: $ids)"

# a redirect naming an accounts server that is not one of Zoho's: nothing is sent to it
"$bin" "${cfg[@]}" connect --url-only --timeout 20 accounting >"$tmp/f.out" 2>"$tmp/f.err" &
fpid=$!
furl=""
for _ in $(seq 100); do
  furl=$(head -n 1 "$tmp/f.out" 2>/dev/null)
  [ -n "$furl" ] && break
  sleep 0.1
done
read -r fstate fredir < <(python3 - "$furl" <<'PY'
import sys, urllib.parse
q = urllib.parse.parse_qs(urllib.parse.urlparse(sys.argv[1]).query)
print(q["state"][0], q["redirect_uri"][0])
PY
)
curl -s -o /dev/null "$fredir?code=forged&state=$fstate&location=eu&accounts-server=https%3A%2F%2Faccounts.zoho.eu.evil.example"
frc=0
wait "$fpid" || frc=$?
grep -q "accounts.zoho.eu.evil.example', which is not one of" "$tmp/f.err" && [ "$frc" != 0 ] &&
  ok "a foreign accounts server is refused: $(head -c 160 "$tmp/f.err")" ||
  fail "foreign accounts server: rc=$frc $(cat "$tmp/f.err")"

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "all ok"
