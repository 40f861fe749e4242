"""Reads a NativeNet model file (safetensors) with json and numpy only, and builds the same network in PyTorch.

Convolution weights are reshaped by their declared shape's product to [F, C, k, k], so this works whether a file
stores them [F, C*k*k] (format version 1) or [F, C, kh, kw]. Only the layers the parity runs use are built:
input, conv F K relu|sigmoid|tanh|linear, maxpool W, dense U ACT, output U softmax|sigmoid-ce.
"""
import hashlib
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    meta = header.pop("__metadata__", {})
    body = data[8 + header_len:]
    if "sha256" in meta and hashlib.sha256(body).hexdigest() != meta["sha256"]:
        raise ValueError(f"{path}: data checksum does not match the header")
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype="<f4").reshape(entry["shape"])
    return tensors, meta


ACTIVATIONS = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "linear": lambda x: x, "identity": lambda x: x}


class SpecNetwork(torch.nn.Module):
    """The network of a NativeNet architecture string, with parameters in NativeNet's order (weight, bias per layer)."""

    def __init__(self, spec, tensors):
        super().__init__()
        self.layers = []
        self.params = torch.nn.ParameterList()
        parts = [p.split() for p in spec.split("|")]
        dims = [int(d) for d in parts[0][1].split("x")]
        self.input_shape = dims if len(dims) == 3 else [dims[0]]
        for index, words in enumerate(parts[1:]):
            kind = words[0]
            if kind in ("conv", "dense", "output"):
                w = tensors[f"layers.{index}.weight"]
                b = tensors[f"layers.{index}.bias"]
                if kind == "conv":
                    filters, k = int(words[1]), int(words[2])
                    w = w.reshape(filters, w.size // (filters * k * k), k, k)
                    if any(o.startswith(("stride=", "pad=")) for o in words[4:]):
                        raise ValueError("stride and padding are not used by the parity networks")
                    act = words[3]
                else:
                    act = words[2]
                    if any(o.startswith("dropout=") for o in words[3:]):
                        raise ValueError("dropout is not used by the parity networks")
                wp = torch.nn.Parameter(torch.from_numpy(w.copy()))
                bp = torch.nn.Parameter(torch.from_numpy(b.copy()))
                self.params.append(wp)
                self.params.append(bp)
                self.layers.append((kind, act, wp, bp))
            elif kind == "maxpool":
                self.layers.append((kind, int(words[1]), None, None))
            else:
                raise ValueError(f"layer kind {kind} is not supported here")
        self.output = parts[-1][2]

    def forward(self, x):
        """Pre-activation of the output layer (logits); the cost applies softmax or sigmoid."""
        x = x.reshape([x.shape[0]] + self.input_shape)
        for kind, arg, w, b in self.layers:
            if kind == "conv":
                x = ACTIVATIONS[arg](F.conv2d(x, w, b))
            elif kind == "maxpool":
                x = F.max_pool2d(x, arg)
            elif kind == "dense":
                x = ACTIVATIONS[arg](F.linear(x.reshape(x.shape[0], -1), w, b))
            else:
                x = F.linear(x.reshape(x.shape[0], -1), w, b)
        return x

    def cost(self, logits, labels):
        """The mean cost of the batch, NativeNet's definitions: -ln a_y for softmax, sum of binary cross-entropies for sigmoid-ce."""
        if self.output == "softmax":
            return F.cross_entropy(logits, labels)
        if self.output == "sigmoid-ce":
            y = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
            return F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / logits.shape[0]
        raise ValueError(f"output {self.output} is not supported here")

    def weights(self):
        return [p for i, p in enumerate(self.params) if i % 2 == 0]


def flat_parameters(net):
    """Every parameter as float32 in NativeNet's order and layout (conv [F, C*k*k] rows are [F, C, k, k] flattened)."""
    return np.concatenate([p.detach().numpy().astype("<f4").ravel() for p in net.params])


def sgd_step(net, eta, l2_over_n):
    """NativeNet's step: W <- (1 - eta lambda / n) W - eta * mean gradient; biases without decay."""
    decay = np.float32(1) - np.float32(eta) * np.float32(l2_over_n)
    with torch.no_grad():
        for i, p in enumerate(net.params):
            if i % 2 == 0:
                p.mul_(float(decay))
            p.sub_(float(np.float32(eta)) * p.grad)
            p.grad = None
