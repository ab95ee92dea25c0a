#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/fuzz_*.cpp: one per parser; clang, ASan + UBSan, CUDA
# off, in ./build-fuzz) and runs each for SECONDS (default 60) on its seed corpus
# (test/fuzz/corpus/<target>/). A crash, leak, timeout or an error that does not name its file
# fails the run; the input is saved as build-fuzz/findings/<target>-crash-* : once fixed, copy it to
# test/fuzz/corpus/<target>/regress-<what>, where the unit tests replay it (test_fuzz_corpus.cpp).
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 600 npy
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
scripts/sanitize.sh --build-only >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in test/fuzz/fuzz_*.cpp; do t=$(basename "$f" .cpp); targets+=("${t#fuzz_}"); done
fi
mkdir -p build-fuzz/findings
failed=()
for t in "${targets[@]}"; do
  # New inputs go to build-fuzz/corpus/<t>; the checked-in seeds stay as they are. A fixed libFuzzer
  # seed (FUZZ_SEED, default 1; 0 = random) makes the CI smoke the same mutation sequence every run.
  mkdir -p "build-fuzz/corpus/$t"
  log="build-fuzz/findings/$t.log"
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 LSAN_OPTIONS=suppressions=$PWD/test/fuzz/lsan.supp \
    "build-fuzz/fuzz_$t" -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$t-" "build-fuzz/corpus/$t" "test/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t: $runs runs in $seconds s, no finding"
  else
    echo "fuzz: $t: FAILED (exit $rc) after $runs runs; log $log:"
    grep -E "ERROR|SUMMARY|runtime error|does not name|artifact" "$log" | head -20
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs in build-fuzz/findings/)"
  exit 1
fi
