#!/usr/bin/env bash
# The test command: sets up (packages, configure, build) and runs every test under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "$@"
ctest --test-dir build --output-on-failure -j "$(nproc)"
