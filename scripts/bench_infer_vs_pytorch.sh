#!/usr/bin/env bash
# Deploy-model inference speed of shiftlab against PyTorch's CPU inference (eager, frozen JIT and its
# own int8 path), measured in one session: shiftlab bench infer, then ../shared/bench/torch_ref.py on
# the same ids, then compare.py (speedup = PyTorch time / shiftlab time; the deploy time is repeated
# under the -jit and -int8 ids, so each row compares against one PyTorch mode). BENCH_DIR points at the
# bench kit (default ../shared/bench), SHIFTLAB at the binary (default build/shiftlab). To hold both
# to one instruction set, e.g. AVX2: SHIFTLAB_CPU_TARGET=avx2 DNNL_MAX_CPU_ISA=AVX2
# ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell scripts/bench_infer_vs_pytorch.sh runs/infer-avx2
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BENCH_DIR:-../shared/bench}
shiftlab=${SHIFTLAB:-build/shiftlab}
out=${1:-runs/bench-infer}
mkdir -p "$out"
"$shiftlab" bench infer --arch mnist-conv resnet20 --threads 1 2 --json "$out/shiftlab.json"
/usr/bin/python3 "$bench/torch_ref.py" --only 'mnist-conv-infer|resnet20-infer' --threads 1,2 \
  --json "$out/torch.json" > /dev/null
python3 "$bench/compare.py" "$out/torch.json" "$out/shiftlab.json"
