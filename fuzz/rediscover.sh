#!/usr/bin/env bash
# The rediscovery experiment (docs/RELIABILITY.md, "Fuzzing"): runs one fuzz target for a
# fixed budget of wall-clock seconds on one core (taskset), from its seeds and an empty
# corpus, with the per-input limits of run.sh. libFuzzer's fork mode (one worker) keeps going
# after a crash, a timeout or an out-of-memory, so one run can show several bug classes
# instead of stopping at the first (or the most frequent) one.
#   fuzz/rediscover.sh TARGET SECONDS [CPU]      (OUT_TAG=x: write to TARGET-x instead)
# Writes fuzz/crashes/rediscovery/TARGET/: the artifacts, fuzz.log, and findings.tsv: per
# artifact, the second it first appeared, the executions done by then (from the fork
# mode's progress lines, so rounded to a job), and what a rerun of it reports (the error
# line or the harness's FINDING line, and the first stack frame inside the library's
# Sources/).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
target=$1 budget=$2 cpu=${3:-1}
BIN="$ROOT/.build-fuzz/release"
out="crashes/rediscovery/$target${OUT_TAG:+-$OUT_TAG}"
rm -rf "$out" && mkdir -p "$out/corpus" "$out/artifacts"
export SWIFT_BACKTRACE=enable=no OPENBLAS_NUM_THREADS=1 FUZZ_RUN_MODEL="$ROOT/fixtures/models/tiny"
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64}"
limits=(-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024)
seeds=$(mktemp -d)
case "$target" in
  FuzzLatteStructure) "$BIN/FuzzLatteStructure" --write-seeds "$seeds" 8 >/dev/null; extra=(-max_len=1048576 -dict=dicts/json.dict) ;;
  FuzzLatteFile)
    # The old target's seeds (run.sh): fixtures converted by the CLI.
    for m in tiny-bf16 k2 cfg; do "$ROOT/.build/debug/latte" convert "$ROOT/fixtures/models/$m" -o "$seeds/$m.latte" --no-progress 2>/dev/null || true; done
    "$ROOT/.build/debug/latte" convert "$ROOT/fixtures/readers/all_dtypes.safetensors" -o "$seeds/dtypes.latte" --no-progress 2>/dev/null || true
    extra=(-dict=dicts/json.dict) ;;
  FuzzTorchFile) cp "$ROOT"/fixtures/readers/*.pt "$ROOT"/fixtures/readers/*.pt2 "$ROOT"/fixtures/malformed/*.pt "$seeds/"; extra=(-dict=dicts/pickle.dict) ;;
  *) extra=() ;;
esac

start=$(date +%s)
taskset -c "$cpu" "$BIN/$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -seed=1 -max_total_time="$budget" \
  "${limits[@]}" -artifact_prefix="$out/artifacts/" "${extra[@]}" "$out/corpus" "$seeds" >"$out/fuzz.log" 2>&1 &
pid=$!
# An artifact found again is rewritten under the same name: note when each name first appears.
: >"$out/seen.txt"
while kill -0 $pid 2>/dev/null; do
  for f in "$out"/artifacts/*; do
    [ -e "$f" ] || continue
    grep -q " $(basename "$f")$" "$out/seen.txt" || echo "$(($(date +%s) - start)) $(basename "$f")" >>"$out/seen.txt"
  done
  sleep 1
done
wait $pid || true
rm -rf "$seeds"

printf 'seconds\texecutions\tartifact\terror\twhere\n' >"$out/findings.tsv"
while read -r seconds name; do
  # Executions at the last progress line at or before that second.
  execs=$(grep -oE "^#[0-9]+: .* time: [0-9]+s" "$out/fuzz.log" | awk -v t="$seconds" '{ s=$NF; sub("s","",s); if (s+0 <= t) { n=$1; sub("#","",n); sub(":","",n) } } END { print n+0 }')
  error="" where=""
  for attempt in 1 2 3; do
    log=$(timeout 60 "$BIN/$target" "${limits[@]}" -runs=1 "$out/artifacts/$name" 2>&1 || true)
    error=$(grep -m1 -E "FINDING:|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)" <<<"$log" | sed 's/^==[0-9]*== *//' | cut -c1-160 | tr '\t' ' ' || true)
    where=$(grep -oE "[^ ]*/Sources/[A-Za-z/]+[A-Za-z+]+\.swift:[0-9]+" <<<"$log" | grep -v "/fuzz/Sources/" | head -1 | sed "s|.*/Sources/|Sources/|" || true)
    [ -z "$error" ] || break
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$seconds" "$execs" "$name" "${error:-(not reproduced in 3 reruns)}" "$where" >>"$out/findings.tsv"
done <"$out/seen.txt"
total=$(grep -oE "^#[0-9]+:" "$out/fuzz.log" | tail -1 | tr -dc 0-9)
echo "$target: ${total:-0} executions in ${budget}s; $(($(wc -l <"$out/findings.tsv") - 1)) artifacts; see $out/findings.tsv"
