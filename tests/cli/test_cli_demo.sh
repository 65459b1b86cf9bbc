#!/usr/bin/env bash
# tests/cli/test_cli_demo.sh BUILD SRC - `hoopsync demo` runs the sandbox tour end to end and
# reports what the seeded providers hold; bad options are usage errors.
set -u
bin="$1/bin/hoopsync"
fail=0
check() { # description, command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}
out=$(timeout 60 "$bin" demo --companies 25 --deals 12 2>&1); rc=$?
echo "$out"
check "demo exits 0" test $rc -eq 0
check "demo prints the tenants" grep -qE 'HubSpot portal [0-9]+, QuickBooks realm [0-9]+' <<<"$out"
check "demo counts the companies it seeded" grep -q 'HubSpot:    25 companies' <<<"$out"
check "demo counts the deals it seeded" grep -qE '[0-9]+ contacts, 12 deals' <<<"$out"
total=$(grep -o 'deals by stage:.*' <<<"$out" | grep -oE ' [0-9]+(,|$)' | tr -d ', ' | awk '{s+=$1} END {print s}')
check "deals by stage add up to the deal count ($total)" test "$total" = 12
check "demo shows name variants" grep -q 'QuickBooks ' <<<"$out"
check "demo reports API calls" grep -qE 'API calls this tour used: HubSpot [1-9][0-9]*, QuickBooks [1-9]' <<<"$out"
out2=$(timeout 60 "$bin" demo --companies 25 --deals 12 2>&1)
strip() { grep -v 'sandbox on' <<<"$1"; }
check "same seed gives the same tour" test "$(strip "$out")" = "$(strip "$out2")"
"$bin" demo --deals many >/dev/null 2>&1; rc=$?
check "a bad number is a usage error (2)" test $rc -eq 2
"$bin" demo extra >/dev/null 2>&1; rc=$?
check "an extra argument is a usage error (2)" test $rc -eq 2
exit $fail
