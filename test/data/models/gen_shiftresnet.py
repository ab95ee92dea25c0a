"""Reference figures for ShiftResNet and shiftresnet-cifar's reduced ResNets (test/test_shiftresnet.cpp,
test/test_count.cpp, docs/models.md), from PyTorch 1.13.

Run with /usr/bin/python3: `cd test/data/models && /usr/bin/python3 gen_shiftresnet.py` (a few seconds).
The definitions below are written from spec-deepshift-shift.md Part B (alvinwan/shiftresnet-cifar
models/{resnet,shiftresnet}.py and count.py at 289a1a1; the shift of peterhj/shiftnet_cuda_v2 as a
pure-PyTorch loop), with the reference's module names. For every configuration this writes to
shiftresnet_reference.json: the parameter count, count.py's "FLOPs" with the README-era stem term
(before commit 255228f) and with HEAD's, the true conv + linear MACs, all at 1 x 3 x 32 x 32; for a
few, the state-dict names and <key>_y.npy, eval-mode logits with gen_models.py's deterministic
weights and input (shiftresnet20 e=3 also a training-mode forward).

With SHIFTRESNET_SRC=<checkout at 289a1a1> (and optionally SHIFTRESNET_SRC_README=<checkout at
255228f^>) the upstream model files are imported too (their CUDA shift replaced by the loop below) and
every figure, name and logit is asserted equal to theirs; e.g.
  git --git-dir=<mirror> archive 289a1a1 | tar -x -C /tmp/srn_head
  git --git-dir=<mirror> archive 255228f^ | tar -x -C /tmp/srn_readme
This passed on 2026-11-24 (torch 1.13.0a0, CPU).
"""
import importlib
import json
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from gen_models import count_macs, fill_values, make_input


def shift(x, k=3, d=1):
    """y[n,c,i,j] = x[n,c,i+dy_c,j+dx_c] or 0; offsets cyclic over the k*k window, the last C mod k^2
    channels unshifted (spec B1)."""
    n, c, h, w = x.shape
    y = torch.zeros_like(x)
    half, k2 = k // 2, k * k
    for ch in range(c):
        if ch >= c // k2 * k2:
            y[:, ch] = x[:, ch]
            continue
        dy, dx = d * ((ch // k) % k - half), d * (ch % k - half)
        y[:, ch, max(0, -dy):min(h, h - dy), max(0, -dx):min(w, w - dx)] = \
            x[:, ch, max(0, dy):min(h, h + dy), max(0, dx):min(w, w + dx)]
    return y


class Shift(nn.Module):
    def __init__(self, kernel_size=3, dilate_factor=1):
        super().__init__()
        self.k, self.d = kernel_size, dilate_factor

    def forward(self, x):
        return shift(x, self.k, self.d)


def projection(cin, cout, stride):
    if stride == 1 and cin == cout:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class ShiftConv(nn.Module):
    def __init__(self, cin, cout, stride=1, expansion=1):
        super().__init__()
        self.cin, self.cout, self.mid = cin, cout, int(cout * expansion)
        self.conv1 = nn.Conv2d(cin, self.mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(self.mid)
        self.shift2 = Shift(3, 1)
        self.conv2 = nn.Conv2d(self.mid, cout, 1, stride=stride, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = projection(cin, cout, stride)

    def forward(self, x):
        t = F.relu(self.bn1(self.conv1(x)))
        self.hw_mid = t.shape[2] * t.shape[3]
        t = F.relu(self.bn2(self.conv2(self.shift2(t))))
        self.hw_out = t.shape[2] * t.shape[3]
        return t + self.shortcut(x)

    def flops(self):
        f = self.hw_mid * self.cin * self.mid + self.hw_out * self.mid * self.cout
        return f + (self.cin * self.cout * self.hw_out if len(self.shortcut) else 0)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride=1, reduction=1):
        super().__init__()
        self.cin, self.cout, self.mid = cin, planes, int(1 / float(reduction) * planes)
        self.conv1 = nn.Conv2d(cin, self.mid, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(self.mid)
        self.conv2 = nn.Conv2d(self.mid, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = projection(cin, planes, stride)

    def forward(self, x):
        t = F.relu(self.bn1(self.conv1(x)))
        self.hw_mid = t.shape[2] * t.shape[3]
        t = self.bn2(self.conv2(t))
        self.hw_out = t.shape[2] * t.shape[3]
        return F.relu(t + self.shortcut(x))

    def flops(self):
        f = self.hw_mid * 9 * self.mid * self.cin + self.hw_out * 9 * self.mid * self.cout
        return f + (self.cin * self.cout * self.hw_out if len(self.shortcut) else 0)


class ResNet(nn.Module):
    def __init__(self, block, n, reduction=1, num_classes=10):
        super().__init__()
        q = float(reduction) ** 0.5
        widths = [int(16 / q), int(32 / q), int(64 / q)]
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for s, w in enumerate(widths):
            blocks = []
            for b in range(n):
                blocks.append(block(cin, w, 2 if s > 0 and b == 0 else 1))
                cin = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.c_last, self.classes = cin, num_classes
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        self.hw_stem = out.shape[2] * out.shape[3]
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, 8).flatten(1)
        return self.linear(out)

    def flops(self, head=False):
        """count.py: blocks + stem term with C_last (x3 at HEAD) + C_last * classes."""
        blocks = sum(b.flops() for layer in (self.layer1, self.layer2, self.layer3) for b in layer)
        return blocks + self.hw_stem * 9 * self.c_last * (3 if head else 1) + self.c_last * self.classes


def build(arch, expansion=1.0, reduction=1.0, mode="net", classes=10):
    n = {"20": 3, "56": 9, "110": 18}[arch.lstrip("shiftresnet")]
    if arch.startswith("shift"):
        return ResNet(lambda i, o, s: ShiftConv(i, o, s, expansion), n, num_classes=classes)
    if mode == "block":
        return ResNet(lambda i, o, s: BasicBlock(i, o, s, reduction), n, num_classes=classes)
    return ResNet(BasicBlock, n, reduction=reduction, num_classes=classes)


def load_upstream(src):
    """models.resnet / models.shiftresnet of a shiftresnet-cifar checkout, with the CUDA shift stubbed."""
    for k in [k for k in sys.modules if k == "models" or k.startswith("models.")]:
        del sys.modules[k]
    pkg = types.ModuleType("models")
    pkg.__path__ = [os.path.join(src, "models")]
    sys.modules["models"] = pkg
    cuda = types.ModuleType("models.shiftnet_cuda_v2")
    cuda.__path__ = []
    stub = types.ModuleType("models.shiftnet_cuda_v2.nn")
    stub.GenericShift_cuda = Shift
    sys.modules["models.shiftnet_cuda_v2"], sys.modules["models.shiftnet_cuda_v2.nn"] = cuda, stub
    return importlib.import_module("models.resnet"), importlib.import_module("models.shiftresnet")


def build_upstream(mods, arch, expansion, reduction, mode, classes):
    resnet, shiftresnet = mods
    depth = arch.lstrip("shiftresnet")
    if arch.startswith("shift"):
        return getattr(shiftresnet, "ShiftResNet" + depth)(expansion=expansion, num_classes=classes)
    return getattr(resnet, "ResNet" + depth)(reduction=reduction, reduction_mode=mode, num_classes=classes)


# (key, arch, expansion, reduction, mode, classes, with names and logits)
CONFIGS = [("resnet20", "resnet20", 1, 1, "net", 10, False),
           ("resnet56", "resnet56", 1, 1, "net", 10, False),
           ("resnet110", "resnet110", 1, 1, "net", 10, False)]
for d in ("20", "56", "110"):
    for e in (1, 3, 6, 9):
        CONFIGS.append((f"shiftresnet{d}_e{e}", "shiftresnet" + d, e, 1, "net", 10, d == "20" and e == 3))
CONFIGS += [("resnet20_r2.8_block", "resnet20", 1, 2.8, "block", 10, True),
            ("resnet20_r2_net", "resnet20", 1, 2, "net", 10, True),
            ("resnet20_r7.2_net", "resnet20", 1, 7.2, "net", 10, False),
            ("resnet56_r2.9_block", "resnet56", 1, 2.9, "block", 10, False),
            ("resnet110_r7.8_net", "resnet110", 1, 7.8, "net", 10, False),
            ("shiftresnet20_e1.5_c100", "shiftresnet20", 1.5, 1, "net", 100, True),
            ("resnet20_c100", "resnet20", 1, 1, "net", 100, False),
            ("shiftresnet20_e3_c100", "shiftresnet20", 3, 1, "net", 100, False)]


def fill(model):
    with torch.no_grad():
        for n, t in model.state_dict().items():
            if t.dtype == torch.float32:
                t.copy_(torch.from_numpy(fill_values(n, tuple(t.shape))))


if __name__ == "__main__":
    head_src, readme_src = os.environ.get("SHIFTRESNET_SRC"), os.environ.get("SHIFTRESNET_SRC_README")
    upstream = {"head": load_upstream(head_src)} if head_src else {}
    if readme_src:
        upstream["readme"] = load_upstream(readme_src)
    natural, test_shape = (1, 3, 32, 32), (2, 3, 32, 32)
    ref = {}
    for key, arch, e, r, mode, classes, detailed in CONFIGS:
        model = build(arch, e, r, mode, classes)
        model.eval()
        with torch.no_grad():
            model(torch.zeros(natural))
        entry = {"arch": arch, "expansion": e, "reduction": r, "reduction_mode": mode, "classes": classes,
                 "params": sum(p.numel() for p in model.parameters()),
                 "flops_readme": model.flops(), "flops_head": model.flops(head=True),
                 "macs": count_macs(model, natural)}
        fill(model)
        x = torch.from_numpy(make_input(test_shape))
        with torch.no_grad():
            y = model(x)
        if detailed:
            entry["state_dict"] = list(model.state_dict().keys())
            entry["test_input"] = list(test_shape)
            entry["logits"] = key + "_y.npy"
            np.save(entry["logits"], y.numpy())
            if key == "shiftresnet20_e3":
                model.train()
                with torch.no_grad():
                    np.save(key + "_y_train.npy", model(x).numpy())
                entry["logits_train"] = key + "_y_train.npy"
        for era, mods in upstream.items():  # the upstream code must agree on every figure
            theirs = build_upstream(mods, arch, e, r, mode, classes)
            assert list(theirs.state_dict().keys()) == list(model.state_dict().keys()), key
            assert sum(p.numel() for p in theirs.parameters()) == entry["params"], key
            fill(theirs)
            theirs.eval()
            with torch.no_grad():
                assert torch.equal(theirs(x), y), key
                theirs(torch.zeros(natural))
            assert theirs.flops() == entry["flops_" + era], (key, era, theirs.flops())
        ref[key] = entry
        print(f"{key:26s} params {entry['params']:>10,d}  FLOPs(README) {entry['flops_readme']:>12,d}  "
              f"(HEAD) {entry['flops_head']:>12,d}  MACs {entry['macs']:>12,d}")
    if upstream:
        print("upstream agrees:", ", ".join(upstream))
    with open("shiftresnet_reference.json", "w") as f:
        json.dump({"torch": torch.__version__, "models": ref}, f, indent=1)
