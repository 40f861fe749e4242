#!/usr/bin/python3
# Cross-check for `nativenet baseline svm`: scikit-learn's SVC (libsvm) with the book's settings (RBF kernel,
# C = 1, gamma = 1/784, pixels byte/255) on the first N training and first M test images of data/mnist.
#
#   /usr/bin/python3 tools/svm-reference.py N M      (Debian: apt-get install python3-sklearn)
#
# Prints the test accuracy, the number of support vectors and the training time, for comparison with
#   nativenet baseline svm --train-size N --test-size M --json
# Not used by the tests or CI.
import sys, time
from pathlib import Path
import numpy as np
from sklearn.svm import SVC

def idx(path):
    data = path.read_bytes()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)

root = Path(__file__).resolve().parent.parent / "data" / "mnist"
n, m = int(sys.argv[1]), int(sys.argv[2])
x = idx(root / "train-images-idx3-ubyte").reshape(-1, 784)[:n].astype(np.float32) / 255
y = idx(root / "train-labels-idx1-ubyte")[:n]
xt = idx(root / "t10k-images-idx3-ubyte").reshape(-1, 784)[:m].astype(np.float32) / 255
yt = idx(root / "t10k-labels-idx1-ubyte")[:m]
start = time.time()
svm = SVC(C=1.0, kernel="rbf", gamma=1 / 784, cache_size=1000).fit(x, y)
seconds = time.time() - start
accuracy = float((svm.predict(xt) == yt).mean())
print(f'{{"train": {n}, "test": {m}, "test_accuracy": {accuracy}, "support_vectors": {int(svm.n_support_.sum())}, "train_seconds": {seconds:.1f}}}')
