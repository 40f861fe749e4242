#!/usr/bin/python3
"""Reads a NativeNet model (safetensors, format version 2) with numpy alone and checks it against NativeNet.

Knows nothing of NativeNet's code: everything it needs is in the file. It verifies the sha256 metadata (SHA-256 of
the whole file with those 64 hex digits read as '0'), loads the F32 tensors, builds the forward pass from the 'layers'
metadata (dense, conv, max/avg/L2 pooling, sigmoid/tanh/relu/linear/softmax, inference dropout scaling by 1 - p),
runs it on the images of an IDX file (raw or .gz; pixels / 255) and compares with the outputs NativeNet wrote
(little-endian float32, one row of class scores per image).

    /usr/bin/python3 tests/python/numpy_forward.py MODEL.safetensors IMAGES-idx3-ubyte PREDICTIONS.f32 [--tolerance 1e-4]

Prints one line and exits 0 when every output agrees within the tolerance and every image gets the same class
(except near-ties closer than the tolerance, which are counted); 1 when they disagree; 2 for a malformed input.
"""
import argparse
import gzip
import hashlib
import json
import struct
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class FormatError(Exception):
    pass


def read_model(path):
    """The metadata and a dict name -> float32 array of the declared shape, after checking the checksum."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise FormatError(f"{path}: {len(data)} bytes, too short for a header")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise FormatError(f"{path}: header length {header_len} runs past the end")
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    meta = header.pop("__metadata__")
    if meta.get("format") != "nativenet" or meta.get("version") != "2":
        raise FormatError(f"{path}: format {meta.get('format')!r} version {meta.get('version')!r}; expected nativenet 2")

    # sha256 covers the whole file, its own 64 digits read as '0'.
    digest = meta["sha256"]
    field = b'"sha256":"' + digest.encode("ascii") + b'"'
    at = data.find(field, 8, 8 + header_len)
    if at < 0:
        raise FormatError(f"{path}: the sha256 field is not written as the format says")
    zeroed = data[:at] + b'"sha256":"' + b"0" * 64 + b'"' + data[at + len(field) :]
    actual = hashlib.sha256(zeroed).hexdigest()
    if actual != digest:
        raise FormatError(f"{path}: checksum {actual} but the header says {digest}")

    start = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise FormatError(f"{path}: tensor {name} is {entry['dtype']}")
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=start + begin)
        tensors[name] = values.reshape(entry["shape"])
    return meta, tensors


def activate(z, name):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "linear":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise FormatError(f"unknown activation {name!r}")


def windows(x, size, stride):
    """[N, C, H, W] -> [N, C, OH, OW, size, size]: every size x size window, stride apart, none past the edge."""
    return sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]


def forward(layers, tensors, x):
    """x: [N, features] float64 in [0, 1]; returns [N, classes]."""
    shape = layers[0]["input"]
    x = x.reshape([x.shape[0]] + shape)
    for layer in layers:
        kind = layer["kind"]
        if kind == "conv":
            w = tensors[layer["weight"]].astype(np.float64)  # [F, C, k, k]
            b = tensors[layer["bias"]].astype(np.float64)
            p = layer["padding"]
            if p:
                x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
            win = windows(x, layer["kernel"], layer["stride"])  # [N, C, OH, OW, k, k]
            z = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # [N, OH, OW, F]
            x = activate(z.transpose(0, 3, 1, 2) + b[None, :, None, None], layer["activation"])
        elif kind in ("maxpool", "avgpool", "l2pool"):
            win = windows(x, layer["window"], layer["stride"])
            if kind == "maxpool":
                x = win.max(axis=(4, 5))
            elif kind == "avgpool":
                x = win.mean(axis=(4, 5))
            else:
                x = np.sqrt((win * win).sum(axis=(4, 5)))
        elif kind in ("dense", "output"):
            w = tensors[layer["weight"]].astype(np.float64)  # [units, inputs]
            b = tensors[layer["bias"]].astype(np.float64)
            flat = x.reshape(x.shape[0], -1)  # [channels, height, width] order
            z = (1.0 - layer["dropout"]) * (flat @ w.T) + b
            x = activate(z, layer["activation"])
        else:
            raise FormatError(f"unknown layer kind {kind!r}")
    return x


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x00000803:
        raise FormatError(f"{path}: not an IDX file of unsigned bytes with 3 dimensions")
    pixels = np.frombuffer(data, dtype=np.uint8, count=count * rows * cols, offset=16)
    # NativeNet's pixels are byte / 255 in float32.
    return (pixels.astype(np.float32) / np.float32(255)).reshape(count, rows * cols)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("images")
    parser.add_argument("predictions")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    try:
        meta, tensors = read_model(args.model)
        layers = json.loads(meta["layers"])
        used = {layer[k] for layer in layers for k in ("weight", "bias") if k in layer}
        if used != set(tensors):
            raise FormatError(f"tensors {sorted(set(tensors) ^ used)} are not exactly the layers' weights and biases")
        images = read_idx_images(args.images)
        classes = layers[-1]["output"][0]
        expected = np.fromfile(args.predictions, dtype="<f4")
        if expected.size != images.shape[0] * classes:
            raise FormatError(f"{args.predictions}: {expected.size} values, expected {images.shape[0]} x {classes}")
        expected = expected.reshape(images.shape[0], classes).astype(np.float64)
    except (FormatError, KeyError, ValueError, OSError) as e:
        print(f"error: {e}")
        return 2

    ours = np.concatenate([forward(layers, tensors, images[i : i + 500].astype(np.float64)) for i in range(0, len(images), 500)])
    diff = np.abs(ours - expected)
    worst = float(diff.max())
    top2 = np.sort(ours, axis=1)[:, -2:]
    near_tie = (top2[:, 1] - top2[:, 0]) < args.tolerance
    disagree = ours.argmax(axis=1) != expected.argmax(axis=1)
    real = int((disagree & ~near_tie).sum())
    summary = (f"{len(images)} images, {len(layers)} layers ({' '.join(l['kind'] for l in layers)}), sha256 verified, "
               f"max |numpy - NativeNet| {worst:.3g}, class disagreements {int(disagree.sum())} ({int((disagree & near_tie).sum())} near-ties)")
    if worst > args.tolerance or real > 0:
        print(f"MISMATCH: {summary}")
        return 1
    print(f"OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
