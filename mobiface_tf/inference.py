"""FaceEmbedder: photos -> detected, aligned faces -> L2-normalized embeddings -> verification.

With a `.tflite` model and the default LiteRT detector this imports only NumPy, Pillow and
`ai_edge_litert`: TensorFlow is imported only for `.keras` / SavedModel / run-folder models and
for the `mtcnn` detector.
"""

import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from mobiface_tf.data.align import align_face
from mobiface_tf.data.faces import FACE_POLICIES, select_faces
from mobiface_tf.data.images import load_rgb
from mobiface_tf.embedding import EmbeddingModel, l2_normalize, load_embedding_model
from mobiface_tf.errors import (
    BadInputError,
    ImageReadError,
    ModelLoadError,
    MultipleFacesError,
    NoFaceError,
)

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
# The bundled model; its metadata (threshold, FAR, precision) lies beside it as `<file>.json`.
BUNDLED_MODEL = ASSETS_DIR / "mobiface.tflite"

ALIGNED_SHAPE = (112, 112, 3)
STAGES = ("load", "detect", "align", "embed")
# Detector names: "litert" (the default: mtcnn's networks on LiteRT, no TensorFlow) and "mtcnn"
# (the mtcnn package on TensorFlow, the reference LiteFaceDetector is tested against).
DETECTORS = ("litert", "mtcnn")

# Errors that concern one input image: batch jobs report them and go on with the next file.
# BadInputError covers an aligned crop of the wrong size and degenerate landmarks.
PER_IMAGE_ERRORS = (BadInputError, NoFaceError, MultipleFacesError)


def face_to_dict(face):
    """A detected `Face` as plain JSON types: box [x, y, w, h], score, landmarks5 [[x, y] x 5]."""
    if face is None:
        return None
    return {
        "box": [round(float(v), 1) for v in np.asarray(face.box).ravel()],
        "score": round(float(face.score), 4),
        "landmarks5": [[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(face.landmarks5)],
    }


@dataclasses.dataclass(frozen=True)
class FaceEmbeddings:
    """Embeddings of the faces found in one or more images.

    Attributes:
        embeddings: (N, D) float32, L2-normalized, one row per face.
        faces: N detected `Face`s (box, score, landmarks5), or None for rows that came from
            already-aligned crops.
        image_index: (N,) int64, the position of each row's image among the inputs.
        timing: milliseconds per stage ("load", "detect", "align", "embed"), summed over inputs.
    """

    embeddings: np.ndarray
    faces: list
    image_index: np.ndarray
    timing: dict

    def __len__(self):
        return len(self.embeddings)


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """Whether two images show the same person.

    Attributes:
        verified: similarity >= threshold.
        similarity: cosine similarity of the L2-normalized embeddings; with several faces per
            image (face policy "all") the highest over all pairs of faces.
        threshold: the cosine threshold used.
        far: the false accept rate the threshold was chosen for (None for a threshold the
            caller set).
        faces_a, faces_b: the faces used in each image (None entries for aligned crops).
        pair: (i, j), which face of `faces_a` and of `faces_b` gave `similarity`.
        timing: milliseconds per stage for both images together.
    """

    verified: bool
    similarity: float
    threshold: float
    far: object
    faces_a: list
    faces_b: list
    pair: tuple
    timing: dict

    def to_dict(self):
        """Plain JSON types, as `mobiface verify --json` prints them."""
        return {
            "verified": bool(self.verified),
            "similarity": round(float(self.similarity), 6),
            "threshold": float(self.threshold),
            "far": None if self.far is None else float(self.far),
            "faces_a": [face_to_dict(f) for f in self.faces_a],
            "faces_b": [face_to_dict(f) for f in self.faces_b],
            "pair": list(self.pair),
            "timing_ms": {k: round(float(v), 2) for k, v in self.timing.items()},
        }


class FaceEmbedder:
    """Detect, align and embed faces with any embedding model; verify pairs of photos.

    Args:
        model: a training run folder, a `.keras` file, a SavedModel folder or a `.tflite` file
            (run through LiteRT), or an `EmbeddingModel`. None uses the bundled model
            (`BUNDLED_MODEL`).
        face_policy: which detected faces an image contributes: "largest" (default),
            "central", "all", or "single" (several faces raise `MultipleFacesError`).
        detector: an object with `detect(image) -> [Face]` (`LiteFaceDetector`, `FaceDetector`),
            or a name from `DETECTORS`; None or "litert" creates a `LiteFaceDetector` the first
            time a photo needs one, "mtcnn" the mtcnn package's `FaceDetector` (TensorFlow).
        num_threads: CPU threads for the LiteRT interpreters (model and detector) and, when a
            Keras model or the "mtcnn" detector brings TensorFlow in, for TensorFlow; None keeps
            the libraries' defaults (the LiteRT detector: 1 thread).
        threshold: a cosine threshold overriding the model's own (its FAR is then unknown).
        trust_saved_model: also accept a SavedModel folder as `model` (a SavedModel runs its
            own TensorFlow ops; see `mobiface_tf.embedding`).

    Images may be paths, encoded bytes, NumPy arrays or PIL images; EXIF orientation is applied.
    """

    def __init__(self, model=None, face_policy="largest", detector=None, num_threads=None, threshold=None,
                 trust_saved_model=False):
        if face_policy not in FACE_POLICIES:
            raise BadInputError(f"face policy must be one of {FACE_POLICIES}, got {face_policy!r}")
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise BadInputError(f"num_threads must be a positive integer or None, got {num_threads!r}")
        if threshold is not None and not -1.0 <= float(threshold) <= 1.0:
            raise BadInputError(f"a cosine threshold lies in -1..1, got {threshold!r}")
        if detector is not None and isinstance(detector, str) and detector not in DETECTORS:
            raise BadInputError(f"detector must be one of {DETECTORS} or a detector object, got {detector!r}")
        self.face_policy = face_policy
        self.num_threads = num_threads
        if num_threads is not None and (_needs_tensorflow(model) or detector == "mtcnn" or "tensorflow" in sys.modules):
            _limit_tensorflow_threads(num_threads)
        self._detector = None if detector == "litert" else detector
        self._threshold_override = None if threshold is None else float(threshold)
        self.model = _load_model(model, num_threads, trust_saved_model)

    # -- model facts ---------------------------------------------------------------------
    @property
    def embedding_size(self):
        """Length D of the embeddings."""
        return int(self.model.embedding_size)

    @property
    def metadata(self):
        """The model's metadata dict (see the export's metadata JSON)."""
        return dict(self.model.metadata or {})

    @property
    def threshold(self):
        """(cosine threshold, FAR it stands for, where it came from), or None if unknown."""
        if self._threshold_override is not None:
            return self._threshold_override, None, "set by the caller"
        found = self.metadata.get("threshold")
        if not found or found.get("cosine") is None:
            return None
        return float(found["cosine"]), found.get("far"), found.get("source", "model metadata")

    def model_identity(self):
        """What a saved gallery records to refuse another model: name, embedding size, hash."""
        return {
            "name": str(self.metadata.get("model") or getattr(self.model, "name", "") or "unknown"),
            "embedding_size": self.embedding_size,
            # The loader's hash of the model file and its pixel feeding; None for an in-memory model.
            "hash": self.model.fingerprint,
        }

    # -- the pipeline --------------------------------------------------------------------
    @property
    def detector(self):
        """The face detector, created on first use (`LiteFaceDetector` unless told otherwise)."""
        if self._detector is None or isinstance(self._detector, str):
            self._detector = make_detector(self._detector or "litert", self.num_threads)
        return self._detector

    def detect(self, image):
        """All faces the detector finds in one image (list of `Face`), before any face policy."""
        return list(self.detector.detect(load_rgb(image)))

    def embed(self, images, aligned=False):
        """Embed the faces of one image or of a list of images.

        Args:
            images: one image (path, bytes, PIL image or (H, W, 3) array) or a list/tuple of
                them; a 4-D array (N, H, W, 3) counts as N images.
            aligned: the images are already aligned 112x112 RGB crops: skip detection.

        Returns:
            `FaceEmbeddings`: one row per face the policy selects in each image (one per image
            for "largest", "central", "single" and aligned crops).

        Raises:
            ImageReadError, NoFaceError, MultipleFacesError (policy "single"), BadInputError.
        """
        sources = _as_list(images)
        timing = dict.fromkeys(STAGES, 0.0)
        crops, faces, index = [], [], []
        for i, source in enumerate(sources):
            for face, crop in self._faces_and_crops(source, aligned, timing):
                crops.append(crop)
                faces.append(face)
                index.append(i)
        start = time.perf_counter()
        raw = self.model.embed(np.stack(crops))
        timing["embed"] += _ms_since(start)
        if not np.all(np.isfinite(raw)):
            raise ModelLoadError("the model gave NaN or infinite embeddings: it is not usable",
                                 path=self.model.source)
        embeddings = l2_normalize(raw)
        return FaceEmbeddings(embeddings, faces, np.asarray(index, dtype=np.int64), timing)

    def embed_files(self, paths, progress=None):
        """Embed the faces of many files, skipping the ones that fail.

        Args:
            paths: image paths.
            progress: optional callable `progress(done, total)` called after each file.

        Returns:
            (FaceEmbeddings with `image_index` into `paths`, skipped: list of (path, error)),
            where each error is the `ImageReadError`, `NoFaceError`, `MultipleFacesError` or
            other `BadInputError` the file raised.
        """
        paths = list(paths)
        parts, skipped = [], []
        for i, path in enumerate(paths):
            try:
                result = self.embed(path)
            except ModelLoadError:
                raise
            except PER_IMAGE_ERRORS as error:
                skipped.append((path, error))
            else:
                parts.append((i, result))
            if progress is not None:
                progress(i + 1, len(paths))
        return _concatenate(parts, self.embedding_size), skipped

    def verify(self, image_a, image_b, threshold=None, aligned=False):
        """Decide whether two images show the same person.

        Args:
            image_a, image_b: images (anything `embed` takes for one image).
            threshold: a cosine threshold for this call; default: the embedder's threshold
                (the model metadata's, with its FAR).
            aligned: both images are aligned 112x112 crops.

        Returns:
            `VerifyResult`.

        Raises:
            BadInputError: no threshold (the model carries none and none was given).
            ImageReadError, NoFaceError, MultipleFacesError as `embed`.
        """
        if threshold is not None:
            cosine, far = float(threshold), None
        elif self.threshold is not None:
            cosine, far, _ = self.threshold
        else:
            raise BadInputError(
                f"model {self.model_identity()['name']} carries no verification threshold "
                "(its metadata has threshold: null); pass threshold= (CLI: --threshold)"
            )
        a = self.embed(image_a, aligned=aligned)
        b = self.embed(image_b, aligned=aligned)
        similarities = a.embeddings @ b.embeddings.T
        i, j = np.unravel_index(int(np.argmax(similarities)), similarities.shape)
        similarity = float(similarities[i, j])
        timing = {stage: a.timing[stage] + b.timing[stage] for stage in STAGES}
        return VerifyResult(
            verified=bool(np.isfinite(similarity) and similarity >= cosine),
            similarity=similarity,
            threshold=cosine,
            far=far,
            faces_a=list(a.faces),
            faces_b=list(b.faces),
            pair=(int(i), int(j)),
            timing=timing,
        )

    def _faces_and_crops(self, source, aligned, timing):
        name = _source_name(source)
        start = time.perf_counter()
        image = load_rgb(source)
        timing["load"] += _ms_since(start)
        if aligned:
            if image.shape != ALIGNED_SHAPE:
                raise BadInputError(
                    f"an aligned face is {ALIGNED_SHAPE[0]}x{ALIGNED_SHAPE[1]} RGB, got shape {image.shape}",
                    path=name,
                )
            return [(None, image)]
        start = time.perf_counter()
        try:
            selected = select_faces(self.detector.detect(image), self.face_policy, image.shape, path=name)
        finally:
            timing["detect"] += _ms_since(start)
        start = time.perf_counter()
        pairs = [(face, align_face(image, face.landmarks5)) for face in selected]
        timing["align"] += _ms_since(start)
        return pairs


def _load_model(model, num_threads, trust_saved_model=False):
    """An `EmbeddingModel` from what the caller passed (None: the bundled model)."""
    if isinstance(model, EmbeddingModel):
        return model
    if model is None:
        if not BUNDLED_MODEL.exists():
            raise ModelLoadError(
                "no bundled model in this installation; run `make bundle` to train and export it, "
                "or pass a model (--model RUN_DIR | FILE.keras | FILE.tflite)",
                path=BUNDLED_MODEL,
            )
        model = BUNDLED_MODEL
    if not isinstance(model, (str, os.PathLike)):
        raise ModelLoadError(f"model must be a path or an EmbeddingModel, got a {type(model).__name__}")
    return load_embedding_model(model, num_threads=num_threads, trust_saved_model=trust_saved_model)


def make_detector(name="litert", num_threads=None):
    """A face detector by name (`DETECTORS`): "litert" -> `LiteFaceDetector`, "mtcnn" -> `FaceDetector`."""
    if name == "litert":
        from mobiface_tf.data.detect_lite import LiteFaceDetector

        return LiteFaceDetector(num_threads=num_threads or 1)
    if name == "mtcnn":
        from mobiface_tf.data.detect import FaceDetector

        return FaceDetector()
    raise BadInputError(f"detector must be one of {DETECTORS}, got {name!r}")


def _needs_tensorflow(model):
    """Whether loading `model` (what FaceEmbedder takes) imports TensorFlow: all but a `.tflite` path."""
    if model is None:
        return BUNDLED_MODEL.suffix.lower() != ".tflite"
    if isinstance(model, (str, os.PathLike)):
        return Path(model).suffix.lower() != ".tflite"
    return False  # an EmbeddingModel: already loaded, whatever it runs on


def _limit_tensorflow_threads(num_threads):
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(num_threads)
        tf.config.threading.set_inter_op_parallelism_threads(num_threads)
    except RuntimeError as error:
        # TensorFlow fixes its thread pools when it first runs anything.
        warnings.warn(f"TensorFlow already started; num_threads={num_threads} not applied to it ({error})")


def _as_list(images):
    if isinstance(images, (list, tuple)):
        if not images:
            raise BadInputError("no images given")
        return list(images)
    if isinstance(images, np.ndarray) and images.ndim == 4:
        if len(images) == 0:
            raise BadInputError("no images given (empty batch)")
        return list(images)
    return [images]


def _source_name(source):
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{type(source).__name__}>"


def _ms_since(start):
    return (time.perf_counter() - start) * 1000.0


def _concatenate(parts, embedding_size):
    """Merge (image position, FaceEmbeddings) parts into one FaceEmbeddings."""
    timing = dict.fromkeys(STAGES, 0.0)
    for _, part in parts:
        for stage in STAGES:
            timing[stage] += part.timing[stage]
    if not parts:
        return FaceEmbeddings(np.zeros((0, embedding_size), np.float32), [], np.zeros(0, np.int64), timing)
    return FaceEmbeddings(
        embeddings=np.concatenate([part.embeddings for _, part in parts]),
        faces=[face for _, part in parts for face in part.faces],
        image_index=np.concatenate([np.full(len(part), i, np.int64) for i, part in parts]),
        timing=timing,
    )
