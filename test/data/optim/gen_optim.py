"""Expected SGD / Adam / AdamW trajectories for test/test_optim.cpp, from torch 1.13 (CPU, float32).

Run with /usr/bin/python3 (the Debian torch): `cd test/data/optim && /usr/bin/python3 gen_optim.py`.
The fixed problem reuses the DeepShift golden inputs: the parameter starts at
../golden/deepshift/opt_p0.npy (6 floats) and at step t the gradient is row t-1 of opt_grads.npy
(12 x 6), so every optimizer sees the same gradients whatever the parameter. Each variant writes
<variant>.npy: float32 [12, 6], the parameter after each step. A second problem checks parameter
groups: two tensors in two groups with different lr / weight decay, written as groups_<variant>.npy.
"""
import numpy as np
import torch

G = "../golden/deepshift/"
p0 = np.load(G + "opt_p0.npy")
grads = np.load(G + "opt_grads.npy")

VARIANTS = {
    "sgd_plain": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum_wd": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-4)),
    "sgd_dampening": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=5e-4)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    "adam": (torch.optim.Adam, dict(lr=0.01)),
    "adam_wd_betas": (torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)),
    "adam_amsgrad": (torch.optim.Adam, dict(lr=0.01, weight_decay=1e-3, amsgrad=True)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    "adamw_amsgrad": (torch.optim.AdamW, dict(lr=0.02, betas=(0.85, 0.995), weight_decay=0.05, amsgrad=True)),
}


def run(cls, kw):
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = cls([p], **kw)
    out = []
    for t in range(grads.shape[0]):
        p.grad = torch.from_numpy(grads[t].copy())
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out).astype(np.float32)


def run_groups(cls, kw):
    # Group 0: the first 4 values as a [2, 2] "weight" with weight decay; group 1: the last 2 as a
    # "bias" with lr x 0.5 and no weight decay. Gradients are the matching slices.
    w = torch.nn.Parameter(torch.from_numpy(p0[:4].reshape(2, 2).copy()))
    b = torch.nn.Parameter(torch.from_numpy(p0[4:].copy()))
    opt = cls([{"params": [w]}, {"params": [b], "lr": kw["lr"] * 0.5, "weight_decay": 0.0}], **kw)
    out = []
    for t in range(grads.shape[0]):
        w.grad = torch.from_numpy(grads[t, :4].reshape(2, 2).copy())
        b.grad = torch.from_numpy(grads[t, 4:].copy())
        opt.step()
        out.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy()]))
    return np.stack(out).astype(np.float32)


if __name__ == "__main__":
    print("torch", torch.__version__)
    for name, (cls, kw) in VARIANTS.items():
        np.save(name + ".npy", run(cls, kw))
    for name in ["sgd_momentum_wd", "adam_wd_betas", "adamw"]:
        cls, kw = VARIANTS[name]
        np.save("groups_" + name + ".npy", run_groups(cls, kw))
    print("wrote", len(VARIANTS) + 3, "files")
