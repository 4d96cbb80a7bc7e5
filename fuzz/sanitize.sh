#!/usr/bin/env bash
# The threaded read paths under ThreadSanitizer and AddressSanitizer, with damaged inputs:
# the Swift test suites that drive them (decode into caller buffers from several threads at
# once, paired twin reads, the chunk pipeline of verify/export with a damaged chunk in flight,
# base references, the runtime's streamed reads), built with each sanitizer in its own build
# folder. Not in `make test` (each build takes minutes); `make sanitize` runs it.
#   fuzz/sanitize.sh [thread|address]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
SUITES='DecodeIntoTests|StoredPageReleaseTests|CodecTests|TwinDeltaTests|StreamLifetimeTests|BaseReferenceTests|CorruptionTests|LatteFileRunTests|MemoryBudgetTests|ChunkBoundsTests'
# Swift's backtracer reads memory the sanitizers watch; they print their own reports.
export SWIFT_BACKTRACE=enable=no
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0 quarantine_size_mb=64}"
for s in "${@:-thread address}"; do
  for sanitizer in $s; do
    echo "== $sanitizer sanitizer: $SUITES"
    swift build --build-tests --sanitize="$sanitizer" --build-path ".build-$sanitizer" 2>&1 | grep -E "error|warning: .*sanitizer|Compiling|Build complete" | tail -3
    swift test --skip-build --sanitize="$sanitizer" --build-path ".build-$sanitizer" --filter "$SUITES" 2>&1 | tee ".build-$sanitizer/report.txt" | grep -E "Test run with|WARNING: ThreadSanitizer|ERROR: AddressSanitizer|✘" || true
    if grep -qE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|✘|error: " ".build-$sanitizer/report.txt" || ! grep -q "Test run with .* passed" ".build-$sanitizer/report.txt"; then
      echo "error: the $sanitizer sanitizer run failed; see .build-$sanitizer/report.txt" >&2
      exit 1
    fi
  done
done
