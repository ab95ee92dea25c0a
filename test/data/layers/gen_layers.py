"""Reference forwards of single layers for test/test_layers.cpp, computed with torch 1.13 (CPU, f32).

Run with /usr/bin/python3: `cd test/data/layers && /usr/bin/python3 gen_layers.py`.
Inputs and parameters are drawn with numpy (seed 7) and saved next to the outputs, so the C++ test
loads the very same values into its layers (through load_state_dict, by PyTorch's names):
  <case>_x.npy                  input
  <case>_<param>.npy            parameters / buffers by their PyTorch name (weight, bias, running_mean, ...)
  <case>_y.npy                  output in training mode (and, for batch norm, the buffers after it)
  <case>_y_eval.npy             batch norm only: output in eval mode after that training forward
See CASES below for the layer options of each case.
"""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(7)


def arr(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def save(case, name, a):
    np.save(f"{case}_{name}.npy", np.ascontiguousarray(a))


def run_module(case, module, x, train=True, extra_eval=False):
    # Randomise every floating parameter and buffer, save them, run, save the output.
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.dtype != torch.float32:
                continue
            lo, hi = (0.5, 1.5) if name.endswith("running_var") else (-1.0, 1.0)
            v = arr(*t.shape, lo=lo, hi=hi)
            t.copy_(torch.from_numpy(v))
            save(case, name, v)
    save(case, "x", x)
    module.train(train)
    with torch.no_grad():
        y = module(torch.from_numpy(x))
    save(case, "y", y.numpy())
    if extra_eval:
        for name, t in module.state_dict().items():
            if name.startswith("running"):
                save(case, name + "_after", t.numpy())
        save(case, "num_batches_tracked_after", module.num_batches_tracked.numpy().astype(np.int64))
        module.eval()
        with torch.no_grad():
            save(case, "y_eval", module(torch.from_numpy(x)).numpy())


CASES = {
    "linear": (nn.Linear(5, 4), (3, 5)),
    "linear_nobias_3d": (nn.Linear(5, 4, bias=False), (2, 3, 5)),
    "conv_basic": (nn.Conv2d(3, 4, 3, stride=1, padding=1), (2, 3, 7, 6)),
    "conv_stride_dilation": (nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1), bias=False),
                             (1, 4, 9, 8)),
    "conv_groups": (nn.Conv2d(6, 4, 3, stride=2, padding=1, groups=2), (2, 6, 5, 5)),
    "conv_depthwise": (nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), (1, 8, 6, 6)),
    "maxpool": (nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    "maxpool_default_stride": (nn.MaxPool2d(2), (1, 2, 6, 5)),
    "avgpool_pad": (nn.AvgPool2d((3, 2), stride=2, padding=1), (2, 3, 7, 6)),
    "avgpool_exclude_pad": (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 7, 6)),
    "adaptive_avgpool": (nn.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 6)),
    "relu": (nn.ReLU(), (2, 3, 4)),
    "relu6": (nn.ReLU6(), (2, 3, 4)),  # input in [-8, 8) so both clamps are hit
    "flatten": (nn.Flatten(), (2, 3, 4, 5)),
}

if __name__ == "__main__":
    torch.manual_seed(0)
    for case, (module, shape) in CASES.items():
        run_module(case, module, arr(*shape, lo=-8, hi=8) if case == "relu6" else arr(*shape))
    # Batch norm: one training forward (updates the running buffers), then eval.
    run_module("bn2d", nn.BatchNorm2d(3), arr(4, 3, 5, 2, lo=-2, hi=3), extra_eval=True)
    run_module("bn1d", nn.BatchNorm1d(4), arr(6, 4, lo=-2, hi=3), extra_eval=True)
    run_module("bn1d_3d", nn.BatchNorm1d(4, momentum=0.3, eps=1e-3), arr(3, 4, 5, lo=-2, hi=3), extra_eval=True)
    print("torch", torch.__version__, "done")
