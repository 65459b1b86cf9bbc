#!/usr/bin/env bash
# tools/fuzz.sh BUILD_DIR - runs every libFuzzer target in BUILD_DIR/bin for FUZZ_SECONDS each,
# starting from fuzz/corpus/<parser>/ (read-only) and writing new inputs to a scratch dir.
# FUZZ_JOBS targets run at once (default: the number of CPUs), each for its full time.
# Any crash, leak or timeout fails the run and leaves the input in build-fuzz/findings/.
set -euo pipefail
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-10}
jobs_max=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$build"/bin/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets built in $build" >&2
  exit 1
fi
mkdir -p "$build/findings"

# one target; its exit status goes to findings/<name>.status
run_one() {
  local t=$1 name parser scratch rc=0
  name=$(basename "$t"); parser=${name#fuzz_}
  scratch=$(mktemp -d)
  "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$build/findings/$name-" "$scratch" "$root/fuzz/corpus/$parser" \
    >"$build/findings/$name.log" 2>&1 || rc=$?
  rm -rf "$scratch"
  echo "$rc" >"$build/findings/$name.status"
}

echo "fuzz: ${#targets[@]} targets for ${secs}s each, $jobs_max at a time"
for t in "${targets[@]}"; do
  rm -f "$build/findings/$(basename "$t").status"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
    wait -n || true
  done
  run_one "$t" &
done
wait || true

failed=0
for t in "${targets[@]}"; do
  name=$(basename "$t")
  rc=$(cat "$build/findings/$name.status" 2>/dev/null || echo missing)
  if [ "$rc" != 0 ]; then
    tail -n 40 "$build/findings/$name.log" >&2
    echo "fuzz: $name FAILED (status $rc; inputs in $build/findings)" >&2
    failed=1
    continue
  fi
  echo "fuzz: $name: $(grep -E '^(Done|#[0-9]+ *DONE)' "$build/findings/$name.log" | tail -n 1 || true)"
done
[ "$failed" = 0 ] || exit 1
echo "fuzz: all targets clean"
