"""Trains two small MNIST networks in PyTorch, exports them with torch.onnx.export(opset_version=13) and records
PyTorch's predictions on the 10,000 test images, as test fixtures for NativeNet's ONNX importer.

  ch6: the book's chapter-6 network: conv 20 5x5 ReLU, maxpool 2, conv 40 5x5 ReLU, maxpool 2, flatten,
       dense 100 ReLU (nn.Linear: Gemm), dense 10, softmax.
  fc:  784 -> 100 sigmoid written as x @ W + b (exported as MatMul + Add), dropout 0.2 (an inference no-op), nn.Linear
       100 -> 10, log-softmax.

Each model NAME gives NAME.onnx and NAME.expected.bin: 10,000 predicted classes (uint8), then the probability of the
predicted class for each image (10,000 float32), then all ten probabilities of the first 1,000 images (10,000 float32),
little-endian. Probabilities are softmax outputs (exp of the log-softmax for fc).

Usage (from the repository root): /usr/bin/python3 tools/onnx/make_fixtures.py data/mnist tests/NativeNet.Onnx.Tests/Fixtures/pytorch
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mnist_idx  # noqa: E402


class Ch6(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 40, 5)
        self.fc = nn.Linear(40 * 4 * 4, 100)
        self.out = nn.Linear(100, 10)

    def logits(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.out(F.relu(self.fc(x)))

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class Fc(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(784, 100) / 28.0)
        self.b = nn.Parameter(torch.zeros(100))
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(100, 10)

    def logits(self, x):
        return self.out(self.drop(torch.sigmoid(x @ self.w + self.b)))

    def forward(self, x):
        return F.log_softmax(self.logits(x), dim=1)


def train(model, images, labels, epochs, lr, batch):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(5)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(model.logits(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def record(model, name, example, test_x, test_y, out_dir):
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, example, path, opset_version=13, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, do_constant_folding=True)
    with torch.no_grad():
        out = model(test_x)
        probs = out.exp() if isinstance(model, Fc) else out
    probs = probs.numpy().astype(np.float32)
    classes = probs.argmax(axis=1).astype(np.uint8)
    top = probs[np.arange(len(classes)), classes].astype("<f4")
    with open(os.path.join(out_dir, name + ".expected.bin"), "wb") as f:
        f.write(classes.tobytes())
        f.write(top.tobytes())
        f.write(probs[:1000].astype("<f4").tobytes())
    accuracy = float((classes == test_y.numpy()).mean())
    print(f"{name}: test accuracy {accuracy * 100:.2f}%, {os.path.getsize(path)} bytes of ONNX")


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(1)
    torch.set_num_threads(2)
    train_x, train_y, test_x, test_y = mnist_idx.load(data_dir)
    train_x, train_y = torch.from_numpy(train_x[:50000]), torch.from_numpy(train_y[:50000])
    test_x, test_y = torch.from_numpy(test_x), torch.from_numpy(test_y)

    ch6 = Ch6()
    train(ch6, train_x.reshape(-1, 1, 28, 28), train_y, epochs=1, lr=0.05, batch=20)
    record(ch6, "ch6", torch.zeros(1, 1, 28, 28), test_x.reshape(-1, 1, 28, 28), test_y, out_dir)

    fc = Fc()
    train(fc, train_x, train_y, epochs=1, lr=0.5, batch=10)
    record(fc, "fc", torch.zeros(1, 784), test_x, test_y, out_dir)


if __name__ == "__main__":
    main()
