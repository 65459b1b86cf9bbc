#!/usr/bin/env bash
# tests/cli/test_cli_help.sh BUILD_DIR SOURCE_DIR - the `hoopsync` command line: --help of
# every command against the SYNOPSIS of its docs/cli page, exit codes (0/1/2), `init` in a
# temporary directory (files, modes, idempotence) and `config check` on good and broken files.
set -uo pipefail
build=${1:?usage: test_cli_help.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: test_cli_help.sh BUILD_DIR SOURCE_DIR}
bin="$build/bin/hoopsync"
docs="$src/docs/cli"
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset HOOPSYNC_CONFIG HOOPSYNC_MASTER_KEY

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

[ -x "$bin" ] || { echo "FAIL: $bin not built" >&2; exit 1; }

# run EXPECTED_RC CMD... : runs the command, keeps stdout/stderr in $out/$err, checks the code
run() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
  if [ "$rc" -ne "$want" ]; then
    fail "'$*' exited $rc, expected $want (stderr: $err)"
    return 1
  fi
  return 0
}

# synopsis DOC: the lines of the SYNOPSIS code block of a docs/cli page
synopsis() {
  awk '/^## SYNOPSIS/{s=1; next} /^## /{s=0} s && /^```/{b=!b; next} s && b' "$1"
}

# check_usage DOC: every "usage:"/"   or:" line of $out appears in DOC's SYNOPSIS
check_usage() {
  local doc=$1 line found=0
  if [ ! -f "$doc" ]; then fail "missing page $doc"; return; fi
  for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -qx "## $sec" "$doc" || fail "$doc has no '## $sec' section"
  done
  while IFS= read -r line; do
    case $line in
      "usage: "*) line=${line#usage: } ;;
      "   or: "*) line=${line#   or: } ;;
      *) continue ;;
    esac
    found=1
    if synopsis "$doc" | grep -qxF -- "$line"; then
      ok "usage '$line' matches $(basename "$doc")"
    else
      fail "usage '$line' is not in the SYNOPSIS of $doc"
    fi
  done <<<"$out"
  [ "$found" = 1 ] || fail "no usage line in: $out"
}

# --- top level ------------------------------------------------------------------------------
run 0 "$bin" --help && check_usage "$docs/hoopsync.md"
grep -q "exit status:" <<<"$out" || fail "--help does not document exit codes"
for code in 0 1 2; do
  grep -qE "^  $code  " <<<"$out" || fail "--help does not explain exit code $code"
done
commands=$(awk '/^commands:/{s=1; next} /^$/{s=0} s {print $1}' <<<"$out")
[ -n "$commands" ] || fail "--help lists no commands"
[ "$commands" = "$(sort <<<"$commands")" ] || fail "commands are not sorted: $commands"
for c in config init version; do
  grep -qx "$c" <<<"$commands" || fail "--help does not list '$c'"
done
run 0 "$bin" -h
run 0 "$bin" --version && [ "$out" = "hoopsync 0.1.0" ] || fail "--version printed '$out'"
run 0 "$bin" version && [ "$out" = "hoopsync 0.1.0" ] || fail "version printed '$out'"
run 0 "$bin" version --json && [ "$out" = '{"name":"hoopsync","version":"0.1.0"}' ] ||
  fail "version --json printed '$out'"

# --- every command and subcommand: --help matches its page; bad options are usage errors ----
for c in $commands; do
  run 0 "$bin" "$c" --help && check_usage "$docs/hoopsync-$c.md"
  help=$out
  for sub in $(awk '/^subcommands:/{s=1; next} /^$/{s=0} s {print $1}' <<<"$help"); do
    run 0 "$bin" "$c" "$sub" --help && check_usage "$docs/hoopsync-$c.md"
    run 2 "$bin" "$c" "$sub" --no-such-option
    grep -q "^hoopsync: unknown option '--no-such-option'" <<<"$err" ||
      fail "$c $sub: bad option message: $err"
  done
  run 2 "$bin" "$c" --no-such-option
  grep -q "^hoopsync: unknown option '--no-such-option'" <<<"$err" ||
    fail "$c: bad option message: $err"
  [ -z "$out" ] || fail "$c: usage error printed on stdout"
done

# --- usage errors exit 2 with a "hoopsync: " diagnostic on stderr ---------------------------
expect_usage() {
  run 2 "$bin" "$@" && grep -q "^hoopsync: " <<<"$err" || fail "'$*': stderr was: $err"
}
expect_usage
expect_usage bogus
expect_usage --bogus
expect_usage -c
expect_usage config
expect_usage config frobnicate
expect_usage config check a.yaml b.yaml
expect_usage version extra
expect_usage version --json=1
expect_usage init a b
grep -q "^Try 'hoopsync init --help'" <<<"$err" || fail "init usage error hint: $err"
ok "usage errors exit 2"

# --- config check -----------------------------------------------------------------------------
example="$src/examples/hoopsync.yaml"
run 0 "$bin" config check "$example" &&
  [ "$out" = "ok: $example (2 connections, 4 flows)" ] || fail "config check example: '$out'"
run 0 "$bin" -c "$example" config check && [ "$out" = "ok: $example (2 connections, 4 flows)" ] ||
  fail "-c FILE config check: '$out'"
run 0 env HOOPSYNC_CONFIG="$example" "$bin" config check --json &&
  [ "$out" = "{\"ok\":true,\"file\":\"$example\",\"connections\":2,\"flows\":4}" ] ||
  fail "HOOPSYNC_CONFIG + --json: '$out'"

# broken FILE CONTENT EXPECTED-STDERR
broken() {
  printf '%b' "$2" >"$tmp/$1"
  if run 1 "$bin" config check "$tmp/$1"; then
    if [ "$err" = "hoopsync: $tmp/$1:$3" ]; then ok "config check $1"; else
      fail "config check $1: got '$err', want 'hoopsync: $tmp/$1:$3'"; fi
    [ -z "$out" ] || fail "config check $1 printed on stdout: $out"
  fi
}
conns='version: 1\nconnections:\n  crm:\n    provider: hubspot\n  accounting:\n    provider: xero\n'
broken typo.yaml "${conns}flows:\n  - name: customers\n    objects: customers\n    directon: both\n" \
  "10:5: unknown key 'directon' in flow 'customers' (expected one of: name, objects, direction, enforce, filter, mappings, authority, matching, invoicing)"
broken enum.yaml "${conns}flows:\n  - name: customers\n    objects: customers\n    direction: bth\n" \
  "10:16: invalid direction 'bth' in flow 'customers' (expected one of: both, crm_to_accounting, accounting_to_crm)"
broken type.yaml "version: 1\nsync:\n  read_batch: [1]\n" \
  "3:15: 'read_batch' in 'sync' must be an integer, got a list"
broken dup.yaml "version: 1\nstore: sqlite:a.db\nstore: sqlite:b.db\n" \
  "3:1: duplicate key 'store' at top level (first defined at line 2)"
broken missing.yaml "${conns}flows:\n  - name: customers\n" \
  "8:5: missing required key 'objects' in flow 'customers'"
broken secret.yaml "version: 1\nconnections:\n  crm:\n    provider: hubspot\n    client_secret: hunter2\n" \
  "5:5: inline 'client_secret' in connection 'crm' is not allowed (put the secret in an environment variable and name it with 'client_secret_env')"
broken syntax.yaml "version: 1\nflows: [a, b\n" \
  "3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2)"
# mappings are compiled with the configured connectors' field names, as plan does
flow='flows:\n  - name: customers\n    objects: customers\n    mappings:\n'
broken field.yaml "${conns}${flow}      - {crm: name, accounting: Name}\n      - {crm: phnoe, accounting: Phones.DEFAULT.PhoneNumber}\n" \
  "12:9: cannot compile mapping of flow 'customers': unknown crm field 'phnoe' of customer (neither a field name of the provider on that side nor a canonical field path)"
broken accfield.yaml "${conns}${flow}      - {crm: phone, accounting: PrimaryPhone.FreeFormNumber}\n" \
  "11:9: cannot compile mapping of flow 'customers': unknown accounting field 'PrimaryPhone.FreeFormNumber' of customer (neither a field name of the provider on that side nor a canonical field path)"
broken authority.yaml "${conns}${flow}      - {crm: name, accounting: Name}\n    authority: {emial: crm}\n" \
  "12:17: cannot compile mapping of flow 'customers': authority for unknown field 'emial' (not mapped and not a field of customer)"
printf '%b' "${conns}${flow}      - {crm: name, accounting: Name}\n      - {crm: phone, accounting: Phones.DEFAULT.PhoneNumber}\n      - {crm: email, accounting: email}\n    authority: {name: crm, company_name: crm}\n" >"$tmp/names.yaml"
run 0 "$bin" config check "$tmp/names.yaml" && ok "config check: provider and canonical field names" ||
  fail "config check of provider field names"
# keys an invoices flow would ignore are refused, saying what to use
broken invmap.yaml "${conns}flows:\n  - name: invoices\n    objects: invoices\n    mappings:\n      - {crm: dealname, accounting: Reference}\n" \
  "10:5: 'mappings' in flow 'invoices' would be ignored on an 'objects: invoices' flow: invoices are built from their deals; use 'invoicing' (default_currency, default_item, payment_terms, taxes)"
# filters are compiled as sync compiles them: a customers flow's and an invoices flow's (on the
# deal: dealstage is the won stages, any other key a deal field); a payments flow has none
broken filter.yaml "${conns}flows:\n  - name: customers\n    objects: customers\n    filter: {regoin: EMEA}\n" \
  "8:5: flow 'customers': unknown field 'regoin' in 'filter' (expected a field of customer as in 'mappings': the crm or accounting name of a mapping, or a field path such as billing_address.country or custom.<property>)"
broken invfilter.yaml "${conns}flows:\n  - name: invoices\n    objects: invoices\n    filter: {dealstage: closedwon, pipelin: default}\n" \
  "8:5: flow 'invoices': unknown field 'pipelin' in 'filter' (expected a field of the deal: a property the crm connection reads, such as pipeline, or a path such as currency)"
broken payfilter.yaml "${conns}flows:\n  - name: payments\n    objects: payments\n    filter: {pipeline: default}\n" \
  "10:5: 'filter' in flow 'payments' would be ignored on an 'objects: payments' flow: payment status follows every invoice hoopsync made; to choose the deals, put the filter on the invoices flow"
printf '%b' "${conns}flows:\n  - name: invoices\n    objects: invoices\n    filter: {dealstage: closedwon, pipeline: default, currency: EUR}\n" >"$tmp/invf.yaml"
run 0 "$bin" config check "$tmp/invf.yaml" && ok "config check: an invoices flow's filter on deal fields" ||
  fail "config check of an invoices flow's filter"
# invoice_updates is the key (updates: its older spelling)
broken updates.yaml "${conns}flows:\n  - name: invoices\n    objects: invoices\n    invoicing: {invoice_updates: sometimes}\n" \
  "10:34: invalid invoice_updates 'sometimes' in 'invoicing' of flow 'invoices' (expected one of: never, draft_only, unpaid)"
printf '%b' "${conns}flows:\n  - name: invoices\n    objects: invoices\n    invoicing: {invoice_updates: draft_only}\n" >"$tmp/iu.yaml"
run 0 "$bin" config check "$tmp/iu.yaml" && ok "config check: invoice_updates" || fail "config check of invoice_updates"
# a redirect_uri that connect cannot listen on: check and connect refuse it alike
redirect='version: 1\nconnections:\n  crm:\n    provider: hubspot\n    client_id: x\n    client_secret_env: HS_TEST_NOPE\n    redirect_uri: https://example.com/cb\n'
broken redirect.yaml "$redirect" \
  "7:19: invalid redirect_uri 'https://example.com/cb' in connection 'crm' (expected http://127.0.0.1:PORT/path or http://localhost:PORT/path: 'hoopsync connect' receives the consent redirect on this machine)"
check_err=$err
run 1 "$bin" -c "$tmp/redirect.yaml" connect crm &&
  { [ "$err" = "$check_err" ] && ok "connect refuses that redirect_uri with the same message" ||
    fail "connect: got '$err', config check said '$check_err'"; }
run 1 "$bin" config check --json "$tmp/typo.yaml"
grep -q '^{"ok":false,"file":".*typo.yaml","error":".*typo.yaml:10:5: unknown key' <<<"$out" ||
  fail "config check --json on a broken file: '$out'"
[ -z "$err" ] || fail "config check --json printed on stderr: $err"
run 1 "$bin" config check "$tmp/does-not-exist.yaml"
[ "$err" = "hoopsync: cannot read config '$tmp/does-not-exist.yaml': No such file or directory" ] ||
  fail "missing file: '$err'"

# --- init ---------------------------------------------------------------------------------------
ws="$tmp/ws"
if run 0 "$bin" init "$ws"; then
  [ -f "$ws/hoopsync.yaml" ] || fail "init did not create hoopsync.yaml"
  cmp -s "$ws/hoopsync.yaml" "$example" ||
    fail "init wrote a hoopsync.yaml that differs from examples/hoopsync.yaml (update src/cli/example.c)"
  [ "$(stat -c %a "$ws/hoopsync.key")" = 600 ] || fail "key file mode is $(stat -c %a "$ws/hoopsync.key")"
  [ "$(stat -c %s "$ws/hoopsync.key")" = 32 ] || fail "key file is not 32 bytes"
  [ -s "$ws/hoopsync.db" ] || fail "init did not create the database ($out)"
  grep -q "^created $ws/hoopsync.key (master key, mode 0600)$" <<<"$out" || fail "init output: $out"
  ok "init created the workspace"
  key_sum=$(sha256sum <"$ws/hoopsync.key")
  echo "# edited" >>"$ws/hoopsync.yaml"
  if run 0 "$bin" init "$ws"; then
    [ "$(sha256sum <"$ws/hoopsync.key")" = "$key_sum" ] || fail "second init replaced the key"
    tail -n 1 "$ws/hoopsync.yaml" | grep -qx "# edited" || fail "second init rewrote the config"
    grep -q "^kept $ws/hoopsync.key" <<<"$out" || fail "second init output: $out"
    ok "init is idempotent"
  fi
  run 0 "$bin" config check "$ws/hoopsync.yaml"
fi
# the key is 0600 whatever the umask
if (umask 000 && run 0 "$bin" init "$tmp/ws-umask"); then
  [ "$(stat -c %a "$tmp/ws-umask/hoopsync.key")" = 600 ] || fail "umask 000: key mode is not 600"
fi
# with HOOPSYNC_MASTER_KEY no key file is written; -c names the configuration
mkdir -p "$tmp/envkey"
if run 0 env HOOPSYNC_MASTER_KEY="$(printf '%064d' 7)" "$bin" -c "$tmp/envkey/custom.yaml" init; then
  [ -f "$tmp/envkey/custom.yaml" ] || fail "init -c did not write custom.yaml"
  [ ! -e "$tmp/envkey/hoopsync.key" ] || fail "init wrote a key file although HOOPSYNC_MASTER_KEY is set"
fi
# an invalid existing configuration stops init before the key is made
mkdir -p "$tmp/badws"
printf 'version: 1\nbogus: 1\n' >"$tmp/badws/hoopsync.yaml"
run 1 "$bin" init "$tmp/badws" && grep -q "^hoopsync: $tmp/badws/hoopsync.yaml:2:1: unknown key 'bogus'" <<<"$err" ||
  fail "init on a broken config: $err"
[ ! -e "$tmp/badws/hoopsync.key" ] || fail "init made a key for an invalid configuration"
run 1 "$bin" init "$tmp/badws/hoopsync.yaml/x"

# options may follow a command's operand; a global option after the command says where it goes
run 2 "$bin" connect crm --timeout 0 && grep -q "option '--timeout' needs seconds from 1 to 86400" <<<"$err" ||
  fail "connect crm --timeout 0: $err"
run 2 "$bin" connect crm accounting && grep -q "unexpected argument 'accounting'" <<<"$err" ||
  fail "connect crm accounting: $err"
run 2 "$bin" status -c "$tmp/x.yaml" && grep -q "global options go before the command: hoopsync -c FILE COMMAND" <<<"$err" ||
  fail "status -c: $err"
run 2 "$bin" reviews resolve 1 --take crm && grep -q "option '--take' is not one of 'hoopsync reviews'" <<<"$err" ||
  fail "reviews resolve --take: $err"
run 2 "$bin" conflicts resolve 1 --link && grep -q "option '--link' is not one of 'hoopsync conflicts'" <<<"$err" ||
  fail "conflicts resolve --link: $err"
run 2 "$bin" reviews resolve 1 --link --separate && grep -q -- "--link and --separate exclude each other" <<<"$err" ||
  fail "reviews resolve --link --separate: $err"

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed" >&2
  exit 1
fi
echo "all CLI checks passed"
