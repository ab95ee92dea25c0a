"""Reference figures for the model zoo (test/test_models.cpp, docs/models.md), from PyTorch 1.13.

Run with /usr/bin/python3: `cd test/data/models && /usr/bin/python3 gen_models.py` (a few seconds).
The PyTorch definitions below are written from the reference sources (DeepShift pytorch/mnist.py
and cifar10_models/{resnet,mobilenetv2}.py at commit 7c012fb, torchvision/models/resnet.py; torchvision
itself is not installed here), using their module names. For every zoo model this writes to
reference.json: the parameter count, the state-dict names, the MACs of one forward at the model's
natural input (conv and linear multiply-accumulates, FLOPs = 2 x MACs), and <model>_y.npy, the
logits of an eval-mode forward with deterministic weights (see fill_values()) on a deterministic
input (see make_input()) of shape test_input (whose MACs are test_macs). The C++ test reproduces the
weights and inputs bit for bit and the logits to ~1e-5. resnet20 (option A) also gets a
training-mode forward (resnet20_A_y_train.npy, batch statistics).
"""
import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- MNIST (DeepShift pytorch/mnist.py)
class LinearMNIST(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.dropout1 = nn.Dropout(0.2)
        self.fc2 = nn.Linear(512, 512)
        self.dropout2 = nn.Dropout(0.2)
        self.fc3 = nn.Linear(512, 10)

    def forward(self, x):
        x = self.dropout1(F.relu(self.fc1(x.view(-1, 784))))
        x = self.dropout2(F.relu(self.fc2(x)))
        return self.fc3(x)  # DeepShift returns log_softmax(x); the zoo returns logits


class ConvMNIST(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 50, 5, 1)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        return self.fc2(F.relu(self.fc1(x.view(-1, 800))))


# ---------------------------------------------------- CIFAR ResNets (DeepShift cifar10_models/resnet.py)
class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class CifarBlock(nn.Module):
    def __init__(self, cin, planes, stride, option):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            if option == "A":
                p = planes // 4
                self.shortcut = Lambda(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p), "constant", 0))
            else:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks, widths, option, pool):
        super().__init__()
        self.pool = pool
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            layers = []
            for b in range(n):
                layers.append(CifarBlock(cin, w, 2 if (i > 0 and b == 0) else 1, option))
                cin = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.nstages = len(blocks)
        self.linear = nn.Linear(cin, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for i in range(self.nstages):
            out = getattr(self, f"layer{i + 1}")(out)
        out = F.avg_pool2d(out, self.pool or out.size(3))
        return self.linear(out.view(out.size(0), -1))


# ------------------------------------------------ MobileNetV2 (DeepShift cifar10_models/mobilenetv2.py)
class MBBlock(nn.Module):
    def __init__(self, cin, cout, t, stride):
        super().__init__()
        self.stride = stride
        planes = t * cin
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, groups=planes, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride == 1 and cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return out + self.shortcut(x) if self.stride == 1 else out


class MobileNetV2(nn.Module):
    cfg = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        layers, cin = [], 32
        for t, c, n, s in self.cfg:
            for b in range(n):
                layers.append(MBBlock(cin, c, t, s if b == 0 else 1))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.conv2 = nn.Conv2d(320, 1280, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(1280)
        self.linear = nn.Linear(1280, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.relu(self.bn2(self.conv2(out)))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


# ------------------------------------------------------------- torchvision ResNets (models/resnet.py)
class TvBasic(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class TvBottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class TvResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (n, planes) in enumerate(zip(layers, [64, 128, 256, 512])):
            stride = 1 if i == 0 else 2
            blocks = []
            for b in range(n):
                s = stride if b == 0 else 1
                ds = None
                if s != 1 or cin != planes * block.expansion:
                    ds = nn.Sequential(nn.Conv2d(cin, planes * block.expansion, 1, s, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
                blocks.append(block(cin, planes, s, ds))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# (zoo name, shortcut option passed to make_model, builder, natural input, forward-test input)
MODELS = [
    ("mnist-fc", "", lambda: LinearMNIST(), (1, 1, 28, 28), (2, 1, 28, 28)),
    ("mnist-conv", "", lambda: ConvMNIST(), (1, 1, 28, 28), (2, 1, 28, 28)),
] + [
    (f"resnet{d}", opt, (lambda d=d, opt=opt: CifarResNet([(d - 2) // 6] * 3, [16, 32, 64], opt, 0)),
     (1, 3, 32, 32), (2, 3, 32, 32))
    for d in (20, 32, 44, 56, 110) for opt in ("A", "B")
] + [
    ("resnet18", "A", lambda: CifarResNet([2, 2, 2, 2], [64, 128, 256, 512], "A", 4), (1, 3, 32, 32), (2, 3, 32, 32)),
    ("resnet18", "B", lambda: CifarResNet([2, 2, 2, 2], [64, 128, 256, 512], "B", 4), (1, 3, 32, 32), (2, 3, 32, 32)),
    ("mobilenetv2", "", lambda: MobileNetV2(), (1, 3, 32, 32), (2, 3, 32, 32)),
    ("imagenet-resnet18", "", lambda: TvResNet(TvBasic, [2, 2, 2, 2]), (1, 3, 224, 224), (1, 3, 64, 64)),
    ("imagenet-resnet34", "", lambda: TvResNet(TvBasic, [3, 4, 6, 3]), (1, 3, 224, 224), (1, 3, 64, 64)),
    ("imagenet-resnet50", "", lambda: TvResNet(TvBottleneck, [3, 4, 6, 3]), (1, 3, 224, 224), (1, 3, 64, 64)),
]


def fnv1a(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) % 2**32
    return h


def fill_values(name, shape):
    """The deterministic value of every element of state-dict entry `name` (float32).

    u_i = ((i + 1) * 2654435761 + fnv1a(name)) mod 2^32 / 2^32 (a Weyl sequence), b_i = 2 u_i - 1, then
    running_var: 1 + 0.25 (b + 1); running_mean: 0.1 b; tensors of >= 2 dims (conv / linear weights):
    b * sqrt(2 / fan_in) with fan_in = numel / shape[0]; other "weight" (BN gamma): 1 + 0.1 b; the
    rest (biases, BN beta): 0.1 b. Integer and double arithmetic only, so C++ reproduces it exactly."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(1, n + 1, dtype=np.uint64)
    u = ((i * np.uint64(2654435761) + np.uint64(fnv1a(name))) % np.uint64(2**32)).astype(np.float64) / 2.0**32
    b = 2 * u - 1
    if name.endswith("running_var"):
        v = 1 + 0.25 * (b + 1)
    elif name.endswith("running_mean"):
        v = 0.1 * b
    elif len(shape) >= 2:
        v = b * np.sqrt(2.0 / (n // shape[0]))
    elif name.endswith("weight"):
        v = 1 + 0.1 * b
    else:
        v = 0.1 * b
    return v.astype(np.float32).reshape(shape)


def make_input(shape):
    """x_i = ((i + 1) * 2654435761 mod 2^32) / 2^31 - 1, float32, row-major."""
    n = int(np.prod(shape))
    i = np.arange(1, n + 1, dtype=np.uint64)
    u = ((i * np.uint64(2654435761)) % np.uint64(2**32)).astype(np.float64) / 2.0**31 - 1
    return u.astype(np.float32).reshape(shape)


def count_macs(model, shape):
    macs = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            macs.append(out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])
        elif isinstance(m, nn.Linear):
            macs.append(inp[0].numel() // m.in_features * m.in_features * m.out_features)

    hs = [m.register_forward_hook(hook) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(shape))
    for h in hs:
        h.remove()
    return sum(macs)


if __name__ == "__main__":
    torch.manual_seed(0)
    ref = {}
    for name, opt, build, natural, test_shape in MODELS:
        key = name + (f"@{opt}" if opt else "")
        model = build()
        params = sum(p.numel() for p in model.parameters())
        with torch.no_grad():
            for n, t in model.state_dict().items():
                if t.dtype == torch.float32:
                    t.copy_(torch.from_numpy(fill_values(n, tuple(t.shape))))
        x = torch.from_numpy(make_input(test_shape))
        model.eval()
        with torch.no_grad():
            y = model(x).numpy()
        fname = key.replace("@", "_") + "_y.npy"
        np.save(fname, y)
        entry = {"arch": name, "shortcut": opt, "params": params, "macs": count_macs(model, natural),
                 "natural_input": list(natural), "test_input": list(test_shape),
                 "test_macs": count_macs(model, test_shape), "logits": fname,
                 "state_dict": list(model.state_dict().keys())}
        if key == "resnet20@A":
            model.train()
            with torch.no_grad():
                np.save("resnet20_A_y_train.npy", model(x).numpy())
            entry["logits_train"] = "resnet20_A_y_train.npy"
        ref[key] = entry
        print(f"{key:22s} params {params:>11,d}  MACs {entry['macs']:>14,d}  |y|max {np.abs(y).max():.3g}")
    with open("reference.json", "w") as f:
        json.dump({"torch": torch.__version__, "models": ref}, f, indent=1)
