#!/usr/bin/env bash
# tests/cli/test_cli_xero.sh BUILD_DIR SOURCE_DIR - provider: xero end to end: hoopsync-sandbox
# on a free port, a workspace whose accounting connection is Xero, `hoopsync connect
# accounting` (OAuth, then GET /connections stores the organisation's tenant id), and `sync
# --once` of customers both ways links the seeded contacts, creates the rest on both sides,
# and a second sync has nothing to do; then an invoices flow turns every closed-won deal into
# one ACCREC invoice whose currency and total are the deal's (checked through the sandbox's
# Xero and HubSpot APIs with a separate token), and a second sync creates none; a partial Xero
# payment reaches its deal through a payments flow.
set -uo pipefail
build=${1:?usage: test_cli_xero.sh BUILD_DIR SOURCE_DIR}
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
# the accounting connection becomes Xero in the same sandbox
python3 - "$ws/hoopsync.yaml" "$base" <<'EOF'
import sys
p, base = sys.argv[1], sys.argv[2]
s = open(p).read()
s = s.replace("provider: quickbooks", "provider: xero")
s = s.replace("scopes: [com.intuit.quickbooks.accounting]",
              "scopes: [offline_access, accounting.transactions, accounting.contacts]")
s = s.replace(base + "/quickbooks", base + "/xero")
open(p, "w").write(s)
EOF
"$bin" "${cfg[@]}" config check >/dev/null 2>"$tmp/err" && ok "config with provider: xero" ||
  { fail "config check: $(cat "$tmp/err")"; exit 1; }

for name in crm accounting; do
  hs_test_connect "$name" --json
  [ "$rc" = 0 ] && ok "connect $name" || { fail "connect $name: $err"; exit 1; }
done
want=$(curl -s "$base/_sandbox/tenants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["xero"]["tenantId"])')
got=$(tail -n 1 <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant"])')
[ -n "$want" ] && [ "$got" = "$want" ] && ok "connect stored the Xero tenant from /connections ($got)" ||
  fail "tenant: got '$got', want '$want' ($out)"

"$bin" "${cfg[@]}" plan >"$tmp/plan" 2>"$tmp/err" || fail "plan: $(cat "$tmp/err")"
summary=$(tail -n 1 "$tmp/plan")
grep -qE '^plan: [1-9][0-9]* created, [0-9]+ updated, [1-9][0-9]* linked, 0 conflicts, 0 errors' <<<"$summary" &&
  ok "plan against Xero: $summary" || fail "plan summary: $summary"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync1" 2>"$tmp/err" || fail "sync: $(cat "$tmp/err")"
s1=$(tail -n 1 "$tmp/sync1")
[ "${s1#sync: }" = "${summary#plan: }" ] && ok "sync did what plan showed: $s1" || fail "sync '$s1' vs plan '$summary'"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync2" 2>"$tmp/err" || fail "second sync: $(cat "$tmp/err")"
grep -q '^sync: nothing to do' "$tmp/sync2" && ok "second sync --once: $(cat "$tmp/sync2")" ||
  fail "second sync: $(cat "$tmp/sync2") $(cat "$tmp/err")"
# the CRM's companies that were not in Xero are Xero contacts now
created=$(grep -oE '^sync: [0-9]+ created' "$tmp/sync1" | grep -oE '[0-9]+')
"$bin" "${cfg[@]}" status --json >"$tmp/status.json" 2>"$tmp/err" || fail "status: $(cat "$tmp/err")"
python3 - "$tmp/status.json" <<'EOF' && ok "status after the Xero sync" || fail "status: $(cat "$tmp/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d, d
EOF
[ -n "${created:-}" ] && [ "$created" -gt 0 ] && ok "$created records created across both sides" ||
  fail "nothing created: $s1"

# invoices: closed-won deals become ACCREC invoices in Xero with the deals' currency and amount
cb=http://127.0.0.1:9/cb
xcode=$(curl -s -o /dev/null -w '%{redirect_url}' \
  "$base/xero/identity/connect/authorize?client_id=check&redirect_uri=$cb&response_type=code&state=s&scope=accounting.transactions" |
  sed -E 's/.*[?&]code=([^&]*).*/\1/')
xtok=$(curl -s -u check:secret -d "grant_type=authorization_code&code=$xcode&redirect_uri=$cb" \
  "$base/xero/identity/connect/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
[ -n "$xtok" ] && ok "a test token for the sandbox's Xero API" || { fail "no Xero token"; exit 1; }
xget() { # GET the Xero API path $1 into $2, waiting out the sandbox's minute limit
  local ra
  for _ in 1 2 3; do
    curl -s -D "$tmp/xh" -H "Authorization: Bearer $xtok" -H "Xero-tenant-id: $want" \
      -H 'Accept: application/json' "$base/xero/api.xro/2.0/$1" >"$2"
    grep -q '"Status":429' "$2" || return 0
    ra=$(grep -i '^retry-after:' "$tmp/xh" | tr -dc '0-9')
    curl -s -X POST -d "{\"advance_ms\":$(( (${ra:-60} + 1) * 1000 ))}" "$base/_sandbox/clock" >/dev/null
  done
}
xget Items "$tmp/items.json"
item=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Items"][0]["ItemID"])' "$tmp/items.json")
cat >>"$ws/hoopsync.yaml" <<EOF
  - name: invoices
    objects: invoices
    direction: crm_to_accounting
    filter:
      dealstage: closedwon
    invoicing:
      default_item: "$item"
      payment_terms: Net 30
      terms: {"Net 30": 30}
      tax_mode: exclusive
      taxes:
        "Exempt": {code: NONE}
      untaxed_code: NONE
      default_currency: USD
      invoice_updates: never
EOF
"$bin" "${cfg[@]}" sync --once >"$tmp/sync3" 2>"$tmp/err" || fail "sync with invoices: $(cat "$tmp/err")"
n_created=$(grep -cE '^create +invoices +invoice ' "$tmp/sync3")
xget "Invoices?page=1" "$tmp/inv.json"
hcode=$(curl -s -o /dev/null -w '%{redirect_url}' \
  "$base/hubspot/oauth/authorize?client_id=check&redirect_uri=$cb&response_type=code&state=s&scope=crm.objects.deals.read" |
  sed -E 's/.*[?&]code=([^&]*).*/\1/')
htok=$(curl -s -d "grant_type=authorization_code&code=$hcode&redirect_uri=$cb&client_id=check&client_secret=secret" \
  "$base/hubspot/oauth/v1/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
hs_test_hub_search "$htok" deals '{"filterGroups":[{"filters":[{"propertyName":"dealstage","operator":"EQ","value":"closedwon"}]}],
  "properties":["amount","deal_currency_code"],"limit":100}' "$tmp/deals.json"
python3 - "$tmp/inv.json" "$tmp/deals.json" "$n_created" <<'EOF' && ok "sync: $n_created Xero invoices, one per closed-won deal, totals equal to the deals'" || fail "Xero invoices: $(head -c 400 "$tmp/inv.json") / $(tail -n 3 "$tmp/sync3")"
import json, sys
from decimal import Decimal
inv = json.load(open(sys.argv[1]), parse_float=Decimal)["Invoices"]
deals = json.load(open(sys.argv[2]))["results"]
assert len(inv) == len(deals) == int(sys.argv[3]) > 0, (len(inv), len(deals), sys.argv[3])
got = sorted((i["CurrencyCode"], Decimal(i["Total"])) for i in inv)
want = sorted((d["properties"]["deal_currency_code"], Decimal(d["properties"]["amount"])) for d in deals)
assert got == want, (got, want)
for i in inv:
    assert i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED" and i["LineAmountTypes"] == "Exclusive", i
    assert all(l.get("TaxType") == "NONE" for l in i["LineItems"]), i["LineItems"]
EOF
"$bin" "${cfg[@]}" sync --once >"$tmp/sync4" 2>"$tmp/err" || fail "sync again: $(cat "$tmp/err")"
! grep -qE '^create +invoices' "$tmp/sync4" && ok "a second sync creates no invoice: $(tail -n 1 "$tmp/sync4")" ||
  fail "second sync created invoices: $(cat "$tmp/sync4")"

# payments back: a partial Xero payment of one invoice reaches its deal through a payments flow
pay_inv=$(python3 -c '
import json, sys
inv = json.load(open(sys.argv[1]))["Invoices"][0]
print(inv["InvoiceID"], inv["CurrencyCode"], inv["Total"])' "$tmp/inv.json")
read -r pay_id pay_cur pay_total <<<"$pay_inv"
pay_amount=100 # less than any deal's amount: the invoice stays partially paid
[ "${pay_total%%.*}" -gt 100 ] || fail "invoice total $pay_total too small for the test"
curl -s -X PUT -H "Authorization: Bearer $xtok" -H "Xero-tenant-id: $want" -H 'Content-Type: application/json' \
  -d "{\"Payments\":[{\"Invoice\":{\"InvoiceID\":\"$pay_id\"},\"Account\":{\"Code\":\"090\"},\"Date\":\"2026-11-24\",\"Amount\":$pay_amount}]}" \
  "$base/xero/api.xro/2.0/Payments?summarizeErrors=false" >"$tmp/pay.json"
grep -q '"StatusAttributeString":"OK"' "$tmp/pay.json" && ok "paid $pay_amount $pay_cur of one Xero invoice" ||
  fail "payment: $(head -c 300 "$tmp/pay.json")"
printf '  - name: payments\n    objects: payments\n    direction: accounting_to_crm\n' >>"$ws/hoopsync.yaml"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync5" 2>"$tmp/err" || fail "sync with payments: $(cat "$tmp/err")"
hs_test_hub_search "$htok" deals '{"filterGroups":[{"filters":[{"propertyName":"dealstage","operator":"EQ","value":"closedwon"}]}],
  "properties":["amount","deal_currency_code","hoopsync_payment_status","hoopsync_amount_paid","hoopsync_amount_due"],"limit":100}' "$tmp/deals2.json"
python3 - "$tmp/deals2.json" "$pay_cur" "$pay_amount" "$n_created" <<'EOF' && ok "payments flow: every deal has its status, the paid one partially_paid with $pay_amount" || fail "deals after payments: $(head -c 600 "$tmp/deals2.json") / $(tail -n 2 "$tmp/sync5")"
import json, sys
from decimal import Decimal
deals = [d["properties"] for d in json.load(open(sys.argv[1]))["results"]]
cur, paid, n = sys.argv[2], Decimal(sys.argv[3]), int(sys.argv[4])
assert sum(1 for d in deals if d.get("hoopsync_payment_status")) == n, deals
part = [d for d in deals if d.get("hoopsync_payment_status") == "partially_paid"]
assert len(part) == 1, deals
assert part[0]["deal_currency_code"] == cur and Decimal(part[0]["hoopsync_amount_paid"].split()[-1]) == paid, part
EOF

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "all ok"
