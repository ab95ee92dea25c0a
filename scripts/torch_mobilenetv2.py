#!/usr/bin/env python3
"""PyTorch's CPU training step of the CIFAR MobileNetV2 that shiftlab's `mobilenetv2` is (kuangliu's,
which DeepShift trains; 2,296,922 parameters), for comparing with

    build/shiftlab bench train -a mobilenetv2 -b 32 --threads 1 2

../shared/bench/torch_ref.py has no MobileNetV2. Usage: /usr/bin/python3 scripts/torch_mobilenetv2.py [batch]
(SGD with momentum on synthetic data, 2 warm-up steps, median of 7 timed steps, 1 and 2 threads).
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """Expand (1x1), depthwise 3x3 (the stride), project (1x1); a shortcut where the stride is 1."""

    def __init__(self, inp, out, expansion, stride):
        super().__init__()
        mid = expansion * inp
        self.stride = stride
        self.conv1 = nn.Conv2d(inp, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut = nn.Sequential()
        if stride == 1 and inp != out:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return y + self.shortcut(x) if self.stride == 1 else y


class MobileNetV2(nn.Module):
    # (expansion, out channels, blocks, stride of the first block)
    cfg = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        blocks, inp = [], 32
        for expansion, out, n, stride in self.cfg:
            for s in [stride] + [1] * (n - 1):
                blocks.append(Block(inp, out, expansion, s))
                inp = out
        self.layers = nn.Sequential(*blocks)
        self.conv2 = nn.Conv2d(320, 1280, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(1280)
        self.linear = nn.Linear(1280, 10)

    def forward(self, x):
        y = self.layers(F.relu(self.bn1(self.conv1(x))))
        y = F.relu(self.bn2(self.conv2(y)))
        return self.linear(F.avg_pool2d(y, 4).flatten(1))


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
