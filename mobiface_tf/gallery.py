"""Gallery: named people's face embeddings, identification by cosine similarity, pickle-free files.

A gallery file is an uncompressed `.npz` (a zip of `.npy` arrays) of plain numbers and strings,
written atomically and durably with mode 0600 (`mobiface_tf.storage`). `Gallery.load` checks
everything before trusting it: the zip directory (names, sizes: a bound read before anything is
decompressed), each array's header (dtype, shape, no pickled objects) against its stored size,
then the content (finite, non-zero embeddings, counts that agree, labels in range, names unique).
"""

import dataclasses
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mobiface_tf.data.sources import scan_identity_tree
from mobiface_tf.embedding import l2_normalize
from mobiface_tf.errors import BadInputError, ImageReadError
from mobiface_tf.storage import PRIVATE_MODE, atomic_write

GALLERY_FORMAT = "mobiface-gallery/1"
AGGREGATES = ("mean", "max")
# Gallery rows per matrix product: 65,536 x 512 float32 is 128 MiB of embeddings touched per
# chunk and a (probes x 65,536) score block, small enough for a phone-class machine.
DEFAULT_CHUNK_ROWS = 65536
# The most a gallery may expand to in memory (10M faces of 512 float32 are 20 GB): checked on
# the sizes the zip directory declares, before anything is read.
DEFAULT_MAX_BYTES = 8 << 30
# Galleries are stored uncompressed; a file expanding to more than this many times its size
# (plus a little for headers) is a decompression bomb, not a gallery.
_MAX_EXPANSION = 64
_ZIP_MAGIC = b"PK\x03\x04"
_LARGEST_EMBEDDING = 65536
# Every array of a gallery file: name -> (dtype kinds allowed, number of dimensions).
_ARRAYS = {
    "format": ("U", 0),
    "names": ("U", 1),
    "labels": ("iu", 1),
    "embeddings": ("f", 2),
    "sources": ("U", 1),
    "model_name": ("U", 0),
    "model_embedding_size": ("iu", 0),
    "model_hash": ("U", 0),
}


@dataclasses.dataclass(frozen=True)
class EnrollReport:
    """What `Gallery.enroll_tree` did.

    Attributes:
        enrolled: identity name -> number of faces enrolled from its folder.
        skipped: (path, error) for every file that gave no usable face.
        empty: identities none of whose files gave a face (not enrolled).
    """

    enrolled: dict
    skipped: list
    empty: list


class Gallery:
    """Named identities with their enrolled face embeddings, searched by cosine similarity.

    Every enrolled embedding is stored (one row per face, L2-normalized) with its identity, so
    a gallery can be searched either way:
      * "mean" (default): each identity is scored by its template, the re-normalized mean of
        its embeddings. Averaging cancels part of the pose and lighting of single photos, and
        the search costs one row per identity.
      * "max": each identity is scored by its closest enrolled face.

    Args:
        embedder: a `FaceEmbedder`, needed to enroll or identify images (not embeddings).
        model_identity: {"name", "embedding_size", "hash"} of the model the embeddings come
            from; default: the embedder's. A gallery refuses embeddings of another size, and
            `load` refuses a file made with another model.
        chunk_rows: gallery rows per matrix product when searching.
    """

    def __init__(self, embedder=None, model_identity=None, chunk_rows=DEFAULT_CHUNK_ROWS):
        if model_identity is None:
            if embedder is None:
                raise BadInputError("a Gallery needs an embedder or a model_identity")
            model_identity = embedder.model_identity()
        missing = {"name", "embedding_size", "hash"} - set(model_identity)
        if missing:
            raise BadInputError(f"model_identity lacks {sorted(missing)}: {model_identity!r}")
        if not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise BadInputError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
        self.embedder = embedder
        self.model_identity = dict(model_identity)
        self.chunk_rows = chunk_rows
        self.path = None  # the file it was loaded from, if any
        self.names = []
        self._label_of = {}
        self._parts = []  # (labels, embeddings, sources) appended by enroll, merged on demand
        self._merged = None
        self._templates = None
        if embedder is not None:
            _check_same_model(self.model_identity, embedder.model_identity(), "this gallery")

    # -- size ----------------------------------------------------------------------------
    @property
    def embedding_size(self):
        """Length D of the embeddings."""
        return int(self.model_identity["embedding_size"])

    def __len__(self):
        """Number of enrolled faces (rows), over all identities."""
        return len(self._rows()[0])

    @property
    def embeddings(self):
        """(N, D) float32 L2-normalized enrolled embeddings."""
        return self._rows()[1]

    @property
    def labels(self):
        """(N,) int64: the identity (index into `names`) of each row; rows are grouped by it."""
        return self._rows()[0]

    @property
    def sources(self):
        """N strings: the file each row came from ("" when enrolled as an embedding)."""
        return self._rows()[2]

    # -- enrolling -----------------------------------------------------------------------
    def enroll(self, name, images, aligned=False):
        """Enroll one identity from one or more images (one face each); returns faces enrolled.

        Each image contributes the face the embedder's face policy picks (with policy "all",
        its largest face). Nothing is enrolled if any image fails.

        Raises:
            ImageReadError, NoFaceError, MultipleFacesError: from the embedder, naming the file.
        """
        embedder = self._need_embedder("enroll images")
        images = images if isinstance(images, (list, tuple)) else [images]
        result = embedder.embed(list(images), aligned=aligned)
        first_rows = np.unique(result.image_index, return_index=True)[1]
        sources = [_source_label(images[i]) for i in result.image_index[first_rows]]
        return self.enroll_embeddings(name, result.embeddings[first_rows], sources=sources)

    def enroll_embeddings(self, name, embeddings, sources=None):
        """Enroll precomputed embeddings (n, D) or (D,) under `name`; returns how many."""
        name = _check_name(name)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim == 1:
            embeddings = embeddings[None]
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_size or len(embeddings) == 0:
            raise BadInputError(
                f"embeddings for {name!r} must have shape (n >= 1, {self.embedding_size}), got {embeddings.shape}"
            )
        if not np.all(np.isfinite(embeddings)):
            raise BadInputError(f"embeddings for {name!r} contain NaN or infinity")
        sources = [""] * len(embeddings) if sources is None else [str(s) for s in sources]
        if len(sources) != len(embeddings):
            raise BadInputError(f"{len(sources)} sources for {len(embeddings)} embeddings of {name!r}")
        label = self._label_of.get(name)
        if label is None:
            label = self._label_of[name] = len(self.names)
            self.names.append(name)
        self._parts.append((np.full(len(embeddings), label, np.int64), l2_normalize(embeddings), sources))
        self._merged = self._templates = None
        return len(embeddings)

    def enroll_tree(self, root, progress=None):
        """Enroll every identity of a folder tree `<root>/<name>/<image>`.

        Files that are not images, cannot be read, hold no face, or (policy "single") several
        faces are skipped and reported; the rest are enrolled.

        Args:
            root: the tree's top folder.
            progress: optional `progress(done, total)` called after each file.

        Returns:
            `EnrollReport`.

        Raises:
            DataNotFoundError: `root` is missing or holds no identity folder with images.
        """
        embedder = self._need_embedder("enroll a folder tree")
        tree = scan_identity_tree(root)
        paths, labels, class_names = tree.paths, tree.labels, tree.class_names
        result, skipped = embedder.embed_files(paths, progress=progress)
        skipped = [(path, ImageReadError(reason, path=path)) for path, reason in tree.skipped] + skipped
        # One face per file, as in `enroll`.
        first_rows = np.unique(result.image_index, return_index=True)[1]
        files = result.image_index[first_rows]
        row_labels = labels[files]
        enrolled, empty = {}, []
        for label, name in enumerate(class_names):
            rows = first_rows[row_labels == label]
            if len(rows) == 0:
                empty.append(name)
                continue
            sources = [paths[i] for i in result.image_index[rows]]
            enrolled[name] = self.enroll_embeddings(name, result.embeddings[rows], sources=sources)
        return EnrollReport(enrolled=enrolled, skipped=skipped, empty=empty)

    # -- searching -----------------------------------------------------------------------
    def identify(self, probe, top_k=5, aggregate="mean", aligned=False):
        """The `top_k` identities most similar to one probe, best first.

        Args:
            probe: an embedding (D,) (need not be normalized) or an image (embedded with the
                embedder; its first face by the face policy).
            top_k: how many identities to return (fewer if the gallery holds fewer).
            aggregate: "mean" (identity template) or "max" (closest enrolled face).
            aligned: an image probe is an aligned 112x112 crop.

        Returns:
            list of (name, cosine similarity) tuples.
        """
        probe_array = np.asarray(probe) if isinstance(probe, np.ndarray) else None
        if probe_array is not None and probe_array.ndim == 1:
            embedding = probe_array
        else:
            embedding = self._need_embedder("identify an image").embed(probe, aligned=aligned).embeddings[0]
        labels, similarities = self.search(embedding[None], top_k=top_k, aggregate=aggregate)
        return [(self.names[label], float(s)) for label, s in zip(labels[0], similarities[0])]

    def search(self, probes, top_k=5, aggregate="mean"):
        """Top-k identities for many probe embeddings at once.

        Args:
            probes: (P, D) embeddings (normalized here).
            top_k: identities per probe.
            aggregate: "mean" or "max" (see the class docstring).

        Returns:
            (labels (P, k) int64 indices into `names`, similarities (P, k) float32), best first,
            k = min(top_k, number of identities).
        """
        if aggregate not in AGGREGATES:
            raise BadInputError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        if not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise BadInputError(f"top_k must be a positive integer, got {top_k!r}")
        probes = np.asarray(probes, dtype=np.float32)
        if probes.ndim != 2 or probes.shape[1] != self.embedding_size:
            raise BadInputError(f"probe embeddings must have shape (P, {self.embedding_size}), got {probes.shape}")
        if not np.all(np.isfinite(probes)):
            raise BadInputError("probe embeddings contain NaN or infinity")
        if not self.names:
            raise BadInputError("the gallery is empty: enroll someone first")
        scores = self.identity_scores(probes, aggregate)
        # A score that is not a number ranks last and can never pass a threshold.
        scores = np.where(np.isfinite(scores), scores, -np.inf).astype(np.float32, copy=False)
        k = min(int(top_k), scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1).astype(np.int64), np.take_along_axis(top_scores, order, axis=1)

    def identity_scores(self, probes, aggregate="mean"):
        """(P, number of identities) cosine similarities of each probe to each identity.

        A chunked matrix product over the gallery (`chunk_rows` rows at a time).
        """
        probes = l2_normalize(probes)
        if aggregate == "mean":
            templates = self.templates()
            return np.concatenate(
                [probes @ templates[s : s + self.chunk_rows].T for s in range(0, len(templates), self.chunk_rows)],
                axis=1,
            )
        labels, embeddings, _ = self._rows()
        scores = np.full((len(probes), len(self.names)), -np.inf, np.float32)
        for s in range(0, len(labels), self.chunk_rows):
            block = probes @ embeddings[s : s + self.chunk_rows].T
            # Rows are grouped by identity: reduce each run of equal labels to its maximum.
            chunk_labels = labels[s : s + self.chunk_rows]
            run_starts = np.flatnonzero(np.r_[True, chunk_labels[1:] != chunk_labels[:-1]])
            run_labels = chunk_labels[run_starts]
            best = np.maximum.reduceat(block, run_starts, axis=1)
            scores[:, run_labels] = np.maximum(scores[:, run_labels], best)
        return scores

    def templates(self):
        """(number of identities, D) float32: each identity's re-normalized mean embedding."""
        if self._templates is None:
            labels, embeddings, _ = self._rows()
            run_starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]]) if len(labels) else labels
            if len(run_starts) == len(labels) == len(self.names):
                # One face per identity: the stored rows are the templates already.
                self._templates = embeddings
            else:
                # Rows are grouped by identity, so each identity's sum is one reduceat segment.
                sums = np.add.reduceat(embeddings, run_starts, axis=0) if len(labels) else embeddings
                if len(run_starts) != len(self.names):  # names without rows keep a zero template
                    full = np.zeros((len(self.names), self.embedding_size), np.float32)
                    full[labels[run_starts]] = sums
                    sums = full
                self._templates = l2_normalize(sums)
        return self._templates

    # -- files ---------------------------------------------------------------------------
    def save(self, path):
        """Write the gallery as an uncompressed `.npz` of plain arrays (no pickled objects).

        The file is replaced atomically and durably, with mode 0600 (`storage.atomic_write`):
        a crash leaves the old file or the new one, never a mix. An empty gallery is never
        written, so a failed enrollment cannot replace a file with nothing.

        Raises:
            BadInputError: the gallery holds no identity.
            WriteError: the file cannot be written (what was there is kept).
        """
        path = Path(path)
        labels, embeddings, sources = self._rows()
        if not len(labels):
            raise BadInputError("the gallery holds no face; an empty gallery is never written", path=path)
        arrays = {
            "format": np.array(GALLERY_FORMAT),
            "names": np.array(self.names, dtype=str).reshape(len(self.names)),
            "labels": labels,
            "embeddings": embeddings,
            "sources": np.array(sources, dtype=str).reshape(len(sources)),
            "model_name": np.array(str(self.model_identity["name"])),
            "model_embedding_size": np.array(self.embedding_size, np.int64),
            "model_hash": np.array(self.model_identity["hash"] or ""),
        }
        with atomic_write(path, PRIVATE_MODE) as stream:  # a file object keeps numpy from appending ".npz"
            np.savez(stream, **arrays)
        return path

    @classmethod
    def load(cls, path, embedder=None, chunk_rows=DEFAULT_CHUNK_ROWS, max_bytes=DEFAULT_MAX_BYTES):
        """Read a gallery written by `save`, checking everything and executing nothing it contains.

        Args:
            path: the `.npz` file.
            embedder: the `FaceEmbedder` to use it with; its model must be the one the gallery
                was enrolled with (same name, embedding size and, where both know it, hash).
            max_bytes: the most the arrays may take in memory, checked on the sizes the zip
                directory declares before anything is decompressed.

        Raises:
            BadInputError: one line naming the file and the problem: missing, not a gallery,
                pickled content, too large, malformed or inconsistent arrays, non-finite
                embeddings, or made with another model.
        """
        path = Path(path)
        if not path.is_file():
            raise BadInputError("no such gallery file", path=path)
        with open(path, "rb") as stream:
            magic = stream.read(4)
        if magic != _ZIP_MAGIC:
            looks_pickled = magic[:1] == b"\x80"
            raise BadInputError(
                "not a mobiface gallery (a .npz is a zip archive)"
                + ("; it looks like a Python pickle, which is never loaded: it could run code" if looks_pickled else ""),
                path=path,
            )
        arrays = _read_gallery_arrays(path, max_bytes)
        identity, labels, embeddings, names, sources = _check_gallery(arrays, path)
        gallery = cls(model_identity=identity, chunk_rows=chunk_rows)
        gallery.path = path
        if embedder is not None:
            gallery.attach(embedder)
        gallery.names = names
        gallery._label_of = {n: i for i, n in enumerate(names)}
        gallery._parts = [(labels, embeddings, sources)]
        return gallery

    def attach(self, embedder):
        """Use `embedder` to enroll and identify images; it must run the gallery's model.

        Raises:
            BadInputError: the embedder's model is not the one the gallery was enrolled with.
        """
        _check_same_model(self.model_identity, embedder.model_identity(), self.path or "this gallery")
        self.embedder = embedder
        return self

    # -- internals -----------------------------------------------------------------------
    def _rows(self):
        """(labels, embeddings, sources) of all rows, grouped by identity (stable within one)."""
        if self._merged is None:
            if not self._parts:
                self._merged = (np.zeros(0, np.int64), np.zeros((0, self.embedding_size), np.float32), [])
            else:
                labels = np.concatenate([p[0] for p in self._parts])
                embeddings = np.concatenate([p[1] for p in self._parts])
                sources = [s for p in self._parts for s in p[2]]
                if np.any(labels[1:] < labels[:-1]):  # a name enrolled again later
                    order = np.argsort(labels, kind="stable")
                    labels, embeddings, sources = labels[order], embeddings[order], [sources[i] for i in order]
                self._merged = (labels, embeddings, sources)
                self._parts = [self._merged]
        return self._merged

    def _need_embedder(self, what):
        if self.embedder is None:
            raise BadInputError(f"this gallery has no embedder: pass one to Gallery(...) or Gallery.load(...) to {what}")
        return self.embedder


def identified_name(matches, threshold):
    """The name of the best of `matches` ((name, similarity), best first) when its similarity
    reaches the cosine `threshold`, else None. A similarity that is not a number never does."""
    # `not >=` rather than `<`: NaN compares false both ways.
    if not matches or not matches[0][1] >= threshold:
        return None
    return matches[0][0]


def _check_same_model(stored, current, where):
    same = stored["name"] == current["name"] and int(stored["embedding_size"]) == int(current["embedding_size"])
    if same and stored.get("hash") and current.get("hash"):
        same = stored["hash"] == current["hash"]
    if not same:
        raise BadInputError(
            f"gallery was enrolled with model {_describe(stored)} but the model in use is "
            f"{_describe(current)}; enroll again with this model (mobiface enroll DIR --gallery FILE)",
            path=where,
        )


def _describe(identity):
    return f"{identity['name']!r} (D={identity['embedding_size']}, hash {identity.get('hash') or 'unknown'})"


def _check_name(name):
    if not isinstance(name, str) or not name.strip():
        raise BadInputError(f"an identity name must be a non-empty string, got {name!r}")
    return name


def _source_label(source):
    return str(source) if isinstance(source, (str, os.PathLike)) else ""


def _read_gallery_arrays(path, max_bytes):
    """The arrays of a gallery `.npz`, each checked against `_ARRAYS` before its data is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            wanted = {f"{key}.npy": key for key in _ARRAYS}
            missing = sorted(key for name, key in wanted.items() if name not in members)
            if missing:
                raise BadInputError(f"not a mobiface gallery: no {missing} arrays", path=path)
            unexpected = sorted(name for name in members if name not in wanted)
            if unexpected:
                raise BadInputError(f"not a mobiface gallery: unexpected entries {unexpected[:5]}", path=path)
            declared = sum(info.file_size for info in members.values())
            limit = min(int(max_bytes), _MAX_EXPANSION * path.stat().st_size + (1 << 20))
            if declared > limit:
                raise BadInputError(
                    f"its arrays declare {declared:,} bytes, more than the {limit:,} a gallery of this "
                    f"file's size may hold (max_bytes {int(max_bytes):,}); not read", path=path)
            return {key: _read_npy(archive, members[name], key, path) for name, key in wanted.items()}
    except BadInputError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError,
            OverflowError, KeyError) as error:
        raise BadInputError(f"not a readable .npz gallery ({_one_line(error)})", path=path) from None


def _read_npy(archive, info, key, path):
    kinds, ndim = _ARRAYS[key]
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise BadInputError(f"array {key!r}: unsupported .npy version {version}", path=path)
        if dtype.hasobject:
            # numpy would unpickle these; unpickling can run code.
            raise BadInputError(f"not a mobiface gallery: array {key!r} holds pickled objects, which are never "
                                "loaded", path=path)
        if dtype.kind not in kinds or dtype.fields is not None or len(shape) != ndim:
            raise BadInputError(
                f"array {key!r} is {dtype.str} with shape {shape}; expected {ndim}-D of kind {kinds!r}", path=path)
        count = int(np.prod(shape, dtype=object))
        size = count * dtype.itemsize
        if size != info.file_size - member.tell():
            raise BadInputError(f"array {key!r}: header says {size:,} bytes of data, the archive holds "
                                f"{info.file_size - member.tell():,}", path=path)
        data = member.read(size)
        if len(data) != size:
            raise BadInputError(f"array {key!r} is truncated", path=path)
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return array.astype(dtype.newbyteorder("="))


def _check_gallery(arrays, path):
    """(model identity, labels, embeddings, names, sources) of checked arrays, else BadInputError."""

    def refuse(problem):
        raise BadInputError(f"inconsistent gallery: {problem}", path=path)

    if str(arrays["format"]) != GALLERY_FORMAT:
        raise BadInputError(f"gallery format {str(arrays['format'])!r}, expected {GALLERY_FORMAT!r}", path=path)
    size = int(arrays["model_embedding_size"])
    if not 1 <= size <= _LARGEST_EMBEDDING:
        refuse(f"embedding size {size}")
    embeddings, labels = arrays["embeddings"], arrays["labels"]
    names = [str(name) for name in arrays["names"]]
    sources = [str(source) for source in arrays["sources"]]
    if embeddings.shape[1] != size:
        refuse(f"embeddings {embeddings.shape} but embedding size {size}")
    if not len(names) or not len(embeddings):
        refuse("it holds no identity")
    if labels.shape != (len(embeddings),) or len(sources) != len(embeddings):
        refuse(f"{len(embeddings)} embeddings, {len(labels)} labels, {len(sources)} sources")
    if labels.min() < 0 or labels.max() >= len(names):
        refuse(f"labels in {labels.min()}..{labels.max()} for {len(names)} names")
    if np.any(labels[1:] < labels[:-1]):
        refuse("rows are not grouped by identity")
    if len(np.unique(labels)) != len(names):
        refuse(f"{len(names) - len(np.unique(labels))} names have no embedding")
    if len(set(names)) != len(names) or not all(name.strip() for name in names):
        refuse("identity names are empty or repeated")
    embeddings = embeddings.astype(np.float32)
    if not np.all(np.isfinite(embeddings)):
        refuse(f"{int(np.sum(~np.all(np.isfinite(embeddings), axis=1)))} embeddings hold NaN or infinity")
    norms = np.linalg.norm(embeddings, axis=1)
    if np.any(norms == 0):
        refuse("an embedding is all zeros")
    if np.any(np.abs(norms - 1) > 1e-3):  # `save` stores unit rows; scores assume them
        embeddings = l2_normalize(embeddings)
    identity = {"name": str(arrays["model_name"]), "embedding_size": size, "hash": str(arrays["model_hash"]) or None}
    return identity, labels.astype(np.int64), embeddings, names, sources


def _one_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
