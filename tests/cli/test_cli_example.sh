#!/usr/bin/env bash
# tests/cli/test_cli_example.sh BUILD_DIR SOURCE_DIR - the configuration `hoopsync init` writes
# works as written: init an empty workspace, point it at hoopsync-sandbox (the only edits are
# URLs and ports: base_url uncommented, the redirect port 0 so parallel tests do not collide),
# connect both sides, then `config check`, `plan` and `sync --once` succeed with every flow of
# the example (provider field names such as DisplayName or HubSpot `name` in `mappings:`).
set -uo pipefail
build=${1:?usage: test_cli_example.sh BUILD_DIR SOURCE_DIR}
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

mkdir -p "$ws"
"$bin" init "$ws" >"$tmp/init.out" 2>"$tmp/init.err" || { fail "init: $(cat "$tmp/init.err")"; exit 1; }
cp "$ws/hoopsync.yaml" "$tmp/written.yaml"
# only URLs and ports change
python3 - "$ws/hoopsync.yaml" "$base" <<'PY' || { fail "cannot point the example at the sandbox"; exit 1; }
import re, sys
p, base = sys.argv[1:3]
s = open(p).read()
n_before = len(s.splitlines())
for prov in ("hubspot", "quickbooks"):
    s, n = re.subn(r"# base_url: http://127\.0\.0\.1:8780/%s[^\n]*" % prov, "base_url: %s/%s" % (base, prov), s)
    assert n == 1, "no commented base_url for %s in the example" % prov
s, n = re.subn(r"redirect_uri: http://127\.0\.0\.1:8750/", "redirect_uri: http://127.0.0.1:0/", s)
assert n == 2, "expected two redirect_uri lines, found %d" % n
assert len(s.splitlines()) == n_before
open(p, "w").write(s)
PY
diff "$tmp/written.yaml" "$ws/hoopsync.yaml" | grep '^[<>]' | grep -vE 'base_url|redirect_uri' &&
  fail "the test changed more than URLs and ports"
cfg=(-c "$ws/hoopsync.yaml")
export HUBSPOT_CLIENT_SECRET=hub-secret QUICKBOOKS_CLIENT_SECRET=qbo-secret

"$bin" "${cfg[@]}" config check >"$tmp/out" 2>"$tmp/err" && ok "config check: $(cat "$tmp/out")" ||
  fail "config check: $(cat "$tmp/err")"

for name in crm accounting; do
  hs_test_connect "$name"
  [ "$rc" = 0 ] && ok "connect $name" || { fail "connect $name: $err"; exit 1; }
  [ "$name" = crm ] && hub_consent=$consent_url
done
# the example asks HubSpot for every scope hoopsync uses (it writes deals, creates its
# properties on companies and deals, reads line items)
scope=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["scope"][0])' "$hub_consent")
missing=""
for s in crm.objects.companies.write crm.objects.contacts.write crm.objects.deals.write \
  crm.schemas.companies.write crm.schemas.deals.write e-commerce; do
  grep -qw -- "$s" <<<"$scope" || missing="$missing $s"
done
[ -z "$missing" ] && ok "HubSpot consent asks for what hoopsync uses" || fail "HubSpot scopes miss:$missing (asked: $scope)"

"$bin" "${cfg[@]}" plan >"$tmp/plan" 2>"$tmp/err"
rc=$?
summary=$(tail -n 1 "$tmp/plan")
[ "$rc" = 0 ] && grep -qE '^plan: [0-9]+ created, [0-9]+ updated, [1-9][0-9]* linked, 0 conflicts, [0-9]+ errors' <<<"$summary" &&
  ok "plan with the example: $summary" || fail "plan with the example: rc $rc, $(cat "$tmp/err") $summary"
# a plan links nothing, so deals of companies it would create or link wait; nothing else fails
grep -E '^error ' "$tmp/plan" | grep -vE "waits: its company '[0-9]+' is not linked" &&
  fail "plan has errors other than deals waiting for their company"
# the provider names of `mappings:` reached the engine: HubSpot `name` -> DisplayName
grep -q "cannot compile mapping" "$tmp/err" && fail "plan: $(cat "$tmp/err")"

"$bin" "${cfg[@]}" sync --once >"$tmp/sync1" 2>"$tmp/err"
rc=$?
s1=$(tail -n 1 "$tmp/sync1")
[ "$rc" = 0 ] && grep -qE '^sync: [0-9]+ created, [0-9]+ updated, [1-9][0-9]* linked, 0 conflicts, 0 errors' <<<"$s1" &&
  ok "sync --once with the example: $s1" || fail "sync --once with the example: rc $rc, $(cat "$tmp/err") $s1"
grep -qE '^create +invoices ' "$tmp/sync1" && ok "closed-won deals became invoices" ||
  fail "no invoice created by the example's invoices flow"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync2" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && grep -qE '^sync: (nothing to do|0 created, 0 updated, 0 linked, 0 conflicts, 0 errors)' "$tmp/sync2" &&
  ok "second sync --once: $(tail -n 1 "$tmp/sync2")" ||
  fail "second sync --once: rc $rc, $(cat "$tmp/err") $(tail -n 3 "$tmp/sync2")"

[ "$fails" = 0 ] && echo "all ok" || { echo "$fails failure(s)" >&2; exit 1; }
