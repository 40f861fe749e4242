"""Whole epochs of a NativeNet network in PyTorch from NativeNet's initial weights, reporting validation accuracy.

The same recipe as `nativenet train` (batch m, plain SGD with W <- (1 - eta lambda / n) W - eta mean grad, biases not
decayed, training images 0..49,999, validation 50,000..59,999), with the training order either fixed (network3's) or
reshuffled every epoch. One JSON line per epoch.

Usage: /usr/bin/python3 tools/parity/epochs.py INIT.safetensors data/mnist --epochs 2 --eta 0.03 --lambda 1.0 [--shuffle-seed S]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mnist_idx  # noqa: E402
import nativenet_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--eta", type=float, required=True)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.0)
    ap.add_argument("--shuffle-seed", type=int, default=None, help="reshuffle every epoch from this seed; omit for a fixed order")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tensors, meta = nativenet_model.read_safetensors(args.model)
    net = nativenet_model.SpecNetwork(meta["architecture"], tensors)
    x_all, y_all, _, _ = mnist_idx.load(args.data)
    train_x, train_y = torch.from_numpy(x_all[:50000]), torch.from_numpy(y_all[:50000])
    val_x, val_y = torch.from_numpy(x_all[50000:]), torch.from_numpy(y_all[50000:])
    l2_over_n = np.float32(args.lam) / np.float32(50000)
    rng = np.random.RandomState(args.shuffle_seed) if args.shuffle_seed is not None else None
    order = np.arange(50000)
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        if rng is not None:
            rng.shuffle(order)
        for b in range(50000 // args.batch):
            idx = torch.from_numpy(order[b * args.batch:(b + 1) * args.batch])
            loss = net.cost(net(train_x[idx]), train_y[idx])
            loss.backward()
            nativenet_model.sgd_step(net, args.eta, l2_over_n)
        with torch.no_grad():
            correct = sum(int((net(val_x[i:i + 1000]).argmax(1) == val_y[i:i + 1000]).sum()) for i in range(0, 10000, 1000))
        print(json.dumps({"framework": "pytorch " + torch.__version__, "architecture": meta["architecture"], "init_seed": int(meta.get("seed", "0")),
                          "shuffle_seed": args.shuffle_seed, "epoch": epoch, "validation_accuracy": correct / 10000,
                          "seconds": round(time.time() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
