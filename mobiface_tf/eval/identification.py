"""Identification among distractors (the MegaFace protocol): rank-1 rate as the gallery grows, TAR@FAR.

Protocol: a gallery holds one face per identity; each probe (another face of a gallery
identity) is searched in the gallery plus the first N distractors (faces of people in neither
set). Rank-1 is correct when the probe's own gallery face scores strictly higher than every
other gallery face and every one of the N distractors (a tie counts as a miss). Verification at
scale pairs each probe with its gallery mate (genuine) and with every distractor (impostors),
so 1,000 probes x 1M distractors give 1e9 impostor pairs and FARs down to 1e-6 are measured.

Scores are cosine similarities of L2-normalized embeddings, computed in chunks of distractors
so memory stays bounded: the distractors may be an `np.memmap` (float16 on disk, see
`DistractorSet`) larger than RAM. Thresholds follow `verification.py`: same iff score >= t.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from mobiface_tf.errors import BadInputError
from mobiface_tf.embedding import l2_normalize
from mobiface_tf.eval.verification import threshold_at_far
from mobiface_tf.storage import PRIVATE_MODE, atomic_path, atomic_write_bytes

DEFAULT_SIZES = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
DEFAULT_IDENT_FARS = (1e-6, 1e-5, 1e-4, 1e-3)
# Scores of one chunk: probes x chunk float32; 256 MB keeps the peak far below 4 GB.
DEFAULT_SCORE_BYTES = 256 << 20
# The largest impostor top-list kept to read thresholds from (x 4 bytes).
_MAX_TOP_IMPOSTORS = 50_000_000


def split_gallery_probes(labels, *, max_probes_per_identity=None):
    """Indices (gallery, probes): the first item of each identity with >= 2 items goes to the
    gallery, the rest (at most `max_probes_per_identity` each) are probes."""
    labels = np.asarray(labels)
    gallery, probes = [], []
    for label in np.unique(labels):
        items = np.flatnonzero(labels == label)
        if len(items) < 2:
            continue
        gallery.append(items[0])
        probes.extend(items[1:1 + (max_probes_per_identity or len(items))])
    return np.asarray(gallery, np.int64), np.asarray(probes, np.int64)


def held_out_split(labels, names, held_out):
    """Indices (gallery, probes, distractors) of an identification protocol on people never
    trained on: the identities named in `held_out` with >= 2 items give the gallery (first
    item) and probes (all the others); every item of any other identity is a distractor.

    Args:
        labels: (N,) integer identity of each item; names: identity name per label value.
        held_out: names of the people to identify (e.g. an LFW fold's people).

    Raises:
        BadInputError: no held-out identity has two items.
    """
    labels = np.asarray(labels)
    held_labels = np.asarray([i for i, name in enumerate(names) if name in held_out], np.int64)
    is_held = np.isin(labels, held_labels)
    counts = np.bincount(labels, minlength=len(names))
    targets = is_held & (counts[labels] >= 2)
    items = np.flatnonzero(targets)
    gallery, probes = split_gallery_probes(labels[items])
    if not len(gallery):
        raise BadInputError("no held-out identity has two images to identify")
    distractors = np.flatnonzero(~targets)
    return items[gallery], items[probes], distractors


def _chunks(total, chunk, boundaries=()):
    """(start, stop) spans covering range(total), split at `chunk` multiples and boundaries."""
    cuts = set(range(0, total, chunk)) | {b for b in boundaries if 0 < b < total} | {total}
    cuts = sorted(cuts)
    return list(zip(cuts[:-1], cuts[1:]))


def identification_metrics(probe_embeddings, probe_labels, gallery_embeddings, gallery_labels,
                           distractors, *, sizes=DEFAULT_SIZES, fars=DEFAULT_IDENT_FARS,
                           score_bytes=DEFAULT_SCORE_BYTES):
    """Rank-1 identification rate for each distractor count, and TAR at FAR at the largest.

    Args:
        probe_embeddings: (P, D); probe_labels: (P,) identities, each present in the gallery.
        gallery_embeddings: (G, D), one per identity; gallery_labels: (G,) distinct.
        distractors: (M, D) array or memmap (any float dtype; rows L2-normalized here, chunk
            by chunk). Sizes above M are dropped.
        sizes: distractor counts N at which to report rank-1 (0 = gallery only, and M = all
            distractors, are always added).
        fars: FARs for the verification figures over all M distractors.
        score_bytes: the size of one block of probe x distractor scores.

    Returns:
        dict with "probes", "gallery", "distractors", "rank1" (list of {"distractors", "rate"}),
        and "tar_at_far" (list of {"far", "tar", "threshold", "achieved_far", "resolvable"}).
    """
    probes = l2_normalize(probe_embeddings)
    gallery = l2_normalize(gallery_embeddings)
    probe_labels, gallery_labels = np.asarray(probe_labels), np.asarray(gallery_labels)
    if probes.ndim != 2 or gallery.ndim != 2 or probes.shape[1] != gallery.shape[1]:
        raise BadInputError(f"probe {probes.shape} and gallery {gallery.shape} embeddings must "
                            "be (N, D) with one D")
    if len(np.unique(gallery_labels)) != len(gallery_labels):
        raise BadInputError("the gallery must hold exactly one face per identity")
    position = {label: i for i, label in enumerate(gallery_labels.tolist())}
    missing = [label for label in probe_labels.tolist() if label not in position]
    if missing:
        raise BadInputError(f"{len(missing)} probes have no gallery mate, e.g. {missing[0]!r}")
    if distractors.ndim != 2 or distractors.shape[1] != probes.shape[1]:
        raise BadInputError(f"distractors {distractors.shape} do not match D={probes.shape[1]}")
    n_probes, n_distractors = len(probes), len(distractors)
    mate = np.asarray([position[label] for label in probe_labels.tolist()], np.int64)
    sizes = sorted({0, n_distractors} | {int(s) for s in sizes if 0 < int(s) <= n_distractors})
    chunk = max(1, int(score_bytes // (4 * max(n_probes, 1))))

    # Gallery first: the genuine score and the best other-identity score of each probe.
    genuine = np.einsum("pd,pd->p", probes, gallery[mate])
    best_impostor = np.full(n_probes, -np.inf, np.float32)
    for start, stop in _chunks(len(gallery), chunk):
        scores = probes @ gallery[start:stop].T
        rows = np.flatnonzero((mate >= start) & (mate < stop))
        scores[rows, mate[rows] - start] = -np.inf
        np.maximum(best_impostor, scores.max(axis=1), out=best_impostor)

    rank1 = [{"distractors": 0, "rate": float(np.mean(genuine > best_impostor))}]
    n_impostors = n_probes * n_distractors
    keep = int(np.floor(max(fars, default=0.0) * n_impostors + 1e-9)) + 1
    if keep > _MAX_TOP_IMPOSTORS:
        raise BadInputError(f"FAR {max(fars)} over {n_impostors} impostor pairs needs the "
                            f"{keep} highest scores kept; use smaller FARs")
    # Only the `keep` highest impostor scores matter for thresholds at FAR <= max(fars).
    top = np.zeros(0, np.float32)
    for start, stop in _chunks(n_distractors, chunk, sizes):
        block = l2_normalize(np.asarray(distractors[start:stop], np.float32))
        scores = probes @ block.T
        np.maximum(best_impostor, scores.max(axis=1), out=best_impostor)
        if len(fars):
            top = _top_k(np.concatenate([top, _top_k(scores.ravel(), keep)]), keep)
        del scores
        if stop in sizes:
            rank1.append({"distractors": stop,
                          "rate": float(np.mean(genuine > best_impostor))})

    tar = []
    for far in fars:
        if n_impostors == 0:
            break
        threshold, achieved = threshold_at_far(top, float(far), num_impostors=n_impostors)
        tar.append({"far": float(far), "tar": float(np.mean(genuine >= threshold)),
                    "threshold": threshold, "achieved_far": achieved,
                    "resolvable": bool(far * n_impostors >= 1)})
    return {"probes": int(n_probes), "gallery": int(len(gallery)),
            "distractors": int(n_distractors), "impostor_pairs": int(n_impostors),
            "rank1": rank1, "tar_at_far": tar}


def _top_k(values, k):
    """The k largest values (unordered), or all of them if there are fewer."""
    if len(values) <= k:
        return values
    return np.partition(values, len(values) - k)[-k:]


class DistractorSet:
    """Distractor embeddings stored on disk as an L2-normalized float16 `.npy` (read as memmap).

    float16 halves the file (1M x 512 = 1 GB) and cosine scores move by < 1e-3; the file is
    private (mode 0600) like every file of embeddings. A JSON file
    beside it (`<file>.json`) records what made it, so a cache is reused only for the same
    model and source.

    Attributes:
        path: the `.npy` file; embeddings: the read-only memmap (M, D).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.embeddings = np.load(self.path, mmap_mode="r")
        self.info = json.loads(self.path.with_suffix(".json").read_text()) \
            if self.path.with_suffix(".json").is_file() else {}

    def __len__(self):
        return len(self.embeddings)

    @classmethod
    def _create(cls, path, count, dim, fill, info):
        path = Path(path)
        # Embeddings: a private file (0600), complete before it takes the name (storage.atomic_path).
        with atomic_path(path, PRIVATE_MODE) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(count, dim))
            fill(out)
            out.flush()
            del out
        atomic_write_bytes(path.with_suffix(".json"), json.dumps(info, indent=1).encode(), PRIVATE_MODE)
        return cls(path)

    @classmethod
    def synthetic(cls, path, count, dim=512, *, seed=0, chunk=65536):
        """Random unit vectors (seeded), written chunk by chunk; reused if already on disk."""
        info = {"source": "synthetic", "count": int(count), "dim": int(dim), "seed": int(seed)}
        if _matches(path, info):
            return cls(path)

        def fill(out):
            rng = np.random.default_rng(seed)
            for start in range(0, count, chunk):
                stop = min(count, start + chunk)
                out[start:stop] = l2_normalize(
                    rng.standard_normal((stop - start, dim), dtype=np.float32))

        return cls._create(path, count, dim, fill, info)

    @classmethod
    def from_faces(cls, path, faces_paths, embed_fn, *, model_key, batch=256):
        """Embeddings of the aligned 112x112 face images at `faces_paths`, cached at `path`.

        The cache is reused when `model_key` (e.g. `EmbeddingModel.fingerprint`) and the list
        of files are the same as when it was written.
        """
        from mobiface_tf.data.images import load_rgb

        faces_paths = [str(p) for p in faces_paths]
        if not faces_paths:
            raise BadInputError("no distractor images given")
        listing = hashlib.sha256("\n".join(faces_paths).encode()).hexdigest()[:16]
        info = {"source": "faces", "count": len(faces_paths), "model": str(model_key),
                "files": listing}
        if model_key is not None and _matches(path, info):
            return cls(path)
        first = embed_fn(np.stack([load_rgb(faces_paths[0])]))

        def fill(out):
            for start in range(0, len(faces_paths), batch):
                names = faces_paths[start:start + batch]
                faces = np.stack([load_rgb(p) for p in names])
                if faces.shape[1:] != (112, 112, 3):
                    raise BadInputError(f"distractors must be aligned 112x112 crops, found "
                                        f"{faces.shape[1:]}", names[0])
                out[start:start + len(names)] = l2_normalize(embed_fn(faces))

        return cls._create(path, len(faces_paths), first.shape[1], fill, info)


def _matches(path, info):
    path = Path(path)
    meta = path.with_suffix(".json")
    if not (path.is_file() and meta.is_file()):
        return False
    try:
        return json.loads(meta.read_text()) == info
    except ValueError:
        return False
