"""Expected learning rates per epoch for test/test_schedule.cpp, from torch 1.13's schedulers.

Run with /usr/bin/python3: `cd test/data/schedule && /usr/bin/python3 gen_schedule.py`.
Each <name>.npy is float64 [epochs]: the lr of a single-group SGD optimizer during epoch e, read
after constructing the scheduler (e = 0) and after each scheduler.step() (the usual per-epoch loop).
"""
import warnings

import numpy as np
import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings("ignore")


def trace(base_lr, make, epochs):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out, dtype=np.float64)


CASES = {
    # DeepShift cifar10.py --lr-step-size 5 (from pre-trained) and ImageNet's step 30.
    "step_5": (1e-3, lambda o: S.StepLR(o, step_size=5, gamma=0.1), 15),
    "step_30": (0.1, lambda o: S.StepLR(o, step_size=30, gamma=0.1), 100),
    # DeepShift cifar10.py default: milestones 80/120/160/180, 200 epochs.
    "multistep_deepshift": (0.1, lambda o: S.MultiStepLR(o, milestones=[80, 120, 160, 180], gamma=0.1), 200),
    # APoT CIFAR: x0.1 at 150 and 225 of 300.
    "multistep_apot": (0.04, lambda o: S.MultiStepLR(o, milestones=[150, 225], gamma=0.1), 300),
    "cosine_200": (0.1, lambda o: S.CosineAnnealingLR(o, T_max=200), 200),
    "cosine_eta_min": (0.05, lambda o: S.CosineAnnealingLR(o, T_max=30, eta_min=1e-4), 31),
    "exponential": (0.1, lambda o: S.ExponentialLR(o, gamma=0.95), 50),
    "warmup_cosine": (
        0.1,
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
                                     S.CosineAnnealingLR(o, T_max=45)], milestones=[5]),
        50),
    "warmup_multistep": (
        0.4,
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=2),
                                     S.MultiStepLR(o, milestones=[30, 60, 90], gamma=0.1)], milestones=[2]),
        100),
}

if __name__ == "__main__":
    print("torch", torch.__version__)
    for name, (lr, make, epochs) in CASES.items():
        np.save(name + ".npy", trace(lr, make, epochs))
    print("wrote", len(CASES), "files")
