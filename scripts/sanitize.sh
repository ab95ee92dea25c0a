#!/usr/bin/env bash
# The sanitizer build: clang with -fsanitize=address,undefined (any finding aborts), CUDA off, in
# ./build-fuzz (shared with scripts/fuzz.sh: the library also carries libFuzzer's coverage hooks).
# `scripts/sanitize.sh` configures, builds everything and runs the unit tests under the sanitizers:
# all but the end-to-end command-line runs ([cli], which train real models and take most of the
# suite's time, ~10x slower under ASan) and the long SIMD determinism sweeps, plus the command-line
# fault tests of issue 19 ([faults]). Catch2 filter: SHIFTLAB_SANITIZE_TESTS. `--build-only` stops
# after the build.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --fuzz-packages
jobs=${SHIFTLAB_JOBS:-$(nproc)}
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" -DSHIFTLAB_CUDA=OFF -DSHIFTLAB_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs"
[ "${1:-}" = "--build-only" ] && exit 0

filter=${SHIFTLAB_SANITIZE_TESTS:-"~[cli]~[determinism],[faults]"}
echo "sanitize: unit tests under ASan + UBSan: $filter"
start=$(date +%s)
# halt_on_error: the first report fails the run; leaks are findings too.
# The command-line processes the tests start inherit these settings.
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/test/fuzz/lsan.supp build-fuzz/shiftlab_tests "$filter"
echo "sanitize: passed in $(( $(date +%s) - start )) s"
