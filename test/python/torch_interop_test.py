#!/usr/bin/python3
"""Weights across the PyTorch boundary, both ways, checked on logits (CTest `torch_interop`):

  1. torchvision resnet18 state_dict -> safetensors (no shiftlab metadata) -> `shiftlab eval`
     (architecture inferred) on a few images: shiftlab's logits == torchvision's on the same inputs.
  2. `shiftlab train --epochs 0` (an initial imagenet-resnet18) -> `convert --quant apot`
     (FP32 activations) -> `export --format torch` -> torchvision resnet18, load_state_dict(strict=True):
     torchvision's logits == `shiftlab eval --save-logits` of the quantized checkpoint.
  3. A DeepShift-Q mnist-conv -> `export --format torch` -> torch_ref's mnist_conv(), strict: logits
     agree to shiftlab's 16.16 fixed-point activation rounding, which a weights-only file cannot carry.
  4. resnet20 (option A and B) exports load strictly into torch_ref's ResNetCifar.

    /usr/bin/python3 test/python/torch_interop_test.py BUILD/shiftlab
Exits 77 (CTest: skipped) when torch or torchvision is missing (scripts/setup.sh installs them)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(f"SKIP: {e}; Debian's python3-torch and python3-torchvision are needed (scripts/setup.sh installs them)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref_models  # noqa: E402

SHIFTLAB = None  # the binary, from the command line
TOL = 1e-4  # logits, relative to max(1, the largest logit)
DTYPES = {torch.float32: "F32", torch.int64: "I64"}
NP = {"F32": np.float32, "I64": np.int64}


def save_safetensors(path, state, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        raw = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=NP[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


def shiftlab(*args):
    cmd = [SHIFTLAB, *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def image_folder(root, count=4, size=(80, 96)):
    """A val/ split of `count` random PPM images in two class folders."""
    rng = np.random.default_rng(0)
    for i in range(count):
        d = os.path.join(root, "val", f"class{i % 2}")
        os.makedirs(d, exist_ok=True)
        pixels = rng.integers(0, 256, size=(size[0], size[1], 3), dtype=np.uint8)
        with open(os.path.join(d, f"{i}.ppm"), "wb") as f:
            f.write(f"P6 {size[1]} {size[0]} 255\n".encode() + pixels.tobytes())
    return root


def compare(name, ours, theirs, tol):
    ours, theirs = np.asarray(ours), theirs.detach().numpy()
    if ours.shape != theirs.shape:
        sys.exit(f"FAIL {name}: shiftlab logits {ours.shape}, PyTorch {theirs.shape}")
    err = float(np.abs(ours - theirs).max()) / max(1.0, float(np.abs(theirs).max()))
    print(f"{name}: {ours.shape[0]} images, max logit difference {err:.2e} (relative; tolerance {tol:g})")
    if not err <= tol:
        sys.exit(f"FAIL {name}: logits differ by {err:.3g} > {tol:g}")


def randomize_bn(model, seed):
    """BN statistics and affine terms away from 0/1, so a mixed-up name or buffer shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def main():
    global SHIFTLAB
    SHIFTLAB = os.path.abspath(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(2)
    tmp = tempfile.mkdtemp(prefix="shiftlab-torch-")
    folder = image_folder(os.path.join(tmp, "images"))
    common = ["--image-size", "64", "--threads", "2", "--print-freq", "1000"]

    # 1. torchvision -> shiftlab.
    tv = torchvision.models.resnet18(num_classes=10)
    randomize_bn(tv, 1)
    tv.eval()
    save_safetensors(os.path.join(tmp, "tv.safetensors"), tv.state_dict(), {"format": "pt"})
    logits, inputs = os.path.join(tmp, "tv_logits.npy"), os.path.join(tmp, "tv_inputs.npy")
    out = shiftlab("eval", "--weights", os.path.join(tmp, "tv.safetensors"), folder, "--save-logits", logits,
                   "--save-inputs", inputs, *common)
    if "its tensors fit --arch imagenet-resnet18 (10 classes)" not in out:
        sys.exit(f"FAIL: eval did not say which architecture it inferred:\n{out}")
    x = torch.from_numpy(np.load(inputs))
    with torch.no_grad():
        compare("torchvision resnet18 -> shiftlab eval", np.load(logits), tv(x), TOL)

    # 2. shiftlab (APoT, FP32 activations) -> torchvision.
    run = os.path.join(tmp, "r18")
    shiftlab("train", "-a", "imagenet-resnet18", "--num-classes", "10", "--image-size", "64", "--epochs", "0",
             "--out", run)
    apot = os.path.join(tmp, "r18_apot.safetensors")
    shiftlab("convert", "--weights", os.path.join(run, "last.safetensors"), "--quant", "apot", "--act-bits", "32",
             "-o", apot)
    exported = os.path.join(tmp, "r18_apot.torch.safetensors")
    shiftlab("export", "--format", "torch", "--weights", apot, "-o", exported)
    state, meta = load_safetensors(exported)
    if meta.get("shiftlab_reference") != "torchvision.models.resnet18":
        sys.exit(f"FAIL: export metadata {meta}")
    model = torchvision.models.resnet18(num_classes=10)
    model.load_state_dict(state, strict=True)
    model.eval()
    conv = state["layer1.0.conv1.weight"]
    if len(torch.unique(conv)) > 2 ** 4 + 1:
        sys.exit(f"FAIL: the exported 4-bit APoT weights have {len(torch.unique(conv))} distinct values")
    shiftlab("eval", "--weights", apot, folder, "--save-logits", logits, "--save-inputs", inputs, *common)
    x = torch.from_numpy(np.load(inputs))
    with torch.no_grad():
        compare("shiftlab APoT imagenet-resnet18 -> torchvision", np.load(logits), model(x), TOL)

    # 3. DeepShift-Q mnist-conv -> torch_ref.mnist_conv (Fashion-MNIST test images).
    if os.path.isdir("/usr/share/datasets/fashion-mnist"):
        run = os.path.join(tmp, "conv")
        shiftlab("train", "--quant", "deepshift-q", "--epochs", "1", "--subset", "500", "--test-subset", "64",
                 "--batch-size", "50", "--threads", "2", "--no-stats", "--out", run, "--print-freq", "1000")
        ckpt = os.path.join(run, "last.safetensors")
        exported = os.path.join(tmp, "conv.torch.safetensors")
        shiftlab("export", "--format", "torch", "--weights", ckpt, "-o", exported)
        state, meta = load_safetensors(exported)
        model = torch_ref_models.mnist_conv()
        model.load_state_dict(state, strict=True)
        model.eval()
        w = state["0.weight"].abs()
        if not torch.all((w == 0) | (torch.log2(w) == torch.round(torch.log2(w)))):
            sys.exit("FAIL: exported DeepShift-Q weights are not powers of two")
        shiftlab("eval", "--weights", ckpt, "--save-logits", logits, "--save-inputs", inputs, "--threads", "2")
        x = torch.from_numpy(np.load(inputs))
        with torch.no_grad():
            # shiftlab floors each layer's input to 2^-16 (DeepShift's 16.16 activations): ~1e-5 per value.
            compare("shiftlab DeepShift-Q mnist-conv -> torch_ref.mnist_conv", np.load(logits), model(x), 1e-3)
    else:
        print("part 3 skipped: no /usr/share/datasets/fashion-mnist")

    # 4. CIFAR ResNets load strictly into torch_ref's ResNetCifar (option A and B shortcuts).
    for shortcut in ("A", "B"):
        run = os.path.join(tmp, "resnet20" + shortcut)
        shiftlab("train", "-a", "resnet20", "--dataset", "cifar10", "--shortcut", shortcut, "--epochs", "0",
                 "--quant", "deepshift-ps", "--out", run)
        exported = os.path.join(tmp, f"resnet20{shortcut}.torch.safetensors")
        shiftlab("export", "--format", "torch", "--weights", os.path.join(run, "last.safetensors"), "-o", exported)
        state, _ = load_safetensors(exported)
        model = torch_ref_models.ResNetCifar(n=3, shortcut=shortcut)
        model.load_state_dict(state, strict=True)
        print(f"resnet20 option {shortcut} (DeepShift-PS): {len(state)} tensors load strictly into ResNetCifar")
    print("OK")


if __name__ == "__main__":
    main()
