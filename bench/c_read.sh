#!/usr/bin/env bash
# Two builds of liblatte-c.so on the same .latte files through the C ABI (bench/c_read.c):
# every tensor read REPS times per run into reused ("warm") and fresh destinations, the two
# libraries' runs interleaved (old, new, new, old …) ROUNDS times; prints the median GB/s of
# each side and new/old. For a change to the read path: copy the library before it
# (cp .build/release/liblatte-c.so /tmp/old.so), rebuild, and compare.
#   bash bench/c_read.sh OLD.so NEW.so FILE.latte...     (THREADS 2, ROUNDS 6, REPS 10)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: c_read.sh OLD.so NEW.so FILE.latte...}
NEW=${2:?usage: c_read.sh OLD.so NEW.so FILE.latte...}
shift 2
[ $# -gt 0 ] || { echo "usage: c_read.sh OLD.so NEW.so FILE.latte..." >&2; exit 64; }
THREADS=${THREADS:-2}; ROUNDS=${ROUNDS:-6}; REPS=${REPS:-10}
OUT=bench/work/c_read
mkdir -p "$OUT/old" "$OUT/new"
# Each side links its own copy, named as the ABI's library is, found through its rpath.
for side in old new; do
  lib=$OLD; [ $side = new ] && lib=$NEW
  cp "$lib" "$OUT/$side/liblatte-c.so"
  cc -O2 -Iinclude bench/c_read.c -o "$OUT/$side/c_read" -L"$OUT/$side" -llatte-c -Wl,-rpath,"$PWD/$OUT/$side"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for file in "$@"; do
  for mode in warm fresh; do
    rm -f "$OUT/old.txt" "$OUT/new.txt"
    for round in $(seq "$ROUNDS"); do
      order="old new"; [ $((round % 2)) = 0 ] && order="new old"
      for side in $order; do "$OUT/$side/c_read" "$file" "$THREADS" "$REPS" $mode >> "$OUT/$side.txt"; done
    done
    o=$(median < "$OUT/old.txt"); n=$(median < "$OUT/new.txt")
    echo "$(basename "$file") $mode, $THREADS threads: old $o GB/s, new $n GB/s, new/old $(awk -v a="$n" -v b="$o" 'BEGIN { printf "%.2f", a / b }')"
  done
done
