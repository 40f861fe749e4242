"""The speed anchor for `nativenet bench train` / `bench infer`: the same networks and steps in PyTorch (Debian's
python3-torch), on the CPU with a given thread count, timed the same way (a warm-up, then timed mini-batches
extrapolated to a 50,000-image epoch; single-image latency as the median of blocks of calls). One JSON line per figure.

The networks are the presets' (see `nativenet presets`): ch1 = [784, 30, 10] sigmoid with the quadratic cost, eta 3.0,
batch 10; ch6-relu = conv 20 5x5 relu, max-pool 2, conv 40 5x5 relu, max-pool 2, dense 100 relu, softmax, eta 0.03,
L2. Idiomatic PyTorch: nn.Module layers, torch.optim.SGD, F.cross_entropy / F.mse_loss. Data are MNIST's training
images in file order.

Usage: /usr/bin/python3 tools/bench/pytorch_speed.py data/mnist --threads 2 [--batches 2000] [--calls 2000]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx"))
import mnist_idx  # noqa: E402


class Ch1(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 30)
        self.out = nn.Linear(30, 10)

    def forward(self, x):
        return torch.sigmoid(self.out(torch.sigmoid(self.hidden(x))))


class Ch6Relu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 40, 5)
        self.fc = nn.Linear(640, 100)
        self.out = nn.Linear(100, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x.view(-1, 1, 28, 28))), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.out(F.relu(self.fc(x.flatten(1))))


def train_epoch_seconds(name, net, loss_fn, optimizer, images, targets, batch, batches):
    """Seconds per 50,000-image epoch, from `batches` timed steps after a warm-up of 50."""
    def step(b):
        i = (b * batch) % (50000 - batch)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(images[i:i + batch]), targets[i:i + batch])
        loss.backward()
        optimizer.step()
    for b in range(50):
        step(b)
    start = time.perf_counter()
    for b in range(batches):
        step(b)
    seconds = time.perf_counter() - start
    return {"figure": "train", "preset": name, "batch": batch, "timed_batches": batches,
            "epoch_seconds": round(seconds / (batches * batch) * 50000, 4), "images_per_second": round(batches * batch / seconds, 1)}


def latency_us(name, net, image, calls):
    """Median microseconds per single-image forward pass over blocks of 100 calls."""
    blocks = []
    with torch.no_grad():
        for _ in range(200):
            net(image)
        for _ in range(max(1, calls // 100)):
            start = time.perf_counter()
            for _ in range(100):
                net(image)
            blocks.append((time.perf_counter() - start) / 100 * 1e6)
    return {"figure": "infer", "preset": name, "latency_us": round(float(np.median(blocks)), 2), "single_calls": calls}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, default=2000, help="timed mini-batches of 10 (batch 64: a sixth as many)")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--only", default="ch1,ch6-relu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x, y, _, _ = mnist_idx.load(args.data)
    images = torch.from_numpy(x[:50000])
    labels = torch.from_numpy(y[:50000])
    meta = {"framework": "pytorch " + torch.__version__, "threads": args.threads}
    if "ch1" in args.only:
        net = Ch1()
        one_hot = F.one_hot(labels, 10).float()
        opt = torch.optim.SGD(net.parameters(), lr=3.0)
        print(json.dumps({**meta, **train_epoch_seconds("ch1", net, lambda a, t: F.mse_loss(a, t, reduction="sum") / (2 * a.shape[0]),
                                                        opt, images, one_hot, 10, args.batches)}), flush=True)
        print(json.dumps({**meta, **latency_us("ch1", net, images[:1], args.calls)}), flush=True)
    if "ch6-relu" in args.only:
        for batch in (10, 64):
            net = Ch6Relu()
            opt = torch.optim.SGD(net.parameters(), lr=0.03, weight_decay=1.0 / 50000)
            batches = args.batches if batch == 10 else max(1, args.batches // 6)
            print(json.dumps({**meta, **train_epoch_seconds("ch6-relu", net, F.cross_entropy, opt, images, labels, batch, batches)}), flush=True)
        print(json.dumps({**meta, **latency_us("ch6-relu", net, images[:1], args.calls)}), flush=True)


if __name__ == "__main__":
    main()
