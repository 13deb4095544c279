"""Tiny synthetic test inputs shared by several test modules: face trees, an LFW-like folder, a small model."""

import socket
import sys

import numpy as np
from PIL import Image

TINY_EMBEDDING_SIZE = 32


def write_identity_tree(root, names, per_identity=4, seed=0):
    """`root/<name>/<name>_000k.jpg`: 112x112 JPEGs, each identity a noisy copy of its own pattern."""
    rng = np.random.default_rng(seed)
    for name in names:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, (112, 112, 3))
        for k in range(1, per_identity + 1):
            image = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(folder / f"{name}_{k:04d}.jpg", quality=90)
    return root


def write_lfw(root, pairs_per_fold=3):
    """An LFW-like folder: 10 folds of 2 people each in people.txt, aligned 112x112 crops in
    images/, and pairs.txt with `pairs_per_fold` matched and mismatched pairs per fold."""
    folds = [[f"P{f}_{i}" for i in range(2)] for f in range(10)]
    write_identity_tree(root / "images", [n for fold in folds for n in fold], per_identity=3, seed=1)
    people = ["10"]
    pairs = [f"10 {pairs_per_fold}"]
    for a, b in folds:
        people += ["2", f"{a}\t3", f"{b}\t3"]
        same = [(a, 1, 2), (b, 2, 3), (a, 1, 3), (b, 1, 2)][:pairs_per_fold]
        pairs += [f"{n}\t{i}\t{j}" for n, i, j in same]
        pairs += [f"{a}\t{k}\t{b}\t{k}" for k in range(1, pairs_per_fold + 1)]
    (root / "people.txt").write_text("\n".join(people) + "\n")
    (root / "pairs.txt").write_text("\n".join(pairs) + "\n")
    return root


def train_command(*flags):
    """`mobiface-train` run with this interpreter and the given flags."""
    return [sys.executable, "-m", "mobiface_tf.cli.train", *flags]


def free_port():
    """A TCP port on localhost nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def write_tiny_model(path, seed=0, embedding_size=TINY_EMBEDDING_SIZE):
    """A small Keras embedding model (112x112 RGB in, (N, D) out) saved at `path`: loads in ~1 s."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((112, 112, 3))
    x = keras.layers.Rescaling(1 / 128.0, offset=-127.5 / 128.0, name="normalize")(inputs)
    x = keras.layers.Conv2D(8, 5, strides=4, activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(embedding_size, name="embedding")(x)
    keras.Model(inputs, outputs, name="tiny").save(path)
    return path
