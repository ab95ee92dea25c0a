#!/usr/bin/env bash
# The data-parallel benchmark of docs/distributed.md: resnet20, global batch 128, on the Fashion-MNIST
# training set (the CIFAR-10 files are not installed by setup.sh; resnet20 takes the 28x28x1 images),
# 1 process x 2 threads against mpirun -np 2 x 1 thread, alternated REPEATS times so that both see
# the same load on a shared machine. Prints each pair's images/s, their ratio and the all-reduce time
# per step (the second epoch: the first warms the allocator up).
# Usage: scripts/bench_distributed.sh [build/shiftlab] [REPEATS] [STEPS per epoch]
set -euo pipefail
bin=${1:-build/shiftlab}
repeats=${2:-3}
steps=${3:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
args=(train --arch resnet20 --batch-size 128 --subset $((128 * steps)) --test-subset 128 --epochs 2 --no-stats
      --print-freq 100000)
field() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print(r.get(sys.argv[2], 0))" "$1" "$2"; }
printf "%-6s %22s %22s %8s %18s\n" run "1 proc x 2 thr img/s" "2 ranks x 1 thr img/s" ratio "all-reduce ms/step"
for i in $(seq 1 "$repeats"); do
  "$bin" "${args[@]}" --threads 2 --out "$work/one$i" >/dev/null
  mpirun -np 2 --oversubscribe "$bin" "${args[@]}" --threads 1 --out "$work/two$i" >/dev/null
  a=$(field "$work/one$i/metrics.jsonl" images_per_s)
  b=$(field "$work/two$i/metrics.jsonl" images_per_s)
  ms=$(field "$work/two$i/metrics.jsonl" allreduce_ms_per_step)
  python3 -c "import sys; a,b,ms=map(float,sys.argv[2:]); print(f'{sys.argv[1]:<6} {a:22.1f} {b:22.1f} {b/a:8.3f} {ms:18.2f}')" \
    "$i" "$a" "$b" "$ms"
done
