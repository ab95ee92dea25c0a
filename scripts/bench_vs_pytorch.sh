#!/usr/bin/env bash
# Training-step speed of shiftlab against PyTorch's CPU path, measured in one session: shiftlab
# bench train, then ../shared/bench/torch_ref.py on the same benchmark ids, then compare.py (speedup
# = PyTorch time / shiftlab time). BENCH_DIR points at the bench kit (default ../shared/bench), SHIFTLAB at
# the binary (default build/shiftlab). To hold both to one instruction set, e.g. AVX2 on an AVX-512
# machine: SHIFTLAB_CPU_TARGET=avx2 DNNL_MAX_CPU_ISA=AVX2 scripts/bench_vs_pytorch.sh runs/bench-avx2
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BENCH_DIR:-../shared/bench}
shiftlab=${SHIFTLAB:-build/shiftlab}
out=${1:-runs/bench}
mkdir -p "$out"
"$shiftlab" bench train --arch resnet20 -b 128 --threads 1 2 --json "$out/resnet20.json"
"$shiftlab" bench train --arch mnist-conv -b 64 --threads 1 2 --json "$out/mnist-conv.json"
/usr/bin/python3 "$bench/torch_ref.py" --only 'resnet20-train-b128$|mnist-conv-train-b64' --threads 1,2 \
  --json "$out/torch.json" > /dev/null
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
a = json.load(open(f"{out}/resnet20.json"))
a["results"] += json.load(open(f"{out}/mnist-conv.json"))["results"]
json.dump(a, open(f"{out}/shiftlab.json", "w"), indent=1)
PY
python3 "$bench/compare.py" "$out/torch.json" "$out/shiftlab.json"
