#!/usr/bin/env python3
"""PyTorch's CPU training step of the CIFAR MobileNetV2 that shiftlab's `mobilenetv2` is (kuangliu's,
which DeepShift trains; 2,296,922 parameters), for comparing with

    build/shiftlab bench train -a mobilenetv2 -b 32 --threads 1 2

../shared/bench/torch_ref.py has no MobileNetV2. Usage: /usr/bin/python3 scripts/torch_mobilenetv2.py [batch]
(SGD with momentum on synthetic data, 2 warm-up steps, median of 7 timed steps, 1 and 2 threads).
"""
import pathlib
import sys
import time

import torch
import torch.nn.functional as F

# The PyTorch MobileNetV2 the model-zoo tests already check shiftlab's against (same module names).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "test" / "data" / "models"))
from gen_models import MobileNetV2  # noqa: E402


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model = MobileNetV2()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        for _ in range(2):
            step()
        times = []
        for _ in range(7):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        times.sort()
        print(f"mobilenetv2-train-b{batch}  torch {torch.__version__}  {threads} threads  "
              f"{times[3] * 1e3:.1f} ms median  {times[0] * 1e3:.1f} ms min  "
              f"({sum(p.numel() for p in model.parameters())} parameters)")


if __name__ == "__main__":
    main()
