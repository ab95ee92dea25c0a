#!/usr/bin/env bash
# Deploy-model inference speed of shiftlab against PyTorch's CPU inference (eager, frozen JIT and its
# own int8 path), measured in one session: shiftlab bench infer, then ../shared/bench/torch_ref.py on
# the same ids, then compare.py (speedup = PyTorch time / shiftlab time; the deploy time is repeated
# under the -jit and -int8 ids, so each row compares against one PyTorch mode).
#   scripts/bench_infer_vs_pytorch.sh [OUT_DIR] [TARGET]
# TARGET (avx512-vnni, avx512, avx2, sse4) holds both engines to one instruction set: shiftlab through
# SHIFTLAB_CPU_TARGET, PyTorch's oneDNN through DNNL_MAX_CPU_ISA and ATen through ATEN_CPU_CAPABILITY.
# QUANT picks the quantizer family of shiftlab's model (default deepshift-ps); BENCH_DIR points at the
# bench kit (default ../shared/bench), SHIFTLAB at the binary (default build/shiftlab).
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BENCH_DIR:-../shared/bench}
shiftlab=${SHIFTLAB:-build/shiftlab}
out=${1:-runs/bench-infer}
target=${2:-}
if [ -n "$target" ]; then
  case "$target" in
    avx512-vnni) isa=AVX512_CORE_VNNI aten=avx512 ;;
    avx512) isa=AVX512_CORE aten=avx512 ;;
    avx2) isa=AVX2 aten=avx2 ;;
    sse4) isa=SSE41 aten=default ;;
    *) echo "bench_infer_vs_pytorch.sh: unknown target '$target' (avx512-vnni, avx512, avx2, sse4)" >&2; exit 2 ;;
  esac
  export SHIFTLAB_CPU_TARGET=$target DNNL_MAX_CPU_ISA=$isa ONEDNN_MAX_CPU_ISA=$isa ATEN_CPU_CAPABILITY=$aten
fi
mkdir -p "$out"
"$shiftlab" bench infer --arch mnist-conv resnet20 imagenet-resnet18 --quant "${QUANT:-deepshift-ps}" --threads 1 2 \
  --json "$out/shiftlab.json"
/usr/bin/python3 "$bench/torch_ref.py" --only 'mnist-conv-infer|resnet20-infer|resnet18-infer' --threads 1,2 \
  --json "$out/torch.json" > /dev/null
python3 "$bench/compare.py" "$out/torch.json" "$out/shiftlab.json"
