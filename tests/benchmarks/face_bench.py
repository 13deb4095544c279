"""What the face benchmarks share: the data folders, seeded samples, LFW's landmark file and the LFW pairs of chosen folds."""

import sys
from pathlib import Path

import numpy as np


def data_folders(data=None):
    """`(lfw_dir, celeba_dir)` under `data` (default: MOBIFACE_DATA or ../shared/data); one line and exit when either is missing."""
    from mobiface_tf import paths

    data = Path(data) if data else paths.data_root()
    lfw_dir, celeba_dir = data / "lfw", data / "celeba_subset"
    for folder in (lfw_dir, celeba_dir):
        if not folder.is_dir():
            sys.exit(f"error: {folder} not found (pass --data or set MOBIFACE_DATA)")
    return lfw_dir, celeba_dir


def seeded_sample(items, count, seed):
    """`count` of `items` drawn with `seed`, in sorted order; all of them, sorted, when `count` is 0 or more than there are."""
    items = sorted(items)
    if count <= 0 or count >= len(items):
        return items
    rng = np.random.default_rng(seed)
    return [items[i] for i in sorted(rng.choice(len(items), size=count, replace=False))]


def file_landmarks(lfw_dir):
    """`landmarks_5pt.txt` as {relpath: (5, 2) points}, for the images the LFW copy has.

    The file lists an image the shared copy lacks (Betsy_Coffin_0001): benchmarks measure what exists.
    """
    from mobiface_tf.data.sources import read_landmarks

    lfw_dir = Path(lfw_dir)
    points = read_landmarks(lfw_dir / "landmarks_5pt.txt")
    return {relpath: p for relpath, p in points.items() if (lfw_dir / "images" / relpath).exists()}


def fold_pairs(lfw_dir, folds="10", per_kind=None):
    """LFW View 2 pairs of `folds` (1-based, comma-separated, or "all"), in the file's order.

    `per_kind`: keep only the first `per_kind` genuine and the first `per_kind` impostor pairs
    (genuine first). Score them with `mobiface_tf.eval.lfw.pair_index`.
    """
    from mobiface_tf.data.sources import read_pairs

    pairs = read_pairs(Path(lfw_dir) / "pairs.txt")
    if folds != "all":
        keep = {int(f) - 1 for f in str(folds).split(",")}
        pairs = [p for p in pairs if p.fold in keep]
    if per_kind is not None:
        pairs = [p for p in pairs if p.same][:per_kind] + [p for p in pairs if not p.same][:per_kind]
    return pairs


def single_thread_tensorflow():
    """Import TensorFlow quietly with one intra-op and one inter-op thread, so detector timings are
    per-core figures; returns the module."""
    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf
