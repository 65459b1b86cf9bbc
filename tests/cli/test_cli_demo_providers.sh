#!/usr/bin/env bash
# tests/cli/test_cli_demo_providers.sh BUILD SRC - `hoopsync demo --accounting NAME` runs the
# whole demo against each accounting provider of the sandbox (quickbooks, xero, zohobooks):
# its numbers are checked against a separate hoopsync-sandbox with the same seed (closed-won
# deals, tenant ids): every closed-won deal became one invoice that the provider itself lists,
# the both-sides phone was settled by `phone: accounting` and both sides read back the same
# number, the one-way accounting edit reached HubSpot, the partial payment made the deal
# partially_paid, and hoopsync's API calls are counted for that provider only (0 for the other
# accounting providers). Xero and Zoho Books run with their windows compressed 60x, which the
# report must say; each run stays short. A bad name is a usage error naming the choices.
set -uo pipefail
build=${1:?usage: test_cli_demo_providers.sh BUILD_DIR SOURCE_DIR}
bin="$build/bin/hoopsync"
sbx="$build/bin/hoopsync-sandbox"
[ -x "$bin" ] || { echo "skip: $bin not built"; exit 77; }
[ -x "$sbx" ] || { echo "skip: $sbx not built"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
unset HOOPSYNC_CONFIG HOOPSYNC_MASTER_KEY HOOPSYNC_DEMO_SECRET

tmp=$(mktemp -d)
spid=""
cleanup() {
  if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then kill -TERM "$spid"; wait "$spid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
export TMPDIR="$tmp"

# the truth: the same world (seed 7, default sizes) in a separate sandbox
"$sbx" --port 0 --seed 7 --token T >"$tmp/sbx.out" 2>"$tmp/sbx.err" &
spid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$tmp/sbx.out" 2>/dev/null && break
  sleep 0.1
done
base=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$tmp/sbx.out" | head -n 1)
[ -n "$base" ] || { cat "$tmp/sbx.err" >&2; echo "FAIL: sandbox did not start" >&2; exit 1; }
curl -s "$base/_sandbox/tenants" >"$tmp/tenants.json"
won=$(python3 - "$base" <<'EOF'
import json, sys, urllib.request
base, n, after = sys.argv[1], 0, ""
while True:
    url = base + "/hubspot/crm/v3/objects/deals?limit=100&properties=dealstage" + (("&after=" + after) if after else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer T"})))
    n += sum(1 for r in page["results"] if r["properties"].get("dealstage") == "closedwon")
    after = page.get("paging", {}).get("next", {}).get("after")
    if not after:
        break
print(n)
EOF
)
kill -TERM "$spid"; wait "$spid" 2>/dev/null; spid=""
[ "${won:-0}" -gt 0 ] && ok "the seeded world has $won closed-won deals" || fail "no closed-won deal ($won)"

for p in quickbooks xero zohobooks; do
  start=$(date +%s)
  timeout 60 "$bin" demo --accounting "$p" --json >"$tmp/$p.json" 2>"$tmp/$p.err"
  rc=$?
  secs=$(($(date +%s) - start))
  [ "$rc" = 0 ] && ok "demo --accounting $p --json exits 0 in ${secs}s" ||
    { fail "demo --accounting $p exited $rc: $(cat "$tmp/$p.err")"; continue; }
  [ "$secs" -le 15 ] && ok "demo --accounting $p is short (${secs}s)" || fail "demo --accounting $p took ${secs}s"
  python3 - "$tmp/$p.json" "$p" "$won" "$tmp/tenants.json" <<'EOF' && ok "demo --accounting $p: the numbers add up" || fail "demo --accounting $p: $(head -c 3000 "$tmp/$p.json")"
import json, os, sys
d = json.load(open(sys.argv[1]))
p, won = sys.argv[2], int(sys.argv[3])
tenants = json.load(open(sys.argv[4]))
key = {"quickbooks": "realmId", "xero": "tenantId", "zohobooks": "organizationId"}[p]
s, sy, rs, r = d["sandbox"], d["sync"], d["resync"], d["report"]
# the accounting side is the provider asked for, its tenant the one the sandbox seeds
acc = s["accounting"]
assert acc["provider"] == p and acc["tenant"] == tenants[p][key], (acc, tenants[p])
assert acc["customers"] > 0 and acc["items"] > 0, acc
assert s["hubspot"]["closed_won"] == won, (s, won)
# every closed-won deal is one invoice, and the provider itself lists that many
assert r["invoiced"] == won and len(sy["invoices"]) == won, (r["invoiced"], won)
assert len({a["source_id"] for a in sy["invoices"]}) == won
assert sy["accounting_invoices"] == won, (sy["accounting_invoices"], won)
assert sy["status_written_back"] == won, sy
assert r["invoice_totals"] and all(float(v) > 0 for v in r["invoice_totals"].values()), r
assert r["errors"] == 0 and sy["errors"] == 0, (r["errors"], sy["errors_list"])
assert r["linked"] > 0 and r["created"]["accounting_customers"] > 0 and r["created"]["crm_customers"] > 0, r
# the edits: one field each way on one pair, the phone on both sides of another
edits = d["edits"]
crm_edit = [e for e in edits if e["kind"] == "one_way" and "crm_company" in e][0]
acc_edit = [e for e in edits if e["kind"] == "one_way" and "accounting_customer" in e][0]
conflict = [e for e in edits if e["kind"] == "conflict"][0]
upd = [a for a in rs["actions"] if a["action"] == "update" and a["object"] == "customer"]
assert any(a["source_side"] == "crm" and a["source_id"] == crm_edit["crm_company"] and a["fields"] == "phone" for a in upd), upd
assert any(a["source_side"] == "accounting" and a["source_id"] == acc_edit["accounting_customer"] for a in upd), (acc_edit, upd)
assert rs["created"] == {"accounting_customers": 0, "crm_customers": 0, "accounting_items": 0}, rs
assert rs["invoiced"] == 0, rs
# the conflict: settled by the authority rule, and both sides now hold the accounting's phone
assert rs["settled"] == 1 and rs["conflicts"] == 0, rs
settled = [a for a in rs["actions"] if a["action"] == "settled"]
assert settled[0]["fields"] == "phone" and "accounting wins" in settled[0]["reason"], settled
assert rs["conflict"] == {"crm_phone": conflict["accounting_phone"], "accounting_phone": conflict["accounting_phone"]}, (rs["conflict"], conflict)
# the partial payment reached the deal
pay = [e for e in edits if e["kind"] == "payment"][0]
assert rs["deal"]["hoopsync_payment_status"] == "partially_paid", rs["deal"]
assert rs["deal"]["hoopsync_amount_paid"] == pay["amount"], (rs["deal"], pay)
assert r["paid"]["amount"] == pay["amount"] and r["paid"]["invoice"] == pay["invoice"], r
# API calls: hoopsync's own, for HubSpot and this provider only
calls = r["api_calls"]
others = {"quickbooks", "xero", "zohobooks"} - {p}
assert calls["hubspot"] > 0 and calls[p] > 0, calls
assert all(calls[o] == 0 for o in others), calls
for k in ("plan", "sync", "resync"):
    assert all(d[k]["api_calls"][o] == 0 for o in others), (k, d[k]["api_calls"])
steps = d["plan"]["api_calls"][p] + sy["api_calls"][p] + rs["api_calls"][p]
assert sy["api_calls"][p] > 0 and calls[p] > steps, (calls, steps)
# limits: as published for QuickBooks, compressed 60x (and said) for Xero and Zoho Books
lim = r["rate_limits"]
if p == "quickbooks":
    assert lim["time_scale"] == 1 and not lim["compressed"], lim
else:
    assert lim["time_scale"] == 60 and lim["compressed"] and "compressed 60x" in lim["said"], lim
assert s["rate_limits"] == lim, (s["rate_limits"], lim)
assert 0 < r["wall_ms"] < 15000, r
assert not os.path.exists(d["workspace"]), d["workspace"]
EOF
done

# the text form names the provider in every API-call line and says how limits ran
timeout 60 "$bin" demo --accounting zohobooks --keep-dir >"$tmp/zoho.txt" 2>"$tmp/zoho.err"
rc=$?
[ "$rc" = 0 ] && ok "demo --accounting zohobooks (text) exits 0" || fail "text demo exited $rc: $(cat "$tmp/zoho.err")"
n_lines=$(grep -c "API calls: HubSpot [0-9]*, Zoho Books [0-9]*)" "$tmp/zoho.txt")
[ "$n_lines" = 3 ] && ! grep -q "QuickBooks" "$tmp/zoho.txt" &&
  ok "plan, sync and resync name Zoho Books in their API-call lines, QuickBooks nowhere" ||
  fail "API-call lines: $(grep -E 'API calls|QuickBooks' "$tmp/zoho.txt")"
grep -qE "^   API calls   HubSpot [1-9][0-9]*, Zoho Books [1-9][0-9]* " "$tmp/zoho.txt" &&
  ok "report: API calls of HubSpot and Zoho Books" || fail "report API calls: $(grep 'API calls' "$tmp/zoho.txt")"
grep -qE "^   limits      Zoho Books: 100 calls a minute and 10000 a day, compressed 60x" "$tmp/zoho.txt" &&
  ok "the report says the limits were compressed 60x" || fail "limits line: $(grep limits "$tmp/zoho.txt")"
dir=$(grep -oE '^workspace kept: .*' "$tmp/zoho.txt" | sed 's/^workspace kept: //')
if [ -n "$dir" ] && [ -f "$dir/hoopsync.yaml" ]; then
  python3 - "$dir/hoopsync.yaml" <<'EOF' && ok "the workspace hands the connection the compressed windows (rate_limits)" || fail "yaml: $(cat "$dir/hoopsync.yaml")"
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["connections"]["accounting"]
assert c["provider"] == "zohobooks", c
lim = {w["scope"]: (w["requests"], w["window_ms"]) for w in c["settings"]["rate_limits"]}
assert lim == {"all": (100, 1000), "day": (10000, 1440000)}, lim
EOF
else
  fail "--keep-dir: no workspace in '$dir'"
fi

# usage
"$bin" demo --accounting sage >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "quickbooks, xero, zohobooks, not 'sage'" "$tmp/err" &&
  ok "a bad --accounting is a usage error (2) naming the choices" || fail "--accounting sage: rc $rc, $(cat "$tmp/err")"
"$bin" demo --accounting >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] && ok "--accounting without a name is a usage error (2)" || fail "--accounting alone: rc $rc"
"$bin" demo --help >"$tmp/help" 2>&1; rc=$?
[ "$rc" = 0 ] && grep -q -- "--accounting NAME" "$tmp/help" && grep -q "quickbooks (default), xero or zohobooks" "$tmp/help" &&
  ok "--help explains --accounting" || fail "--help: rc $rc $(cat "$tmp/help")"

[ "$fails" = 0 ] && echo "all ok" || { echo "$fails failure(s)" >&2; exit 1; }
