#!/usr/bin/env bash
# tests/cli/test_cli_sync.sh BUILD_DIR SOURCE_DIR - plan, sync, status, errors and conflicts
# end to end: hoopsync-sandbox on a free port, a workspace connected to both sides with
# `hoopsync connect`, then `plan` (touches nothing), `sync --once` twice (the second has
# nothing to do), `status`, `errors list`, `conflicts list`, `reviews list|show|resolve`.
set -uo pipefail
build=${1:?usage: test_cli_sync.sh BUILD_DIR SOURCE_DIR}
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

# before connecting: a clear message naming the command that fixes it
"$bin" "${cfg[@]}" plan >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "run 'hoopsync connect crm'" "$tmp/err" &&
  ok "plan before connect names 'hoopsync connect crm'" || fail "plan before connect: rc $rc, $(cat "$tmp/err")"

for name in crm accounting; do
  hs_test_connect "$name"
  [ "$rc" = 0 ] && ok "connect $name" || { fail "connect $name: $err"; exit 1; }
done

# plan: what sync would do, twice the same (it stores nothing)
"$bin" "${cfg[@]}" plan >"$tmp/plan1" 2>"$tmp/err" || fail "plan: $(cat "$tmp/err")"
"$bin" "${cfg[@]}" plan >"$tmp/plan2" 2>"$tmp/err" || fail "plan again: $(cat "$tmp/err")"
summary=$(tail -n 1 "$tmp/plan1")
grep -qE '^plan: [0-9]+ created, [0-9]+ updated, [1-9][0-9]* linked, 0 conflicts, 0 errors' <<<"$summary" &&
  ok "plan: $summary" || fail "plan summary: $summary"
cmp -s "$tmp/plan1" "$tmp/plan2" && ok "a plan changes nothing (the second is identical)" ||
  fail "the second plan differs"
grep -qE "^link +customers +customer +crm:[0-9]+ +[0-9]+ +name '" "$tmp/plan1" &&
  ok "links show their reason" || fail "no link row with a reason"
"$bin" "${cfg[@]}" plan --json >"$tmp/plan.json" 2>"$tmp/err"
python3 - "$tmp/plan.json" <<'EOF' && ok "plan --json is the stable form" || fail "plan --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["counts"]["linked"] > 0 and d["counts"]["errors"] == 0, d["counts"]
assert all(a["reason"] for a in d["actions"])
assert {a["action"] for a in d["actions"]} <= {"create", "update", "link", "review", "conflict", "settled", "drift", "error"}
EOF

# sync does what the plan said, then has nothing left to do
"$bin" "${cfg[@]}" sync --once >"$tmp/sync1" 2>"$tmp/err" || fail "sync: $(cat "$tmp/err")"
s1=$(tail -n 1 "$tmp/sync1")
[ "${s1#sync: }" = "${summary#plan: }" ] && ok "sync did what plan showed: $s1" || fail "sync '$s1' vs plan '$summary'"
"$bin" "${cfg[@]}" sync --once >"$tmp/sync2" 2>"$tmp/err" || fail "second sync: $(cat "$tmp/err")"
grep -q '^sync: nothing to do' "$tmp/sync2" && ok "second sync --once: $(cat "$tmp/sync2")" ||
  fail "second sync: $(cat "$tmp/sync2")"
"$bin" "${cfg[@]}" sync --once --json >"$tmp/sync3.json" 2>"$tmp/err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["counts"]["writes"]==0, d' "$tmp/sync3.json" &&
  ok "third sync writes nothing" || fail "third sync: $(cat "$tmp/sync3.json")"

# status, errors, conflicts
"$bin" "${cfg[@]}" status --json >"$tmp/status.json" 2>"$tmp/err" || fail "status: $(cat "$tmp/err")"
python3 - "$tmp/status.json" <<'EOF' && ok "status: linked records, last run, nothing pending" || fail "status: $(cat "$tmp/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
f = d["flows"][0]
assert f["flow"] == "customers" and f["in_sync"] > 20 and f["last_run"] and f["pending"] == 0, f
assert f["errors"] == 0 and f["conflicts"] == 0, f
EOF
"$bin" "${cfg[@]}" errors list >"$tmp/out" 2>&1 && grep -q '^no open errors' "$tmp/out" &&
  ok "errors list" || fail "errors list: $(cat "$tmp/out")"
"$bin" "${cfg[@]}" conflicts list >"$tmp/out" 2>&1 && grep -q '^no open conflicts' "$tmp/out" &&
  ok "conflicts list" || fail "conflicts list: $(cat "$tmp/out")"
"$bin" "${cfg[@]}" conflicts show 99 >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "^hoopsync: no conflict 99" "$tmp/err" && ok "conflicts show of an unknown id exits 1" ||
  fail "conflicts show 99: $(cat "$tmp/err")"
"$bin" "${cfg[@]}" errors retry >"$tmp/out" 2>&1 && grep -q '^queued 0 records' "$tmp/out" &&
  ok "errors retry with nothing to retry" || fail "errors retry: $(cat "$tmp/out")"

# reviews: a grey-zone pair is queued once, whichever side's record found it; a person links
# one pair and keeps another apart, and the pass that resolve runs acts on it
"$bin" "${cfg[@]}" reviews list --json >"$tmp/rv.json" 2>"$tmp/err" || fail "reviews list: $(cat "$tmp/err")"
read -r n_rv rv1 rv2 <<<"$(python3 - "$tmp/rv.json" "$tmp/status.json" <<'EOF'
import json, sys
items = json.load(open(sys.argv[1]))
status = json.load(open(sys.argv[2]))["flows"][0]
pairs = [(i["record"], i["other_id"]) for i in items]
assert len(items) >= 2, items
assert len(set(pairs)) == len(pairs) and all(i["side"] == "crm" and i["kind"] == "review" for i in items), items
assert status["review"] == len(items), (status, len(items))
print(len(items), items[0]["id"], items[1]["id"])
EOF
)"
[ -n "${rv2:-}" ] && ok "reviews list: $n_rv pairs, each once, as status counts them" || fail "reviews list: $(cat "$tmp/rv.json")"
in_sync0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["flows"][0]["in_sync"])' "$tmp/status.json")
"$bin" "${cfg[@]}" reviews show "$rv1" >"$tmp/out" 2>&1 && grep -qE "crm '[0-9]+' <-> accounting '[0-9]+'" "$tmp/out" &&
  ok "reviews show: $(grep -m1 'may be' "$tmp/out" | tr -s ' ')" || fail "reviews show: $(cat "$tmp/out")"
"$bin" "${cfg[@]}" reviews resolve "$rv1" >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] && grep -q 'missing --link or --separate' "$tmp/err" && ok "resolve without a decision is a usage error" ||
  fail "resolve without decision: $(cat "$tmp/err")"
"$bin" "${cfg[@]}" reviews resolve "$rv1" --link >"$tmp/out" 2>"$tmp/err" && grep -q "resolved review $rv1: the same record, linked" "$tmp/out" &&
  grep -qE '^  link ' "$tmp/out" && ok "reviews resolve --link: $(tr '\n' ' ' <"$tmp/out")" || fail "resolve --link: $(cat "$tmp/out" "$tmp/err")"
"$bin" "${cfg[@]}" reviews resolve "$rv2" --separate >"$tmp/out" 2>"$tmp/err" && grep -q "resolved review $rv2: different records, kept apart" "$tmp/out" &&
  [ "$(grep -cE '^  create ' "$tmp/out")" = 2 ] && ok "reviews resolve --separate: each side gets its own" ||
  fail "resolve --separate: $(cat "$tmp/out" "$tmp/err")"
"$bin" "${cfg[@]}" reviews resolve "$rv1" --separate >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "review $rv1 is already resolved (link)" "$tmp/err" && ok "a resolved review cannot be resolved again" ||
  fail "second resolve: $(cat "$tmp/err")"
"$bin" "${cfg[@]}" status --json >"$tmp/status2.json" 2>"$tmp/err"
python3 - "$tmp/status2.json" "$in_sync0" "$n_rv" <<'EOF' && ok "status: 3 more records in sync, 2 fewer reviews" || fail "status after reviews: $(cat "$tmp/status2.json")"
import json, sys
f = json.load(open(sys.argv[1]))["flows"][0]
assert f["in_sync"] == int(sys.argv[2]) + 3 and f["review"] == int(sys.argv[3]) - 2, f
EOF
"$bin" "${cfg[@]}" sync --once >"$tmp/sync4" 2>"$tmp/err" && grep -q '^sync: nothing to do' "$tmp/sync4" &&
  ok "after the reviews, a pass has nothing to do" || fail "sync after reviews: $(cat "$tmp/sync4" "$tmp/err")"

[ "$fails" = 0 ] && echo "all ok" || { echo "$fails failure(s)" >&2; exit 1; }
