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


def tiny_train_config(tmp_path, tree, lfw, **overrides):
    """The smoke preset on `tree` and the LFW-like folder `lfw` (`write_lfw`): 32x32 MobiFace,
    16-d, validated on fold 10, run folder `tmp_path/run`; `overrides` as strings."""
    from mobiface_tf.train.config import resolve_config

    values = {"train_data": str(tree), "lfw_dir": str(lfw), "lfw_aligned": str(lfw / "images"), "input_size": "32",
              "embedding_size": "16", "run_dir": str(tmp_path / "run"), "progress": "false"}
    values.update(overrides)
    return resolve_config("smoke", values)


def train_command(*flags):
    """`mobiface-train` run with this interpreter and the given flags."""
    return [sys.executable, "-m", "mobiface_tf.cli.train", *flags]


def run_workers(command, env, count=2, timeout=300):
    """Run `command` as `count` MultiWorkerMirroredStrategy workers on localhost (TF_CONFIG set per
    process, `env` otherwise); returns their (return code, combined output), chief first."""
    import json
    import os
    import subprocess

    cluster = {"worker": [f"localhost:{free_port()}" for _ in range(count)]}
    workers = []
    for index in range(count):
        worker_env = dict(os.environ, **env,
                          TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(command, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True))
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=timeout)[0])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    return [(worker.returncode, output) for worker, output in zip(workers, outputs)]


def assert_same_trainable_weights(path_a, path_b):
    """Two workers' saved models agree exactly in their trainable weights (gradients are all-reduced);
    BatchNorm moving statistics are per replica (no sync BN) and are expected to differ."""
    import keras

    import mobiface_tf.models.contract  # noqa: F401  registers FaceModel for loading

    a_model, b_model = keras.saving.load_model(path_a), keras.saving.load_model(path_b)
    for a, b in zip(a_model.trainable_weights, b_model.trainable_weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)


def free_port():
    """A TCP port on localhost nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def tiny_model(seed=0, embedding_size=TINY_EMBEDDING_SIZE):
    """A small in-memory Keras embedding model: 112x112 RGB in, (N, D) out, last layer "embedding"."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((112, 112, 3))
    x = keras.layers.Rescaling(1 / 128.0, offset=-127.5 / 128.0, name="normalize")(inputs)
    x = keras.layers.Conv2D(8, 5, strides=4, activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(embedding_size, name="embedding")(x)
    return keras.Model(inputs, outputs, name="tiny")


def write_tiny_model(path, seed=0, embedding_size=TINY_EMBEDDING_SIZE):
    """The model of `tiny_model` saved at `path`: loads in ~1 s."""
    tiny_model(seed, embedding_size).save(path)
    return path


def write_tiny_tflite(path, seed=0, embedding_size=TINY_EMBEDDING_SIZE, batch_size=2, metadata=True):
    """The model of `write_tiny_model` as a float32 `.tflite` with a FIXED batch (like some public
    face models), plus its `<file>.json` metadata (normalization inside the model) if `metadata`."""
    import json
    from pathlib import Path

    import keras
    import tensorflow as tf

    from mobiface_tf.embedding import default_metadata

    path = Path(path)
    keras_path = write_tiny_model(path.with_suffix(".keras"), seed=seed, embedding_size=embedding_size)
    model = keras.saving.load_model(keras_path)
    inputs = keras.Input((112, 112, 3), batch_size=batch_size)
    fixed = keras.Model(inputs, model(inputs))
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(fixed).convert())
    if metadata:
        meta = default_metadata(path.stem, embedding_size)
        path.with_name(path.name + ".json").write_text(json.dumps(meta))
    return path


def train_tiny_run(run_dir, train_dir, *, lfw_dir=None, **overrides):
    """A finished tiny training run (smoke preset, 32x32 MobiFace, 16-d) in `run_dir`, trained
    in-process on the identity tree `train_dir`; validates on `lfw_dir`'s fold 10 when given.
    Returns the trainer's summary dict."""
    from mobiface_tf.train import trainer
    from mobiface_tf.train.config import resolve_config

    values = {"train_data": str(train_dir), "input_size": "32", "embedding_size": "16",
              "run_dir": str(run_dir), "progress": "false", "lfw_train": "false"}
    if lfw_dir is not None:
        values.update(lfw_dir=str(lfw_dir), lfw_aligned=str(lfw_dir / "images"))
    values.update(overrides)
    return trainer.train(resolve_config("smoke", values), log=lambda line: None)


def write_tiny_insightface_folder(root, identities=5, per_identity=4, bins=("lfw", "cfp_fp"), pairs=6):
    """An InsightFace dataset folder `root` made with the project's converter: train.rec, train.idx and
    property of a synthetic identity tree (`write_identity_tree`), and one small verification .bin of
    synthetic pairs per name in `bins` (half genuine, half impostor)."""
    from mobiface_tf.cli.convert import convert
    from mobiface_tf.data.sources import write_verification_bin

    tree = write_identity_tree(root.with_name(root.name + "_tree"), [f"id{i}" for i in range(identities)],
                               per_identity=per_identity)
    convert(tree, root / "train.rec", log=lambda line: None)
    rng = np.random.default_rng(2)
    for name in bins:
        faces = rng.integers(0, 256, (2 * pairs, 112, 112, 3)).astype(np.uint8)
        write_verification_bin(root / f"{name}.bin", faces, [i % 2 == 0 for i in range(pairs)], image_format="PNG")
    return root


def write_lfw_insightface_folder(folder, lfw_dir, identities, per_identity=3, pairs=60, seed=0):
    """A synthetic InsightFace dataset folder `folder` made from the shared LFW by the project's own code.

    Each of `identities` identities is `per_identity` augmented views (`data.pipeline.augment_face`:
    flip, crop jitter, colour, blur) of one LFW photo of a person of folds 1-9 (people.txt), aligned from
    `landmarks_5pt.txt`; the views are written as an aligned tree and converted by `mobiface-convert`'s
    `convert` into train.rec, train.idx and property. `lfw.bin` holds `pairs` pairs of fold 10 (half
    genuine, half impostor), whose people are never trained on. With more identities than photos, photos
    are reused (a reused photo is another identity's, seen through other augmentations).

    Returns (number of images, number of identities).
    """
    import shutil
    from pathlib import Path

    import tensorflow as tf

    from mobiface_tf.cli.convert import convert
    from mobiface_tf.data.pipeline import augment_face
    from mobiface_tf.data.sources import read_landmarks, read_pairs, read_people, write_verification_bin
    from mobiface_tf.eval.lfw import align_images, lfw_images_dir

    lfw_dir, folder = Path(lfw_dir), Path(folder)
    landmarks = lfw_dir / "landmarks_5pt.txt"
    people = {name for fold in read_people(lfw_dir / "people.txt")[:9] for name, _ in fold}
    images = lfw_images_dir(lfw_dir)
    # landmarks_5pt.txt lists one photo the LFW copy lacks (Betsy_Coffin_0001).
    photos = sorted(relpath for relpath in read_landmarks(landmarks)
                    if relpath.split("/")[0] in people and (images / relpath).is_file())
    chosen = [photos[i % len(photos)] for i in range(identities)]
    unique = sorted(set(chosen))
    aligned, _ = align_images(images, unique, "landmarks", landmarks_file=landmarks)
    row = {relpath: i for i, relpath in enumerate(unique)}
    base = tf.constant(aligned[[row[relpath] for relpath in chosen]])

    def view(index):
        face = tf.cast(base[index // per_identity], tf.float32)
        image = augment_face(face, tf.stack([tf.constant(seed, tf.int64), index]))
        return index, tf.io.encode_jpeg(tf.cast(tf.round(image), tf.uint8), quality=90)

    tree = folder.with_name(folder.name + "_tree")
    shutil.rmtree(tree, ignore_errors=True)
    width = len(str(identities - 1))
    views = tf.data.Dataset.range(identities * per_identity).map(view, num_parallel_calls=tf.data.AUTOTUNE)
    for index, jpeg in views.as_numpy_iterator():
        target = tree / f"{index // per_identity:0{width}d}" / f"{index % per_identity}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(jpeg)
    folder.mkdir(parents=True, exist_ok=True)
    summary = convert(tree, folder / "train.rec", overwrite=True, log=lambda line: None)
    shutil.rmtree(tree)

    fold10 = [pair for pair in read_pairs(lfw_dir / "pairs.txt") if pair.fold == 9]
    chosen_pairs = [p for p in fold10 if p.same][: pairs // 2] + [p for p in fold10 if not p.same][: pairs - pairs // 2]
    relpaths = [relpath for p in chosen_pairs for relpath in (p.relpath_a, p.relpath_b)]
    faces, _ = align_images(images, relpaths, "landmarks", landmarks_file=landmarks)
    write_verification_bin(folder / "lfw.bin", faces, [p.same for p in chosen_pairs])
    return summary["written"], summary["classes"]
