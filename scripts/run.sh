#!/usr/bin/env bash
# The main job: sets up (packages, configure, build), then trains the default experiment: DeepShift's
# MNIST conv net as a DeepShift-PS shift network (5-bit power-of-two weights, 16.16 fixed-point
# activations; RAdam lr 0.01, the recipe DeepShift's author gives for PS) on Fashion-MNIST from
# Debian's dataset-fashion-mnist, printing accuracy every epoch. Extra arguments go to `shiftlab
# train` (e.g. --epochs 10, or --quant none for the FP32 baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/shiftlab train --arch mnist-conv --dataset fashion-mnist --quant deepshift-ps --optimizer radam --lr 0.01 \
  --epochs 5 --out "runs/main-$(date +%Y%m%d-%H%M%S)" "$@"
