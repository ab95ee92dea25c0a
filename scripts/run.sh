#!/usr/bin/env bash
# The main job: sets up (packages, configure, build), then runs the default experiment.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/shiftlab bench gemm
build/shiftlab bench conv
