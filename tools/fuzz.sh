#!/usr/bin/env bash
# tools/fuzz.sh BUILD_DIR - runs every libFuzzer target in BUILD_DIR/bin for FUZZ_SECONDS each,
# starting from fuzz/corpus/<parser>/ (read-only) and writing new inputs to a scratch dir.
# Any crash, leak or timeout fails the run and leaves the input in build-fuzz/findings/.
set -euo pipefail
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$build"/bin/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets built in $build" >&2
  exit 1
fi
mkdir -p "$build/findings"
for t in "${targets[@]}"; do
  name=$(basename "$t"); parser=${name#fuzz_}
  scratch=$(mktemp -d)
  echo "fuzz: $name for ${secs}s"
  if ! "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="$build/findings/$name-" "$scratch" "$root/fuzz/corpus/$parser" \
       >"$build/findings/$name.log" 2>&1; then
    tail -n 40 "$build/findings/$name.log" >&2
    echo "fuzz: $name FAILED (inputs in $build/findings)" >&2
    rm -rf "$scratch"
    exit 1
  fi
  grep -E '^(Done|#[0-9]+ *DONE)' "$build/findings/$name.log" | tail -n 1 || true
  rm -rf "$scratch"
done
echo "fuzz: all targets clean"
