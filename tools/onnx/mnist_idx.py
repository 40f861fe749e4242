"""Reads MNIST's IDX files (raw or .gz) with numpy: the same bytes NativeNet.Data reads, pixels as byte / 255 in float32."""
import gzip
import os

import numpy as np


def read_idx(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(directory):
    """(train images [60000, 784] float32, train labels, test images [10000, 784], test labels), pixels byte / 255."""
    def images(name):
        raw = read_idx(directory, name)
        return raw.reshape(raw.shape[0], -1).astype(np.float32) / np.float32(255)
    return (images("train-images-idx3-ubyte"), read_idx(directory, "train-labels-idx1-ubyte").astype(np.int64),
            images("t10k-images-idx3-ubyte"), read_idx(directory, "t10k-labels-idx1-ubyte").astype(np.int64))
