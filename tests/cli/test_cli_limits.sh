#!/usr/bin/env bash
# tests/cli/test_cli_limits.sh BUILD_DIR SOURCE_DIR - a provider's daily limit pauses the sync
# and nothing is lost: HubSpot x Zoho Books in a small sandbox whose windows are compressed
# 2,880x (a day lasts 30 s; the connection is handed the same windows through rate_limits) and
# a daily limit of 12 calls in Zoho. `sync --once --max-wait 1` stops when Zoho says the day is
# spent (exit 75, saying when work resumes), `status` shows the pause, a pass started before
# then stops without calling Zoho; once Zoho's plan allows more and the resume time has come, a
# pass finishes the work: every record the plan showed is linked or created exactly once and a
# last pass has nothing to do.
set -uo pipefail
build=${1:?usage: test_cli_limits.sh BUILD_DIR SOURCE_DIR}
HS_TEST_SBX_ARGS="--time-scale 2880 --companies 12 --customers 4"
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
# the connection allows itself 1000 calls a day, the sandbox's Zoho 12: Zoho's own 429 (code 44,
# the day) is what stops the pass, and it pauses the connection for a whole day window
hs_test_use_zohobooks 21 1000 30000
for name in crm accounting; do
  hs_test_connect "$name" --json
  [ "$rc" = 0 ] || { fail "connect $name: $err"; exit 1; }
done

# a token of our own for counting Zoho's contacts at the start and at the end
hs_test_zoho_token
zoho_contacts() {
  curl -s -H "Authorization: Zoho-oauthtoken $ztok" \
    "$base/zohobooks/books/v3/contacts?organization_id=$org&per_page=200" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["contacts"]) if "contacts" in d else "ERR %s" % d)'
}
zoho_calls() {
  curl -s "$base/_sandbox/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["providers"]["zohobooks"]["total"])'
}
before=$(zoho_contacts)

"$bin" "${cfg[@]}" plan >"$tmp/plan" 2>"$tmp/err" || { fail "plan: $(cat "$tmp/err")"; exit 1; }
to_crm=$(grep -cE '^create .* in crm:' "$tmp/plan")
to_acc=$(grep -cE '^create .* in accounting:' "$tmp/plan")
linked=$(tail -n 1 "$tmp/plan" | grep -oE '[0-9]+ linked' | grep -oE '[0-9]+')
[ "$to_acc" -gt 0 ] && [ "$to_crm" -gt 0 ] && ok "plan: $to_crm creates in the CRM, $to_acc in Zoho, $linked links" ||
  fail "plan has no creates both ways: $(tail -n 1 "$tmp/plan")"

# from now on a day allows 12 calls (the plan and the connect spent some of today's)
curl -s -X POST -H 'Content-Type: application/json' -d '{"per_day":12,"per_minute":100}' \
  "$base/zohobooks/_sandbox/limits" >/dev/null

"$bin" "${cfg[@]}" sync --once --max-wait 1 >"$tmp/s1" 2>"$tmp/e1"
r1=$?
[ "$r1" = 75 ] && ok "the day's limit paused the first pass (exit 75)" ||
  fail "first pass exit $r1, want 75: $(cat "$tmp/e1")"
grep -q "sync paused: connection 'accounting': the provider's daily limit is spent" "$tmp/e1" && grep -q 'work resumes at' "$tmp/e1" &&
  grep -q 'stay pending (nothing is lost)' "$tmp/e1" && ok "it says so: $(head -n 1 "$tmp/e1")" ||
  fail "pause message: $(cat "$tmp/e1")"
grep -q 'nothing to do' "$tmp/s1" && fail "a paused pass said it had nothing to do: $(cat "$tmp/s1")" ||
  ok "the paused pass does not say 'nothing to do' ($(wc -l <"$tmp/s1") lines of what it did)"

"$bin" "${cfg[@]}" status >"$tmp/st" 2>"$tmp/err" || fail "status: $(cat "$tmp/err")"
grep -q '^paused: ' "$tmp/st" && grep -qE 'accounting resumes at [0-9-]+ [0-9:]+Z' "$tmp/st" &&
  ok "status shows the pause: $(grep -A1 '^paused' "$tmp/st" | tr -s ' ' | tr '\n' ' ')" ||
  fail "status: $(cat "$tmp/st")"
"$bin" "${cfg[@]}" status --json >"$tmp/stj" 2>"$tmp/err" || fail "status --json: $(cat "$tmp/err")"
until_ms=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["paused"]; print(p[0]["until_ms"] if p and p[0]["connection"]=="accounting" else "")' "$tmp/stj")
[ -n "$until_ms" ] && ok "status --json: accounting paused until $until_ms" || fail "status --json: $(cat "$tmp/stj")"

# a pass before the resume time stops at once, without a call to Zoho (on a slow machine the
# pause may end before the check: then a new pass pauses again and the check is repeated)
checked=""
for attempt in 1 2 3; do
  now_ms=$(python3 -c 'import time; print(int(time.time()*1000))')
  if [ -n "$until_ms" ] && [ "$now_ms" -lt "$((until_ms - 4000))" ]; then
    calls0=$(zoho_calls)
    "$bin" "${cfg[@]}" sync --once --max-wait 1 >/dev/null 2>"$tmp/e2"
    r2=$?
    calls1=$(zoho_calls)
    [ "$r2" = 75 ] && [ "$calls1" = "$calls0" ] && checked="exit 75, Zoho calls still $calls0" ||
      checked="FAIL exit $r2, Zoho calls $calls0 -> $calls1: $(cat "$tmp/e2")"
    break
  fi
  "$bin" "${cfg[@]}" sync --once --max-wait 1 >/dev/null 2>"$tmp/e2"
  "$bin" "${cfg[@]}" status --json >"$tmp/stj" 2>/dev/null
  until_ms=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["paused"]; print(p[0]["until_ms"] if p else "")' "$tmp/stj")
done
case "$checked" in
  "") fail "no pause lasted long enough to check a pass during it (3 tries)" ;;
  FAIL*) fail "pass during the pause: ${checked#FAIL }" ;;
  *) ok "a pass during the pause stops without calling Zoho ($checked)" ;;
esac

# the organization moves to a plan with more calls a day; after the resume time a pass
# picks up what is pending and finishes
curl -s -X POST -H 'Content-Type: application/json' -d '{"per_day":10000,"per_minute":100}' \
  "$base/zohobooks/_sandbox/limits" >/dev/null
"$bin" "${cfg[@]}" status --json >"$tmp/stj" 2>/dev/null
wait_s=$(python3 -c 'import json,sys,time; p=json.load(open(sys.argv[1]))["paused"]; print(max(0, p[0]["until_ms"]/1000 - time.time()) + 0.2 if p else 0)' "$tmp/stj")
sleep "$wait_s"
"$bin" "${cfg[@]}" sync --once --max-wait 1 >"$tmp/sn" 2>"$tmp/en"
r=$?
[ "$r" = 0 ] && ok "after the resume time a pass finishes the work: $(tail -n 1 "$tmp/sn")" ||
  fail "pass after the resume time: exit $r: $(cat "$tmp/en")"
"$bin" "${cfg[@]}" status >"$tmp/st" 2>/dev/null
grep -q '^paused: ' "$tmp/st" && fail "still paused after a finished pass: $(cat "$tmp/st")"

# nothing lost, nothing twice: every link the plan showed exists once, Zoho got each create once
"$bin" "${cfg[@]}" sync --once >"$tmp/last" 2>"$tmp/err" || fail "last pass: $(cat "$tmp/err")"
grep -q '^sync: nothing to do' "$tmp/last" && ok "a last pass has nothing to do" ||
  fail "last pass: $(cat "$tmp/last")"
in_sync=$("$bin" "${cfg[@]}" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["flows"][0]["in_sync"])')
want=$((linked + to_crm + to_acc))
[ "$in_sync" = "$want" ] && ok "$in_sync customers in sync = $linked linked + $to_crm + $to_acc created" ||
  fail "in sync $in_sync, want $want"
after=$(zoho_contacts)
[ "$after" = "$((before + to_acc))" ] && ok "Zoho holds $before + $to_acc contacts: none created twice" ||
  fail "Zoho contacts $before -> $after, want +$to_acc"

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "all ok"
