"""What the face benchmarks share: the data folders, seeded samples and LFW's landmark file."""

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

