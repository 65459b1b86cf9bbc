#!/usr/bin/env bash
# tests/cli/test_sandbox_doc.sh BUILD_DIR SOURCE_DIR - runs the examples of docs/sandbox.md
# against a sandbox started the way the doc says (--port 0 --seed 7 --token dev-token). Every
# ```sh block whose first line starts with "curl" must answer 2xx; blocks that set a variable
# from curl ("REALM=$(curl ...") are evaluated first, in document order, so later examples can
# use the variable.
set -euo pipefail
build=$1
src=$2
bin="$build/bin/hoopsync-sandbox"
doc="$src/docs/sandbox.md"
[ -x "$bin" ] || { echo "skip: $bin not built"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
[ -f "$doc" ] || { echo "FAIL: $doc missing" >&2; exit 1; }

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

grep -q -- 'hoopsync-sandbox --port 0 --seed 7 --token dev-token' "$doc" ||
  { echo "FAIL: the doc no longer starts the sandbox the way this test does" >&2; exit 1; }
"$bin" --port 0 --seed 7 --token dev-token >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$tmp/out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
  sleep 0.1
done
PORT=$(sed -E 's/.*:([0-9]+)$/\1/' "$tmp/out")
export PORT

# one file per ```sh block, numbered in document order
python3 - "$doc" "$tmp" <<'PY'
import re, sys
doc, out = sys.argv[1], sys.argv[2]
blocks = re.findall(r"^```sh\n(.*?)^```", open(doc, encoding="utf-8").read(), re.M | re.S)
for i, b in enumerate(blocks):
    open(f"{out}/block{i:03d}.sh", "w", encoding="utf-8").write(b)
PY

checked=0
failed=0
for f in "$tmp"/block*.sh; do
  first=$(head -n 1 "$f")
  if [[ "$first" =~ ^[A-Z_]+=\$\(curl ]]; then
    # sets variables for later examples
    # shellcheck disable=SC1090
    source "$f" >/dev/null
    continue
  fi
  [[ "$first" =~ ^curl ]] || continue
  checked=$((checked + 1))
  # run the example as printed, with curl reporting the status code
  code=$(curl() { command curl -sS -o "$tmp/body" -w '%{http_code}' "$@"; }
         export REALM PORT
         # shellcheck disable=SC1090
         source "$f") || code="error"
  if [[ ! "$code" =~ ^2[0-9][0-9]$ ]]; then
    echo "FAIL: example answered $code:" >&2
    cat "$f" >&2
    head -c 500 "$tmp/body" >&2 2>/dev/null || true
    echo >&2
    failed=$((failed + 1))
  fi
done
[ "$checked" -ge 2 ] || { echo "FAIL: only $checked curl examples found" >&2; exit 1; }
kill -TERM "$pid"
wait "$pid"
pid=""
[ "$failed" -eq 0 ] || exit 1
echo "ok: $checked examples"
