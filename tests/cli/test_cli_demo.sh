#!/usr/bin/env bash
# tests/cli/test_cli_demo.sh BUILD SRC - `hoopsync demo` runs the whole product end to end on
# the in-process sandbox: OAuth connect, plan, sync, edits on both sides, sync again, report.
# Its numbers are checked against the sandbox itself: a separate hoopsync-sandbox with the
# same seed and sizes (the world is deterministic) tells how many deals are closed won, and
# the kept workspace is read back with `hoopsync status`. Bad options are usage errors.
set -uo pipefail
build=${1:?usage: test_cli_demo.sh BUILD_DIR SOURCE_DIR}
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

seed=7
companies=40 # the defaults: every closed-won deal's company can be linked and invoiced
deals=30
export TMPDIR="$tmp" # the demo's workspace goes here, so cleanup removes a kept one too

# the truth: the same world served by a separate sandbox, read through the HubSpot API
"$sbx" --port 0 --seed "$seed" --companies "$companies" --deals "$deals" --token T \
  >"$tmp/sbx.out" 2>"$tmp/sbx.err" &
spid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$tmp/sbx.out" 2>/dev/null && break
  sleep 0.1
done
base=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$tmp/sbx.out" | head -n 1)
[ -n "$base" ] || { cat "$tmp/sbx.err" >&2; echo "FAIL: sandbox did not start" >&2; exit 1; }
won=$(python3 - "$base" <<'EOF'
import json, sys, urllib.request
base, n, after = sys.argv[1], 0, ""
while True:
    url = base + "/hubspot/crm/v3/objects/deals?limit=100&properties=dealstage" + (("&after=" + after) if after else "")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer T"})
    page = json.load(urllib.request.urlopen(req))
    n += sum(1 for r in page["results"] if r["properties"].get("dealstage") == "closedwon")
    after = page.get("paging", {}).get("next", {}).get("after")
    if not after:
        break
print(n)
EOF
)
kill -TERM "$spid"; wait "$spid" 2>/dev/null; spid=""
[ "${won:-0}" -gt 0 ] && ok "the seeded world has $won closed-won deals" || fail "no closed-won deal in the world ($won)"

# --json: the stable form, every number checked
start=$(date +%s)
timeout 120 "$bin" demo --seed "$seed" --companies "$companies" --deals "$deals" --json \
  >"$tmp/demo.json" 2>"$tmp/demo.err"
rc=$?
secs=$(($(date +%s) - start))
[ "$rc" = 0 ] && ok "demo --json exits 0 in ${secs}s" || fail "demo --json exited $rc: $(cat "$tmp/demo.err")"
[ "$secs" -le 30 ] && ok "demo is quick (${secs}s)" || fail "demo took ${secs}s"
python3 - "$tmp/demo.json" "$won" "$companies" "$deals" <<'EOF' && ok "demo --json: the numbers add up" || fail "demo --json: $(head -c 3000 "$tmp/demo.json")"
import json, os, sys
d = json.load(open(sys.argv[1]))
won, companies, deals = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s, r, rs = d["sandbox"], d["report"], d["resync"]
assert s["hubspot"]["companies"] == companies and s["hubspot"]["deals"] == deals, s
assert s["hubspot"]["closed_won"] == won, (s, won)
# every closed-won deal became one invoice or an error item that says why (each pass retries it)
inv_errors = [a for a in d["sync"]["errors_list"] if a["object"] == "invoice"]
assert r["invoiced"] + len(inv_errors) == won, (r["invoiced"], inv_errors, won)
# in this world every one of them is invoiced, and got its number and status back
assert r["invoiced"] == won, (r["invoiced"], won)
assert len(d["sync"]["invoices"]) == won
assert len({a["source_id"] for a in d["sync"]["invoices"]}) == won
assert d["sync"]["status_written_back"] == won, d["sync"]
assert r["invoice_totals"] and all(float(v) > 0 for v in r["invoice_totals"].values()), r
assert r["linked"] > 0 and r["created"]["accounting_customers"] > 0 and r["created"]["crm_customers"] > 0, r
assert r["errors"] == 0 and d["sync"]["errors"] == 0, (r, d["sync"])
# the second sync: each one-way edit moved once, the both-sides phone was settled by authority
assert rs["created"] == {"accounting_customers": 0, "crm_customers": 0, "accounting_items": 0}, rs
assert rs["invoiced"] == 0, rs
assert rs["settled"] == 1 and rs["conflicts"] == 0, rs
settled = [a for a in rs["actions"] if a["action"] == "settled"]
assert settled and settled[0]["fields"] == "phone" and "accounting wins" in settled[0]["reason"], settled
upd = [a for a in rs["actions"] if a["action"] == "update" and a["object"] == "customer"]
assert {(a["source_side"], a["fields"]) for a in upd} >= {("crm", "phone"), ("accounting", "website")}, upd
# the partial payment reached the deal
pay = [e for e in d["edits"] if e["kind"] == "payment"][0]
assert rs["deal"]["hoopsync_payment_status"] == "partially_paid", rs["deal"]
assert rs["deal"]["hoopsync_amount_paid"] == pay["amount"], (rs["deal"], pay)
assert r["paid"]["amount"] == pay["amount"] and r["paid"]["invoice"] == pay["invoice"], r
# API calls counted by the sandbox, hoopsync's own
calls = r["api_calls"]
assert calls["hubspot"] > 0 and calls["quickbooks"] > 0, calls
# the total is the steps' calls plus those of connecting (token exchange, set-up)
for p in ("hubspot", "quickbooks"):
    steps = d["plan"]["api_calls"][p] + d["sync"]["api_calls"][p] + rs["api_calls"][p]
    assert d["sync"]["api_calls"][p] > 0 and calls[p] > steps, (p, calls, steps)
assert 0 < r["wall_ms"] < 30000, r
# without --keep-dir the workspace is gone
assert not os.path.exists(d["workspace"]), d["workspace"]
EOF

# the text form: five sections, the settled conflict, the deal's status, a kept workspace
timeout 120 "$bin" demo --seed "$seed" --companies "$companies" --deals "$deals" --keep-dir \
  >"$tmp/demo.txt" 2>"$tmp/demo.err"
rc=$?
[ "$rc" = 0 ] && ok "demo exits 0" || fail "demo exited $rc: $(cat "$tmp/demo.err")"
for sec in "1. plan" "2. sync" "3. edits" "4. sync again" "5. report"; do
  grep -q "^$sec" "$tmp/demo.txt" && ok "section '$sec'" || fail "no section '$sec'"
done
grep -qE "^   invoiced +$won deals \(" "$tmp/demo.txt" && ok "report: invoiced $won deals" ||
  fail "report invoiced: $(grep invoiced "$tmp/demo.txt")"
grep -qE "^   settled .*\[phone\]" "$tmp/demo.txt" && grep -q "accounting wins" "$tmp/demo.txt" &&
  ok "the phone conflict is settled by authority" || fail "no settled phone conflict"
grep -qE "as partially_paid \(paid [0-9]+" "$tmp/demo.txt" && ok "the deal shows partially_paid" ||
  fail "no partially_paid deal"
grep -qE "^   API calls   HubSpot [1-9][0-9]*, QuickBooks [1-9][0-9]*" "$tmp/demo.txt" &&
  ok "report: API calls per provider" || fail "no API calls line"
# the same seed gives the same results: the text report of this run matches the JSON of the first
python3 - "$tmp/demo.json" "$tmp/demo.txt" <<'EOF' && ok "same seed, same report (text and --json agree)" || fail "text report differs from --json: $(sed -n '/^5. report/,$p' "$tmp/demo.txt")"
import json, re, sys
r = json.load(open(sys.argv[1]))["report"]
t = open(sys.argv[2]).read()
def num(pattern):
    m = re.search(pattern, t, re.M)
    assert m, pattern
    return [int(x) for x in m.groups()]
assert num(r"^   linked +(\d+) customers, (\d+) products") == [r["linked"], r["linked_items"]]
assert num(r"^   created +(\d+) customers and (\d+) items? in QuickBooks, (\d+) customers in HubSpot") == [
    r["created"]["accounting_customers"], r["created"]["accounting_items"], r["created"]["crm_customers"]]
assert num(r"^   updated +(\d+) in QuickBooks, (\d+) in HubSpot") == [r["updated"]["accounting"], r["updated"]["crm"]]
assert num(r"^   invoiced +(\d+) deals") == [r["invoiced"]]
assert num(r"^   settled +(\d+) conflicts") == [r["settled"]]
EOF
dir=$(grep -oE '^workspace kept: .*' "$tmp/demo.txt" | sed 's/^workspace kept: //')
if [ -n "$dir" ] && [ -f "$dir/hoopsync.yaml" ] && [ -f "$dir/hoopsync.key" ]; then
  ok "--keep-dir keeps the workspace ($dir)"
  "$bin" -c "$dir/hoopsync.yaml" status --json >"$tmp/status.json" 2>"$tmp/err" &&
    python3 - "$tmp/status.json" <<'EOF' && ok "status reads the kept workspace" || fail "status: $(cat "$tmp/status.json" "$tmp/err")"
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["flow"]: x for x in d["flows"]}
assert f["customers"]["in_sync"] > 0 and f["customers"]["last_run"], f
EOF
  [ "$(stat -c %a "$dir/hoopsync.key")" = 600 ] && ok "the master key is 0600" || fail "key mode $(stat -c %a "$dir/hoopsync.key")"
else
  fail "--keep-dir: no workspace in '$dir'"
fi

# usage errors and help
"$bin" demo --deals many >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "option '--deals' needs a whole number" "$tmp/err" &&
  ok "a bad number is a usage error (2)" || fail "--deals many: rc $rc, $(cat "$tmp/err")"
"$bin" demo --companies 0 >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] && ok "--companies 0 is a usage error (2)" || fail "--companies 0: rc $rc"
"$bin" demo --frobnicate >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] && ok "an unknown option is a usage error (2)" || fail "--frobnicate: rc $rc"
"$bin" demo extra >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] && ok "an extra argument is a usage error (2)" || fail "extra argument: rc $rc"
"$bin" demo --help >"$tmp/help" 2>&1; rc=$?
[ "$rc" = 0 ] && grep -q -- "--keep-dir" "$tmp/help" && ok "--help explains the options" || fail "--help: rc $rc"

[ "$fails" = 0 ] && echo "all ok" || { echo "$fails failure(s)" >&2; exit 1; }
