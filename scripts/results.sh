#!/usr/bin/env bash
# Trains the rows of docs/results.md and prints them as Markdown (run from the repository root after
# scripts/setup.sh). Every row is one `shiftlab train` command, printed beside its numbers.
#   scripts/results.sh quant [EPOCHS]   FP32 vs every quantizer family on mnist-fc and mnist-conv
#   scripts/results.sh denseshift [EPOCHS]  only the DenseShift rows of `quant`
#   scripts/results.sh shift [EPOCHS]   ShiftResNet20 vs ResNet20 baselines on Fashion-MNIST
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-quant}
epochs=${2:-3}
bin=build/shiftlab
out=runs/results

row() {  # row NAME ARGS...: trains, then prints "| NAME | final acc | best acc | time | command |"
  local name=$1
  shift
  local dir="$out/${name// /_}"
  rm -rf "$dir"
  mkdir -p "$out"
  local start=$SECONDS
  $bin train "$@" --out "$dir" --print-freq 1000000 > "$dir.log" 2>&1 || { echo "| $name | failed: $(tail -1 "$dir.log") |"; return; }
  local secs=$((SECONDS - start))
  local last best
  last=$(tail -1 "$dir/metrics.jsonl" | sed 's/.*"test_acc1":\([0-9.]*\).*/\1/')
  best=$(tail -1 "$dir/metrics.jsonl" | sed 's/.*"best_acc1":\([0-9.]*\).*/\1/')
  printf '| %s | %.2f | %.2f | %d s | `shiftlab train %s` |\n' "$name" "$last" "$best" "$secs" "$*"
}

header() {
  echo
  echo "| run | test acc@1 (last epoch) | best | time | command |"
  echo "|---|---:|---:|---:|---|"
}

if [ "$what" = quant ]; then
  for arch in mnist-fc mnist-conv; do
    echo
    echo "### $arch on Fashion-MNIST, $epochs epochs, seed 1"
    header
    common="--arch $arch --epochs $epochs --seed 1"
    row "$arch fp32" $common
    for bits in 5 3; do row "$arch deepshift-q $bits-bit" $common --quant deepshift-q --weight-bits $bits; done
    for bits in 5 3; do row "$arch deepshift-ps $bits-bit" $common --quant deepshift-ps --weight-bits $bits --optimizer radam; done
    for bits in 5 4 3 2; do row "$arch apot $bits-bit" $common --quant apot --weight-bits $bits; done
    for bits in 5 3; do row "$arch uniform $bits-bit" $common --quant uniform --weight-bits $bits; done
    for bits in 4 3 2; do row "$arch s3 $bits-bit" $common --quant s3 --weight-bits $bits; done
    for bits in 4 3 2; do row "$arch denseshift $bits-bit" $common --quant denseshift --weight-bits $bits; done
  done
elif [ "$what" = denseshift ]; then
  for arch in mnist-fc mnist-conv; do
    header
    for bits in 4 3 2; do row "$arch denseshift $bits-bit" --arch $arch --epochs $epochs --seed 1 --quant denseshift --weight-bits $bits; done
  done
elif [ "$what" = shift ]; then
  echo
  echo "### ShiftResNet20 vs ResNet20 on Fashion-MNIST (native 28x28, 1-channel stem), $epochs epochs, seed 1"
  header
  common="--epochs $epochs --seed 1 --batch-size 128 --lr 0.1 --momentum 0.9 --weight-decay 5e-4 --lr-schedule cosine"
  row "shiftresnet20 e=3" --arch shiftresnet20 --expansion 3 $common
  row "resnet20 (shortcut B)" --arch resnet20 --shortcut B $common
  row "resnet20 r=2.8 block" --arch resnet20 --reduction 2.8 --reduction-mode block $common
  row "shiftresnet20 e=3, deepshift-q 5-bit" --arch shiftresnet20 --expansion 3 --quant deepshift-q $common
else
  echo "usage: scripts/results.sh quant|denseshift|shift [EPOCHS]" >&2
  exit 2
fi
