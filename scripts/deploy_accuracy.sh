#!/usr/bin/env bash
# The deploy accuracy table of the README: trains each row (or reuses runs/deploy/NAME when it is
# complete), exports it, and evaluates the checkpoint (float-simulated) and the deploy model (integer
# runtime) on the full Fashion-MNIST test split. Prints Markdown. Run from the repository root after
# scripts/setup.sh.
#   scripts/deploy_accuracy.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-3}
bin=build/shiftlab
out=runs/deploy
mkdir -p "$out"

acc() { sed -n 's/.* \* Acc@1 \([0-9.]*\).*/\1/p' "$1" | tail -1; }

row() {  # row NAME TRAIN-ARGS...
  local name=$1
  shift
  local dir="$out/$name"
  if [ ! -f "$dir/last.safetensors" ] || [ "$(wc -l < "$dir/metrics.jsonl" 2>/dev/null || echo 0)" -lt "$epochs" ]; then
    rm -rf "$dir"
    $bin train "$@" --epochs "$epochs" --seed 1 --out "$dir" --print-freq 1000000 > "$dir.train.log" 2>&1 ||
      { echo "| $name | training failed: $(tail -1 "$dir.train.log") |"; return; }
  fi
  $bin export --weights "$dir/last.safetensors" -o "$dir.deploy.safetensors" > "$dir.export.log" 2>&1 ||
    { echo "| $name | export failed: $(tail -1 "$dir.export.log") |"; return; }
  $bin eval --weights "$dir/last.safetensors" --print-freq 1000000 > "$dir.eval.log" 2>&1
  $bin eval --deploy "$dir.deploy.safetensors" --print-freq 1000000 > "$dir.deploy.log" 2>&1
  local f d size
  f=$(acc "$dir.eval.log")
  d=$(acc "$dir.deploy.log")
  size=$(tail -1 "$dir.export.log" | sed 's/.*: \([0-9.]* KiB\), \([0-9.]*\) of the FP32 weights.*/\1 (\2 of FP32)/')
  printf '| %s | %.2f | %.2f | %+.2f | %s | `shiftlab train %s --epochs %s --seed 1` |\n' "$name" "$f" "$d" \
    "$(awk -v a="$d" -v b="$f" 'BEGIN { print a - b }')" "$size" "$*" "$epochs"
}

echo "| model | float-simulated eval | deploy (integer) eval | difference | deploy file | trained with |"
echo "|---|---:|---:|---:|---|---|"
row mnist-conv-deepshift-q5 --quant deepshift-q --weight-bits 5
row mnist-conv-deepshift-ps5 --quant deepshift-ps --weight-bits 5 --optimizer radam
row mnist-conv-apot4 --quant apot --weight-bits 4
row mnist-conv-s3-3 --quant s3 --weight-bits 3
row mnist-conv-denseshift3 --quant denseshift --weight-bits 3
row mnist-conv-fp32
row resnet20-deepshift-q5 --arch resnet20 --quant deepshift-q --weight-bits 5 --lr 0.1
row shiftresnet20-fp32 --arch shiftresnet20 --lr 0.1
row shiftresnet20-fp32-cosine --arch shiftresnet20 --lr 0.1 --lr-schedule cosine
row shiftresnet20-denseshift3 --arch shiftresnet20 --lr 0.1 --quant denseshift --weight-bits 3
