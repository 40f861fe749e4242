"""PyTorch's trajectory from NativeNet's initial weights, for the training-parity test.

Reads a network written by `nativenet init`, trains it with plain SGD on mini-batches of the MNIST training images
taken in order (step s uses images [s*m, (s+1)*m)), NativeNet's update (W <- (1 - eta lambda / n) W - eta mean grad,
biases not decayed), and writes NAME.json (the recipe, the cost of every step's batch before its update, SHA-256 of
the initial parameters) and NAME.final.f32 (the parameters after the last step, float32 in NativeNet's order).

Usage (from the repository root):
  nativenet init --preset ch6-relu --seed 1 --out /tmp/ch6-relu-init.safetensors
  /usr/bin/python3 tools/parity/trajectory.py /tmp/ch6-relu-init.safetensors data/mnist OUT_DIR/ch6-relu --steps 200 --eta 0.03 --lambda 1.0
"""
import argparse
import hashlib
import json
import os
import sys

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
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--eta", type=float, required=True)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.0)
    ap.add_argument("--n", type=int, default=50000, help="training-set size in lambda / n")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tensors, meta = nativenet_model.read_safetensors(args.model)
    net = nativenet_model.SpecNetwork(meta["architecture"], tensors)
    initial = nativenet_model.flat_parameters(net)
    train_x, train_y, _, _ = mnist_idx.load(args.data)
    l2_over_n = np.float32(args.lam) / np.float32(args.n)
    costs = []
    for step in range(args.steps):
        lo = step * args.batch
        x = torch.from_numpy(train_x[lo:lo + args.batch])
        y = torch.from_numpy(train_y[lo:lo + args.batch])
        loss = net.cost(net(x), y)
        costs.append(float(loss.item()))
        loss.backward()
        nativenet_model.sgd_step(net, args.eta, l2_over_n)
    final = nativenet_model.flat_parameters(net)
    with open(args.out + ".final.f32", "wb") as f:
        f.write(final.tobytes())
    record = {
        "architecture": meta["architecture"], "init": meta.get("init"), "seed": int(meta.get("seed", "0")),
        "steps": args.steps, "batch": args.batch, "eta": args.eta, "lambda": args.lam, "n": args.n,
        "batches": "training images [step * batch, (step + 1) * batch) in order",
        "initial_sha256": hashlib.sha256(initial.tobytes()).hexdigest(),
        "parameter_sizes": [int(p.numel()) for p in net.params],
        "costs": costs, "torch": torch.__version__,
    }
    with open(args.out + ".json", "w") as f:
        json.dump(record, f, indent=1)
    print(f"{args.out}: cost {costs[0]:.4f} -> {costs[-1]:.4f} over {args.steps} steps")


if __name__ == "__main__":
    main()
