#!/usr/bin/env bash
# tests/cli/test_cli_invoice.sh BUILD_DIR SOURCE_DIR - closed-won deals become QuickBooks invoices
# from the `invoicing:` block of hoopsync.yaml, end to end: hoopsync-sandbox on a free port, a
# workspace with a customers flow and an invoices flow (no payments flow), both sides connected.
# Checked through the sandbox's own QuickBooks and HubSpot APIs with curl (a separate OAuth
# client): `sync --once` creates exactly one invoice per closed-won deal, with the deal's
# currency and TotalAmt, the block's default item, untaxed code and Net 30 due date; a second
# sync creates none; no payment field is written to the deals until a payments flow is added.
# Also: `settings:` of a connection reach the connector (a bad value is its error).
set -uo pipefail
build=${1:?usage: test_cli_invoice.sh BUILD_DIR SOURCE_DIR}
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
hs_test_workspace <<EOF
flows:
  - name: customers
    objects: customers
    direction: both
    authority:
      default: crm
  - name: invoices
    objects: invoices
    direction: crm_to_accounting
    filter:
      dealstage: closedwon
    invoicing:
      default_item: "1"
      payment_terms: Net 30
      terms: {"Net 30": 30, "Net 60": 60, "Due on receipt": 0}
      tax_mode: exclusive
      taxes:
        "VAT 20%": {code: "4", rates: [{id: "3", percent: "20"}]}
        "Exempt": {code: NON}
      untaxed_code: NON
      default_currency: USD
      utc_offset: "-08:00"
      invoice_updates: never
EOF
cfg=(-c "$ws/hoopsync.yaml")

"$bin" "${cfg[@]}" config check >"$tmp/out" 2>"$tmp/err" &&
  ok "config check accepts the invoicing block: $(cat "$tmp/out")" || fail "config check: $(cat "$tmp/err")"

for name in crm accounting; do
  hs_test_connect "$name"
  [ "$rc" = 0 ] && ok "connect $name" || { fail "connect $name: $err"; exit 1; }
done

# our own view of both providers: an access token per side through the sandbox's OAuth
realm=$(curl -s "$base/_sandbox/tenants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["quickbooks"]["realmId"])')
cb=http://127.0.0.1:9/cb
code_of() { curl -s -o /dev/null -w '%{redirect_url}' "$1" | sed -E 's/.*[?&]code=([^&]*).*/\1/'; }
qcode=$(code_of "$base/quickbooks/oauth2/authorize?client_id=check&redirect_uri=$cb&response_type=code&state=s&scope=com.intuit.quickbooks.accounting")
qtok=$(curl -s -u check:secret -d "grant_type=authorization_code&code=$qcode&redirect_uri=$cb" \
  "$base/quickbooks/oauth2/v1/tokens/bearer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
hcode=$(code_of "$base/hubspot/oauth/authorize?client_id=check&redirect_uri=$cb&response_type=code&state=s&scope=crm.objects.deals.read")
htok=$(curl -s -d "grant_type=authorization_code&code=$hcode&redirect_uri=$cb&client_id=check&client_secret=secret" \
  "$base/hubspot/oauth/v1/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
[ -n "$qtok" ] && [ -n "$htok" ] && ok "test tokens for both sandbox APIs" || { fail "no sandbox tokens"; exit 1; }
invoices() { # all QuickBooks invoices as JSON into $1 (after a sync the realm may be
  # throttled: move the sandbox's emulated clock past Retry-After and ask again)
  local ra
  for _ in 1 2 3; do
    curl -s -G -D "$tmp/qh" -H "Authorization: Bearer $qtok" -H 'Accept: application/json' \
      --data-urlencode "query=select * from Invoice maxresults 1000" \
      "$base/quickbooks/v3/company/$realm/query" >"$1"
    grep -q ThrottleExceeded "$1" || return 0
    ra=$(grep -i '^retry-after:' "$tmp/qh" | tr -dc '0-9')
    curl -s -X POST -d "{\"advance_ms\":$(( (${ra:-60} + 1) * 1000 ))}" "$base/_sandbox/clock" >/dev/null
  done
}
deals() { # the closed-won HubSpot deals with the amount and hoopsync's payment fields into $1
  hs_test_hub_search "$htok" deals '{"filterGroups":[{"filters":[{"propertyName":"dealstage","operator":"EQ","value":"closedwon"}]}],
    "properties":["dealname","amount","deal_currency_code","hoopsync_payment_status",
    "hoopsync_amount_paid","hoopsync_amount_due","hoopsync_last_payment_date"],"limit":100}' "$1"
}

invoices "$tmp/inv0.json"
deals "$tmp/deals0.json"
python3 - "$tmp/inv0.json" "$tmp/deals0.json" <<'EOF' && ok "before: no invoice, some closed-won deals" || fail "before: $(head -c 300 "$tmp/inv0.json")"
import json, sys
inv = json.load(open(sys.argv[1]))["QueryResponse"].get("Invoice", [])
deals = json.load(open(sys.argv[2]))["results"]
assert inv == [] and len(deals) > 0, (len(inv), len(deals))
EOF

# a filter on a deal property chooses among the won deals: the seed's are in pipeline
# 'default', so with 'nope' every won deal is skipped (no invoice, no error) and says why
sed 's/^      dealstage: closedwon$/      dealstage: closedwon\n      pipeline: nope/' "$ws/hoopsync.yaml" >"$ws/nope.yaml"
"$bin" -c "$ws/nope.yaml" plan >"$tmp/plan0" 2>"$tmp/err" || fail "plan with a pipeline filter: $(cat "$tmp/err")"
n_won=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["results"]))' "$tmp/deals0.json")
n_skip=$(grep -cE "^skip.* invoices .*outside the filter \('pipeline' is 'default', not one of \{nope\}\)" "$tmp/plan0")
if [ "$n_skip" = "$n_won" ] && ! grep -qE '^(create|error) +invoices ' "$tmp/plan0"; then
  ok "plan: a pipeline filter skips the $n_won won deals outside it, with the reason"
else
  fail "plan with pipeline: nope: $n_skip of $n_won skipped: $(grep invoices "$tmp/plan0" | head -3)"
fi

# plan shows the invoices and creates none
"$bin" "${cfg[@]}" plan >"$tmp/plan" 2>"$tmp/err" || fail "plan: $(cat "$tmp/err")"
n_planned=$(grep -cE '^create +invoices +invoice +crm:[0-9]+ .*an invoice of .* would be created' "$tmp/plan")
grep -qE '^error +invoices ' "$tmp/plan" && fail "plan: deals wait although this sync links or creates their companies: $(grep -m1 '^error +invoices' "$tmp/plan")"
[ "$n_planned" -gt 0 ] && ok "plan: $n_planned invoices would be created (their companies linked or created first)" ||
  fail "plan: $(grep invoices "$tmp/plan")"
invoices "$tmp/inv1.json"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["QueryResponse"].get("Invoice", []) == []' "$tmp/inv1.json" &&
  ok "plan created no invoice" || fail "plan created invoices"

# sync: one invoice per closed-won deal, with the block's settings
"$bin" "${cfg[@]}" sync --once >"$tmp/sync1" 2>"$tmp/err" || fail "sync: $(cat "$tmp/err")"
n_created=$(grep -cE '^create +invoices +invoice ' "$tmp/sync1")
[ "$n_created" = "$n_planned" ] && ok "sync created the $n_planned invoices the plan showed" ||
  fail "plan showed $n_planned invoices, sync created $n_created"
invoices "$tmp/inv2.json"
deals "$tmp/deals2.json"
python3 - "$tmp/inv2.json" "$tmp/deals2.json" "$n_created" <<'EOF' && ok "sync: $n_created invoices, one per closed-won deal, amounts and settings as configured" || fail "sync invoices"
import json, sys
from datetime import date
from decimal import Decimal
inv = json.load(open(sys.argv[1]), parse_float=Decimal)["QueryResponse"].get("Invoice", [])
deals = json.load(open(sys.argv[2]))["results"]
assert len(inv) == len(deals) == int(sys.argv[3]) > 0, (len(inv), len(deals), sys.argv[3])
got = sorted((i["CurrencyRef"]["value"], Decimal(i["TotalAmt"])) for i in inv)
want = sorted((d["properties"]["deal_currency_code"], Decimal(d["properties"]["amount"])) for d in deals)
assert got == want, (got, want)
for i in inv:
    due = date.fromisoformat(i["DueDate"]) - date.fromisoformat(i["TxnDate"])
    assert due.days == 30, (i["DocNumber"], i["TxnDate"], i["DueDate"])  # payment_terms: Net 30
    for l in i["Line"]:
        if l.get("DetailType") != "SalesItemLineDetail":
            continue
        d = l["SalesItemLineDetail"]
        assert d["ItemRef"]["value"] == "1", d  # default_item (no product is linked)
        assert d["TaxCodeRef"]["value"] == "NON", d  # untaxed_code (no deal has a tax label)
EOF

# a second sync creates nothing
"$bin" "${cfg[@]}" sync --once >"$tmp/sync2" 2>"$tmp/err" || fail "second sync: $(cat "$tmp/err")"
invoices "$tmp/inv3.json"
n3=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["QueryResponse"].get("Invoice", [])))' "$tmp/inv3.json")
[ "$n3" = "$n_created" ] && ! grep -qE '^create +invoices' "$tmp/sync2" &&
  ok "second sync creates no invoice ($n3 in QuickBooks): $(tail -n 1 "$tmp/sync2")" ||
  fail "second sync: $n3 invoices, $(cat "$tmp/sync2")"

# without a payments flow no payment field reaches the deals; with one, it does
payment_fields() { # prints how many closed-won deals carry a hoopsync payment field
  deals "$tmp/d.json"
  python3 - "$tmp/d.json" <<'EOF'
import json, sys
fields = ["hoopsync_payment_status", "hoopsync_amount_paid", "hoopsync_amount_due", "hoopsync_last_payment_date"]
print(sum(1 for d in json.load(open(sys.argv[1]))["results"] if any(d["properties"].get(f) for f in fields)))
EOF
}
n=$(payment_fields)
[ "$n" = 0 ] && ok "no payments flow: no payment field written" || fail "no payments flow, yet $n deals have payment fields"
printf '  - name: payments\n    objects: payments\n    direction: accounting_to_crm\n' >>"$ws/hoopsync.yaml"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync4" 2>"$tmp/err" || fail "sync with payments: $(cat "$tmp/err")"
n=$(payment_fields)
[ "$n" = "$n_created" ] && ok "with a payments flow: payment status written to all $n deals" ||
  fail "with a payments flow: $n of $n_created deals have payment fields ($(tail -n 1 "$tmp/sync4"))"
invoices "$tmp/inv4.json"
n4=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["QueryResponse"].get("Invoice", [])))' "$tmp/inv4.json")
[ "$n4" = "$n_created" ] && ok "still $n4 invoices" || fail "$n4 invoices after the payments sync"
# status: the payments flow has run and keeps the status of every linked invoice
"$bin" "${cfg[@]}" status --json >"$tmp/st.json" 2>"$tmp/err" || fail "status: $(cat "$tmp/err")"
python3 - "$tmp/st.json" "$n_created" <<'EOF' && ok "status: the payments flow ran, $n_created invoices in sync" || fail "status: $(cat "$tmp/st.json")"
import json, sys
flows = {f["flow"]: f for f in json.load(open(sys.argv[1]))["flows"]}
p = flows["payments"]
assert p["last_run"] and p["in_sync"] == int(sys.argv[2]) and p["pending"] == 0, p
EOF

# connection settings from the file reach the connector, over the stored ones
python3 - "$ws/hoopsync.yaml" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
out = []
for l in lines:
    out.append(l)
    if l.startswith("    base_url:") and l.endswith("/hubspot"):
        out += ["    settings:", "      currency: XYZ"]
open(p, "w").write("\n".join(out))
EOF
"$bin" "${cfg[@]}" plan >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "unknown currency 'XYZ'" "$tmp/err" &&
  ok "yaml settings reach the connector: $(cat "$tmp/err")" || fail "bad crm setting: rc $rc, $(cat "$tmp/err")"

[ "$fails" = 0 ] && echo "all ok" || { echo "$fails failure(s)" >&2; exit 1; }
