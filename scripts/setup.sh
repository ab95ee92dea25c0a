#!/usr/bin/env bash
# Installs what shiftlab needs from Debian 12 (only the packages that are missing), then configures
# and builds into ./build. Extra arguments go to cmake's configure step (e.g. -DSHIFTLAB_CUDA=OFF).
# `scripts/setup.sh --fuzz-packages` only installs (adding clang and libFuzzer's runtime for the
# sanitizer and fuzz builds: scripts/sanitize.sh, scripts/fuzz.sh) and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake make pkg-config libeigen3-dev libtbb-dev libstb-dev nlohmann-json3-dev catch2 zlib1g-dev
          libcli11-dev libfmt-dev librandom123-dev libhwy-dev dataset-fashion-mnist
          libopenmpi-dev openmpi-bin \
          chromium \
          python3-torch python3-torchvision)
# libopenmpi-dev/openmpi-bin: data-parallel training (docs/distributed.md; tests run mpirun -np 2);
# chromium: the headless-browser test of the HTML report (test/report_browser_test.py);
# python3-torch/-torchvision: the PyTorch interop test (test/python/torch_interop_test.py)
packages_only=0
if [ "${1:-}" = "--fuzz-packages" ]; then
  packages+=(clang libclang-rt-14-dev)
  packages_only=1
  shift
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

[ "$packages_only" -eq 1 ] && exit 0
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$(nproc)"
