"""LFW View 2 and InsightFace `.bin` verification: aligned-crop and embedding caches, reports.

`LfwBenchmark(lfw_dir)` aligns the images the pairs use once (from `landmarks_5pt.txt`, with
MTCNN, or read from an already aligned tree), caches the crops in
`work_root()/cache/lfw_aligned_<method>.npz`, and `.evaluate(embed_fn)` scores any embedding
function on them. The trainer calls it each epoch on a subset of folds; `mobiface-eval` on all
ten, caching each model's embeddings under `work_root()/cache/embeddings/` keyed by a hash of
the model file, so re-running a model or evaluating a new one never redoes alignment. The caches
hold faces and embeddings, so they are written with mode 0600, atomically.
"""

import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np

from mobiface_tf.errors import BadInputError, DataNotFoundError, NoFaceError
from mobiface_tf.eval.verification import DEFAULT_FARS, pair_verification
from mobiface_tf.storage import PRIVATE_MODE, atomic_write

ALIGN_METHODS = ("auto", "landmarks", "mtcnn", "aligned")
LANDMARKS_FILE = "landmarks_5pt.txt"
_SUBFOLDS = 10


def lfw_images_dir(lfw_dir):
    """The folder holding `<Name>/<Name>_NNNN.jpg`: `lfw_dir/images` if present, else `lfw_dir`."""
    lfw_dir = Path(lfw_dir)
    return lfw_dir / "images" if (lfw_dir / "images").is_dir() else lfw_dir


def resolve_align_method(lfw_dir, align="auto"):
    """The alignment `auto` stands for: landmarks if the file exists, an aligned tree if the
    images are already 112x112, else MTCNN."""
    if align not in ALIGN_METHODS:
        raise BadInputError(f"align must be one of {ALIGN_METHODS}, received {align!r}")
    if align != "auto":
        return align
    lfw_dir = Path(lfw_dir)
    if (lfw_dir / LANDMARKS_FILE).is_file():
        return "landmarks"
    first = next(lfw_images_dir(lfw_dir).glob("*/*.jpg"), None)
    if first is not None:
        from PIL import Image

        with Image.open(first) as image:
            if image.size == (112, 112):
                return "aligned"
    return "mtcnn"


def cache_dir():
    """Where evaluation caches live: `work_root()/cache`."""
    from mobiface_tf.paths import work_root

    return work_root() / "cache"


def align_images(images_dir, relpaths, method, *, landmarks_file=None, detector=None):
    """Aligned uint8 (N, 112, 112, 3) crops of `images_dir/relpath` for each relpath.

    Args:
        method: "landmarks" (five points from `landmarks_file`), "mtcnn" (detect, the face
            nearest the centre, as LFW crops are centred) or "aligned" (read as they are).
        detector: a `FaceDetector` to reuse (MTCNN only).

    Returns:
        (faces, failures): `failures` lists relpaths where MTCNN found no face; those get the
        centre crop of the image resized to 112x112, the usual fallback on LFW.
    """
    from mobiface_tf.data.align import align_face
    from mobiface_tf.data.images import load_rgb

    images_dir = Path(images_dir)
    faces = np.zeros((len(relpaths), 112, 112, 3), np.uint8)
    failures = []
    if method == "landmarks":
        from mobiface_tf.data.sources import read_landmarks

        points = read_landmarks(landmarks_file)
        missing = [r for r in relpaths if r not in points]
        if missing:
            raise DataNotFoundError(f"no landmarks for {len(missing)} images, e.g. {missing[0]}",
                                    landmarks_file)
    elif method == "mtcnn":
        from mobiface_tf.data.detect import FaceDetector, select_faces

        detector = detector or FaceDetector()
    elif method != "aligned":
        raise BadInputError(f"unknown alignment method {method!r}")
    for i, relpath in enumerate(relpaths):
        path = images_dir / relpath
        if not path.is_file():
            raise DataNotFoundError("image used by the pairs is missing", path)
        image = load_rgb(path)
        if method == "landmarks":
            faces[i] = align_face(image, points[relpath])
        elif method == "aligned":
            if image.shape != (112, 112, 3):
                raise BadInputError(f"expected an aligned 112x112 crop, found {image.shape}",
                                    path)
            faces[i] = image
        else:
            try:
                face, = select_faces(detector.detect(image), "central", image.shape, path=path)
                faces[i] = align_face(image, face.landmarks5)
            except NoFaceError:
                failures.append(relpath)
                faces[i] = _centre_crop(image)
    return faces, failures


def _centre_crop(image):
    from PIL import Image

    height, width = image.shape[:2]
    side = int(min(height, width) * 0.75)
    top, left = (height - side) // 2, (width - side) // 2
    crop = Image.fromarray(image[top:top + side, left:left + side])
    return np.asarray(crop.resize((112, 112), Image.BILINEAR), np.uint8)


def cached_aligned_faces(images_dir, relpaths, method, *, landmarks_file=None, cache_path=None,
                         log=None):
    """`align_images`, through an `.npz` cache that only ever aligns images it lacks.

    The cache (`cache_dir()/lfw_aligned_<method>.npz` by default) holds uint8 crops, their
    relpaths, the images folder they came from and the MTCNN failures; a cache made from
    another folder is replaced.
    """
    images_dir = Path(images_dir).resolve()
    cache_path = Path(cache_path or cache_dir() / f"lfw_aligned_{method}.npz")
    known_paths, known_faces, failures = [], np.zeros((0, 112, 112, 3), np.uint8), []
    if cache_path.is_file():
        with np.load(cache_path, allow_pickle=False) as cached:
            if str(cached["images_dir"]) == str(images_dir):
                known_paths = [str(p) for p in cached["relpaths"]]
                known_faces = cached["faces"]
                failures = [str(p) for p in cached["failures"]]
    index = {p: i for i, p in enumerate(known_paths)}
    missing = sorted({r for r in relpaths if r not in index})
    if missing:
        start = time.monotonic()
        new_faces, new_failures = align_images(images_dir, missing, method,
                                               landmarks_file=landmarks_file)
        if log:
            log(f"aligned {len(missing)} images ({method}) in {time.monotonic() - start:.1f} s")
        known_paths += missing
        known_faces = np.concatenate([known_faces, new_faces])
        failures += new_failures
        index = {p: i for i, p in enumerate(known_paths)}
        # Aligned faces: a private file, replaced atomically (storage.atomic_write).
        with atomic_write(cache_path, PRIVATE_MODE) as stream:
            np.savez(stream, faces=known_faces, relpaths=np.asarray(known_paths),
                     images_dir=np.asarray(str(images_dir)), failures=np.asarray(failures, dtype=str))
    rows = np.asarray([index[r] for r in relpaths], dtype=np.int64)
    wanted = set(relpaths)
    return known_faces[rows], [f for f in failures if f in wanted]


def interleaved_subfolds(issame, count=_SUBFOLDS):
    """Sub-fold ids 0..count-1 for the pairs of one fold, interleaved so each sub-fold keeps the
    fold's genuine/impostor balance (accuracy is then cross-validated over them)."""
    issame = np.asarray(issame, bool)
    folds = np.empty(len(issame), np.int64)
    folds[issame] = np.arange(issame.sum()) % count
    folds[~issame] = np.arange((~issame).sum()) % count
    return folds


@dataclasses.dataclass(frozen=True)
class PairIndex:
    """LFW-style pairs laid out for scoring: each distinct image once, each pair as two rows.

    Attributes:
        relpaths: the distinct images the pairs use, sorted.
        index_a, index_b: (P,) int64, per pair, rows into `relpaths`.
        issame: (P,) bool, per pair.
        folds: (P,) int64, per pair, its fold; 10 interleaved sub-folds when the pairs span one fold.
    """

    relpaths: list
    index_a: np.ndarray
    index_b: np.ndarray
    issame: np.ndarray
    folds: np.ndarray


def pair_index(pairs):
    """`PairIndex` of `read_pairs` rows (`relpath_a`, `relpath_b`, `same`, `fold`)."""
    relpaths = sorted({r for p in pairs for r in (p.relpath_a, p.relpath_b)})
    row = {r: i for i, r in enumerate(relpaths)}
    issame = np.asarray([p.same for p in pairs], bool)
    folds = np.asarray([p.fold for p in pairs], np.int64)
    if len(np.unique(folds)) == 1:
        folds = interleaved_subfolds(issame)
    return PairIndex(relpaths, np.asarray([row[p.relpath_a] for p in pairs], np.int64),
                     np.asarray([row[p.relpath_b] for p in pairs], np.int64), issame, folds)


class LfwBenchmark:
    """LFW View 2 pairs with their aligned crops loaded once; `.evaluate(embed_fn)` scores them.

    Args:
        lfw_dir: a raw LFW folder (`images/`, `pairs.txt`, optionally `landmarks_5pt.txt`) or an
            aligned tree of 112x112 crops with `pairs.txt` (or give `pairs_txt`).
        folds: None for all ten folds, or the 0-based fold ids to keep (e.g. `[9]` for the
            fold whose people `people.txt` keeps out of training). When the kept pairs span a
            single fold, accuracy is cross-validated over 10 interleaved sub-folds of it.
        align: "auto", "landmarks", "mtcnn" or "aligned" (see `resolve_align_method`).
        pairs_txt: the pairs file, default `lfw_dir/pairs.txt`.
        cache_path: the aligned-crop cache file (default in `cache_dir()`).
        log: optional callable taking one progress line.
    """

    def __init__(self, lfw_dir, *, folds=None, align="auto", pairs_txt=None, cache_path=None,
                 log=None):
        from mobiface_tf.data.sources import read_pairs

        self.lfw_dir = Path(lfw_dir)
        if not self.lfw_dir.is_dir():
            raise DataNotFoundError("LFW folder not found", self.lfw_dir)
        self.align = resolve_align_method(self.lfw_dir, align)
        pairs_txt = Path(pairs_txt or self.lfw_dir / "pairs.txt")
        pairs = read_pairs(pairs_txt)
        if folds is not None:
            keep = {int(f) for f in folds}
            available = sorted({p.fold for p in pairs})
            if not keep or not keep <= set(available):
                raise BadInputError(f"folds must be a non-empty subset of {available}, "
                                    f"received {sorted(keep)}", pairs_txt)
            pairs = [p for p in pairs if p.fold in keep]
        self.pairs = pairs
        index = pair_index(pairs)
        self.relpaths, self.index_a, self.index_b = index.relpaths, index.index_a, index.index_b
        self.issame, self.folds = index.issame, index.folds
        start = time.monotonic()
        self.faces, self.align_failures = cached_aligned_faces(
            lfw_images_dir(self.lfw_dir), self.relpaths, self.align,
            landmarks_file=self.lfw_dir / LANDMARKS_FILE, cache_path=cache_path, log=log)
        self.load_seconds = time.monotonic() - start

    def evaluate(self, embed_fn, *, flip="off", fars=DEFAULT_FARS, embeddings=None):
        """Score `embed_fn` (uint8 (N, 112, 112, 3) -> (N, D)) on the pairs.

        Args:
            flip: "off", "on" (flip-summed embeddings) or "both".
            embeddings: optional dict cache {"plain", "mirror"} (see `pair_verification`).

        Returns:
            dict: "dataset", "pairs", "images", "align", "align_failures", and "no_flip" and/or
            "flip_sum" with the metrics of `verification_metrics`.
        """
        results = pair_verification(embed_fn, self.faces, self.index_a, self.index_b,
                                    self.issame, self.folds, flip=flip, fars=fars,
                                    embeddings=embeddings)
        return {"dataset": "lfw", "pairs": len(self.pairs), "images": len(self.relpaths),
                "align": self.align, "align_failures": len(self.align_failures), **results}

    def evaluate_model(self, model, *, flip="both", fars=DEFAULT_FARS, use_cache=True):
        """Evaluate an `EmbeddingModel`, reusing its cached embeddings when its file is unchanged."""
        path = None
        if use_cache and model.fingerprint is not None:
            key = hashlib.sha256("\n".join(self.relpaths).encode()).hexdigest()[:8]
            path = (cache_dir() / "embeddings"
                    / f"lfw_{self.align}_{model.fingerprint}_{key}.npz")
        return _evaluate_with_embedding_cache(
            lambda embeddings: self.evaluate(model.embed, flip=flip, fars=fars,
                                             embeddings=embeddings), path)


def _evaluate_with_embedding_cache(evaluate, path):
    embeddings = {}
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            embeddings = {k: cached[k] for k in cached.files}
    before = set(embeddings)
    result = evaluate(embeddings)
    result["embedding_cache"] = {"path": None if path is None else str(path),
                                 "reused": sorted(before)}
    if path is not None and set(embeddings) != before:
        with atomic_write(path, PRIVATE_MODE) as stream:  # embeddings: a private file
            np.savez(stream, **embeddings)
    return result


class BinBenchmark:
    """An InsightFace verification `.bin` set (lfw, cfp_fp, agedb_30, ...) loaded once through the
    safe loader; `.evaluate(embed_fn)` scores any embedding function on its pairs.

    Pairs are consecutive images; accuracy is cross-validated over 10 contiguous folds, as
    InsightFace does. `name` is the file's stem ("cfp_fp").
    """

    def __init__(self, path):
        from mobiface_tf.data.sources import load_verification_bin

        self.path = Path(path)
        self.name = self.path.stem
        faces, issame = load_verification_bin(self.path)
        self.faces = np.asarray(faces)
        self.issame = np.asarray(issame, bool)
        if self.faces.shape[1:] != (112, 112, 3) or len(self.faces) != 2 * len(self.issame):
            raise BadInputError(f"expected 2 x {len(self.issame)} aligned 112x112 faces, found "
                                f"{self.faces.shape}", self.path)
        self.index_a = np.arange(0, len(self.faces), 2)
        self.folds = np.arange(len(self.issame)) * _SUBFOLDS // len(self.issame)

    def evaluate(self, embed_fn, *, flip="both", fars=DEFAULT_FARS, embeddings=None):
        """Score `embed_fn` (uint8 (N, 112, 112, 3) -> (N, D)) on the pairs; the result dict of
        `LfwBenchmark.evaluate` with this set's name as "dataset"."""
        results = pair_verification(embed_fn, self.faces, self.index_a, self.index_a + 1, self.issame,
                                    self.folds, flip=flip, fars=fars, embeddings=embeddings)
        return {"dataset": self.name, "pairs": len(self.issame), "images": len(self.faces), **results}


def evaluate_bin(path, model, *, flip="both", fars=DEFAULT_FARS, use_cache=True):
    """Verification on an InsightFace `.bin` set (see `BinBenchmark`) for an `EmbeddingModel` (or
    anything with `.embed`), reusing its cached embeddings when the model file is unchanged."""
    benchmark = BinBenchmark(path)
    cache = None
    fingerprint = getattr(model, "fingerprint", None)
    if use_cache and fingerprint is not None:
        stat = benchmark.path.stat()
        key = f"{benchmark.name}_{stat.st_size}_{int(stat.st_mtime)}"
        cache = cache_dir() / "embeddings" / f"bin_{key}_{fingerprint}.npz"
    return _evaluate_with_embedding_cache(
        lambda embeddings: benchmark.evaluate(model.embed, flip=flip, fars=fars, embeddings=embeddings), cache)
