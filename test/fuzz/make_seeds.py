#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (test/fuzz/corpus/<target>/): small valid files of
every format, and the hostile inputs of issue 19 (named regress-*), which the unit tests replay too
(test/test_fuzz_corpus.cpp). Standard library only. Usage: test/fuzz/make_seeds.py"""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(descr, shape, payload, header=None, version=1):
    h = header
    if h is None:
        dims = ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "")
        h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(h)) + h.encode() + payload


def safetensors(tensors, metadata=None, raw_header=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, payload) in (tensors or {}).items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + data


def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def png(width, height, grey_rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + row for row in grey_rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    # .npy
    put("npy", "f4_2x3.npy", npy("<f4", (2, 3), struct.pack("<6f", *range(6))))
    put("npy", "i8_scalar.npy", npy("<i8", (), struct.pack("<q", -5)))
    put("npy", "u1_empty.npy", npy("|u1", (0,), b""))
    put("npy", "f2_v2.npy", npy("<f2", (2,), struct.pack("<2H", 0x3C00, 0xFC00), version=2))
    put("npy", "u2_dq.npy", npy(None, None, struct.pack("<2H", 1, 65535),
                                header='{"descr": "<u2", "fortran_order": False, "shape": (2,)}'))
    put("npy", "regress-huge-shape.npy", npy("<f4", (4294967296, 4294967296), b""))
    put("npy", "regress-empty-payload.npy", npy("<f4", (0, 3), b""))
    put("npy", "regress-negative-dim.npy", npy("<f4", (-4,), b"\0" * 16))
    put("npy", "regress-long-header.npy",
        npy(None, None, b"", header="{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, " * 20000 + "), }",
            version=2))
    put("npy", "regress-regex-bomb.npy", npy(None, None, b"", header="{'descr' " + " " * 60000 + ":", version=2))

    # safetensors checkpoints (load_checkpoint: metadata config and trainer state too)
    f32 = lambda *v: struct.pack("<%df" % len(v), *v)
    i64 = lambda v: struct.pack("<q", v)
    f64 = lambda v: struct.pack("<d", v)
    trainer = {"trainer.epoch": ("I64", [], i64(1)), "trainer.batch": ("I64", [], i64(0)),
               "trainer.best_acc1": ("F64", [], f64(50.0)), "trainer.loss_sum": ("F64", [], f64(0)),
               "trainer.correct": ("F64", [], f64(0)), "trainer.seen": ("F64", [], f64(0)),
               "trainer.rng_seed": ("I64", [], i64(7)), "trainer.rng_offset": ("I64", [], i64(0))}
    model = {"fc.weight": ("F32", [2, 2], f32(1, 2, 3, 4)), "fc.bias": ("F32", [2], f32(0, 1))}
    config = json.dumps({"arch": "mnist-fc", "epochs": 2, "lr_milestones": [1, 2]})
    put("safetensors", "checkpoint.safetensors",
        safetensors({**model, **trainer}, {"format": "shiftlab-checkpoint", "config": config}))
    put("safetensors", "weights.safetensors", safetensors(model))
    put("safetensors", "regress-empty-shared-offset.safetensors",
        safetensors(None, raw_header='{"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},'
                    '"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                    '"z":{"dtype":"U8","shape":[2,0],"data_offsets":[0,0]}}') + f32(1))
    put("safetensors", "regress-deep-offsets.safetensors",
        safetensors(None, raw_header='{"w":{"dtype":"F32","shape":[1],"data_offsets":' + "[" * 5000 + "]" * 5000 + "}}"))
    put("safetensors", "regress-deep-config.safetensors",
        safetensors({}, {"config": "[" * 20000 + "]" * 20000}))
    put("safetensors", "regress-huge-epoch.safetensors",
        safetensors({**trainer, "trainer.epoch": ("F64", [], f64(1e300))}))

    # IDX, plain and gzip
    images = idx([2, 3, 3], bytes(range(18)))
    put("idx", "images.idx3", images)
    put("idx", "labels.idx1", idx([2], b"\x01\x09"))
    put("idx", "images.idx3.gz", gzip.compress(images, mtime=0))
    put("idx", "regress-gzip-trailer-cut.gz", gzip.compress(images, mtime=0)[:-8])
    put("idx", "regress-huge-dims.idx3", idx([65536, 65536, 65536], b"\0" * 8))
    put("idx", "regress-dims-wrap-to-zero.idx3", idx([65536, 8388608, 33554432], b""))

    # CIFAR binary: the first byte picks CIFAR-10 (even) or CIFAR-100 (odd)
    put("cifar", "cifar10_1.bin", b"\x00" + b"\x03" + bytes(i % 256 for i in range(3072)))
    put("cifar", "cifar100_1.bin", b"\x01" + b"\x02\x11" + bytes(i * 7 % 256 for i in range(3072)))

    # images (rgb_4x4.jpg and grey_3x2.jpg were written once with stb_image_write's stbi_write_jpg, 4x4 RGB at
    # quality 90 and 3x2 grey at 50: the standard library has no JPEG encoder, so they are kept as they are)
    put("image", "grey_4x3.png", png(4, 3, [bytes([0, 64, 128, 255])] * 3))
    put("image", "regress-aspect-bomb-1x40000.png", png(40000, 1, [bytes(40000)]))
    put("image", "rgb_2x2.ppm", b"P6\n2 2\n255\n" + bytes(range(12)))
    put("image", "grey_3x2.pgm", b"P5\n3 2\n255\n" + bytes(range(6)))
    bmp_row = bytes([0, 0, 255, 0, 255, 0]) + b"\0\0"  # 2 BGR pixels, padded to 4 bytes
    put("image", "bgr_2x2.bmp", b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) +
        struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, 16, 2835, 2835, 0, 0) + bmp_row * 2)

    # deploy models (`shiftlab export`'s format: safetensors, metadata "graph" JSON; see deploy/model.h)
    def deploy_model(graph, tensors):
        meta = {"format": "shiftlab-deploy", "version": "1", "graph": json.dumps(graph, separators=(",", ":")),
                "config": json.dumps({"dataset": "fashion-mnist", "arch": "mnist-conv"})}
        return safetensors(tensors, meta)
    graph = {"input": [2, 2, 2], "output": 3,
             "tensors": [{"hwc": [2, 2, 2], "scale": 0.1, "zero_point": 0, "dtype": "u8"},
                         {"hwc": [2, 2, 3], "scale": 0.05, "zero_point": 3, "dtype": "u8"},
                         {"hwc": [1, 1, 3], "scale": 0.05, "zero_point": 3, "dtype": "u8"},
                         {"hwc": [1, 1, 4], "scale": 1.0, "zero_point": 0, "dtype": "f32"}],
             "ops": [{"op": "conv", "name": "conv1", "weights": "apot 4-bit", "input": 0, "output": 1, "kernel": [1, 1],
                      "stride": 1, "pad": 0, "channels": [2, 3], "code_bits": 2, "relu": True,
                      "input_scale": 0.1, "input_zero_point": 0},
                     {"op": "global_avg_pool", "input": 1, "output": 2},
                     {"op": "conv", "name": "fc", "weights": "8-bit", "input": 2, "output": 3, "kernel": [1, 1],
                      "stride": 1, "pad": 0, "channels": [3, 4], "code_bits": 4, "relu": False}]}
    i8 = lambda *v: struct.pack("<%db" % len(v), *v)
    tensors = {"conv1.codes": ("U8", [2], bytes([0b11100100, 0b0001])), "conv1.levels": ("I8", [4], i8(-4, -1, 0, 2)),
               "conv1.out_scale": ("F32", [3], f32(0.5, 0.5, 0.25)), "conv1.bias": ("F32", [3], f32(0, 1, -1)),
               "conv1.input_map": ("U8", [256], bytes(min(i, 200) for i in range(256))),
               "fc.codes": ("U8", [6], bytes([0x10, 0x32, 0x54, 0x76, 0x10, 0x32])),
               "fc.levels": ("I8", [8], i8(-64, -8, -1, 0, 1, 3, 8, 64)),
               "fc.out_scale": ("F32", [4], f32(1, 1, 1, 1)), "fc.bias": ("F32", [4], f32(0, 0, 0, 0))}
    put("deploy", "tiny.deploy", deploy_model(graph, tensors))
    no_input = dict(graph)
    del no_input["input"]  # const operator[] on a missing key dereferenced end()
    put("deploy", "regress-missing-input.deploy", deploy_model(no_input, tensors))
    wrap = json.loads(json.dumps(graph))
    wrap["ops"][0].update({"kernel": [65536, 65536], "channels": [65536, 65536]})  # 2^64 weights: 0 in 64 bits
    put("deploy", "regress-weight-count-wraps.deploy", deploy_model(wrap, tensors))
    huge_scale = json.loads(json.dumps(graph))
    huge_scale["tensors"][1]["scale"] = 1e300  # double -> float outside its range
    huge_scale["ops"][0]["relu"] = "yes"
    put("deploy", "regress-huge-scale.deploy", deploy_model(huge_scale, tensors))

    # run configs
    put("config", "config.json", json.dumps({"dataset": "fashion-mnist", "epochs": 2, "lr": 0.1, "threads": 2,
                                            "seed": 7, "lr_milestones": [1, 2], "nesterov": True}))
    put("config", "regress-deep-nesting.json", '{"dataset": ' + "[" * 20000 + "]" * 20000 + "}")
    put("config", "regress-threads-2pow53.json", '{"threads": 9007199254740992}')
    put("config", "regress-seed-2pow64.json", '{"seed": 18446744073709551616, "subset": 18446744073709551615}')


if __name__ == "__main__":
    main()
