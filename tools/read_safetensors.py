#!/usr/bin/env python3
"""Read a shiftlab (or any) .safetensors file with numpy only, for machines without the
`safetensors` package (Debian 12 does not package it). With it installed, prefer
`safetensors.torch.load_file(path)` / `safetensors.numpy.load_file(path)`.

    python3 tools/read_safetensors.py run/best.safetensors        # list tensors and metadata
    >>> from read_safetensors import load; tensors, meta = load("best.safetensors")
    >>> model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()
    ...                        if not k.startswith(("optimizer.", "scheduler.", "trainer."))})
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "BOOL": "?"}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[base + begin:base + end], dtype=DTYPES[info["dtype"]])
        tensors[name] = arr.reshape(info["shape"]).copy()
    return tensors, meta


if __name__ == "__main__":
    tensors, meta = load(sys.argv[1])
    for k, v in meta.items():
        print(f"metadata {k}: {v[:200]}")
    for k, v in tensors.items():
        print(f"{k:50s} {str(v.dtype):8s} {list(v.shape)}")
