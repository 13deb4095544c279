"""Crafted bytes for every loader: a clean one-line error or a correct result, never a traceback, never
code execution.

Property-based (hypothesis), deterministic (`derandomize`, no example database) and small, so the
suite stays fast: each loader gets mutations of a valid file (bytes flipped, cut, overwritten with
zeros, junk inserted) and random bytes. "Clean" means a `MobiFaceError` (what the command-line
tools print as one line) whose message has no line break; anything else fails the test. The
`.tflite` cases run in a child process, so a crash in the native runtime would fail the test
instead of killing the suite.
"""

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mobiface_tf.errors import MobiFaceError

# Deterministic and modest: the same examples on every run, a few seconds per loader.
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def mutated(draw, base):
    """`base` with a few damages of the kinds real files suffer and crafted files use."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "zeros", "insert", "overwrite_int"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            data = data[:position]
        elif kind == "zeros":
            data[position:position + draw(st.integers(1, 4096))] = bytes(draw(st.integers(1, 4096)))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "overwrite_int":  # sizes and counts are where parsers trust their input
            value = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 2**63 - 1]))
            data[position:position + 8] = value.to_bytes(8, "little")
    return bytes(data)


def crafted(base):
    """Mutations of `base` or, now and then, bytes with no relation to it."""
    return st.one_of(mutated(base), st.binary(max_size=512))


def clean(call):
    """Run `call()`; return its result, or None after a clean error. Anything else propagates."""
    try:
        return call()
    except MobiFaceError as error:
        assert "\n" not in str(error), repr(str(error))
        return None


# -- images -------------------------------------------------------------------------------------
def _encoded(image_format, size=(40, 32)):
    pixels = np.random.default_rng(0).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


IMAGES = {name: _encoded(name) for name in ("JPEG", "PNG", "GIF", "TIFF", "WEBP", "BMP")}


@FUZZ
@given(data=st.one_of(*(crafted(base) for base in IMAGES.values())))
def test_images(data):
    from mobiface_tf.data.images import image_format, load_rgb, verify_image

    image = clean(lambda: load_rgb(data))
    if image is not None:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.size
    clean(lambda: image_format(data))
    clean(lambda: verify_image(data))


# -- galleries ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gallery_bytes(tmp_path_factory):
    from mobiface_tf.gallery import Gallery

    gallery = Gallery(model_identity={"name": "fuzz", "embedding_size": 8, "hash": "00"})
    rng = np.random.default_rng(0)
    for name in ("ann", "bob", "cid"):
        gallery.enroll_embeddings(name, rng.normal(size=(2, 8)))
    return gallery.save(tmp_path_factory.mktemp("gallery") / "g.npz").read_bytes()


@FUZZ
@given(data=st.data())
def test_galleries(gallery_bytes, tmp_path, data):
    from mobiface_tf.gallery import Gallery

    path = tmp_path / "g.npz"
    path.write_bytes(data.draw(crafted(gallery_bytes)))
    gallery = clean(lambda: Gallery.load(path))
    if gallery is not None:  # whatever loads is usable: finite, normalized, consistent
        assert np.all(np.isfinite(gallery.embeddings)) and len(gallery.names) >= 1
        np.testing.assert_allclose(np.linalg.norm(gallery.embeddings, axis=1), 1.0, atol=1e-3)
        labels, scores = gallery.search(np.ones((1, gallery.embedding_size)), top_k=2)
        assert np.all(labels < len(gallery.names)) and not np.any(np.isnan(scores))


_ARRAY = st.one_of(
    st.just(np.array("mobiface-gallery/1")),
    st.builds(lambda shape, kind: np.zeros(shape, kind),
              st.lists(st.integers(0, 3), max_size=3).map(tuple),
              st.sampled_from(["<f4", ">f8", "<i8", "<u2", "<U5", "?", "<c8", "|S3"])),
    st.just(np.array(["a", "b"])),
    st.just(np.array(8)),
    st.just(np.array([[np.nan] * 8])),
)


@FUZZ
@given(arrays=st.dictionaries(
    st.sampled_from(["format", "names", "labels", "embeddings", "sources", "model_name", "model_embedding_size",
                     "model_hash", "extra"]), _ARRAY, min_size=6))
def test_galleries_of_well_formed_archives_with_wrong_arrays(tmp_path, arrays):
    from mobiface_tf.gallery import Gallery

    path = tmp_path / "g.npz"
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
    clean(lambda: Gallery.load(path))


# -- verification .bin (pickles) ----------------------------------------------------------------
class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def bin_bytes(tmp_path_factory):
    from mobiface_tf.data.binsets import write_verification_bin

    path = tmp_path_factory.mktemp("bin") / "set.bin"
    faces = np.random.default_rng(0).integers(0, 255, (4, 112, 112, 3), dtype=np.uint8)
    write_verification_bin(path, faces, [True, False], protocol=2)
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_verification_bins_never_run_code(bin_bytes, tmp_path, data):
    from mobiface_tf.data.binsets import load_verification_bin

    marker = tmp_path / "code-ran"
    evil = pickle.dumps(([_RunsCode(marker)], [True]), protocol=data.draw(st.integers(0, 5)))
    path = tmp_path / "set.bin"
    path.write_bytes(data.draw(st.one_of(crafted(bin_bytes), mutated(evil), st.just(evil))))
    result = clean(lambda: load_verification_bin(path))
    if result is not None:
        images, issame = result
        assert images.shape == (2 * len(issame), 112, 112, 3) and issame.dtype == bool
    assert not marker.exists()


# -- InsightFace .rec / .idx ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def rec_files(tmp_path_factory):
    from mobiface_tf.data.recordio import write_insightface_rec

    folder = tmp_path_factory.mktemp("rec")
    write_insightface_rec(folder / "train.rec", [(IMAGES["JPEG"], k % 2) for k in range(4)])
    return {name: (folder / name).read_bytes() for name in ("train.rec", "train.idx", "property")}


@FUZZ
@given(data=st.data())
def test_rec_and_idx(rec_files, tmp_path, data):
    from mobiface_tf.data.recordio import read_insightface_rec, scan_records

    target = data.draw(st.sampled_from(sorted(rec_files)))
    for name, content in rec_files.items():
        (tmp_path / name).write_bytes(data.draw(crafted(content)) if name == target else content)

    def read_all():
        with read_insightface_rec(tmp_path / "train.rec") as record:
            return [record.read(i) for i in range(len(record))], record.num_classes

    clean(read_all)
    skipped = []
    records = clean(lambda: list(scan_records(tmp_path / "train.rec", skipped)))
    assert records is not None or target == "train.rec"  # salvaging raises only for an empty file
    assert all(isinstance(where, str) and "\n" not in reason for where, reason in skipped)


# -- TFRecord -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tfrecord_bytes(tmp_path_factory):
    from mobiface_tf.data.tfrecords import write_tfrecord

    path = tmp_path_factory.mktemp("tfrecord") / "faces.tfrecord"
    write_tfrecord(path, [(IMAGES["PNG"], k, f"person_{k}") for k in range(4)])
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_tfrecords(tfrecord_bytes, tmp_path, data):
    from mobiface_tf.data.tfrecords import read_tfrecord

    path = tmp_path / "faces.tfrecord"
    path.write_bytes(data.draw(crafted(tfrecord_bytes)))
    strict = clean(lambda: list(read_tfrecord(path)))
    skipped = []
    salvaged = list(read_tfrecord(path, skipped))  # salvaging never raises on damage
    if strict is not None:
        assert salvaged == strict
    for image, label, identity in salvaged:
        assert isinstance(image, bytes) and isinstance(label, int) and isinstance(identity, str)


# -- model metadata JSON and .tflite --------------------------------------------------------------
@pytest.fixture(scope="module")
def tflite_model(tmp_path_factory):
    from helpers import write_tiny_tflite

    return write_tiny_tflite(tmp_path_factory.mktemp("tflite") / "tiny.tflite", batch_size=1)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def metadata_documents(draw, base):
    """The model's own metadata with one field replaced by any JSON value, or broken text."""
    document = json.loads(base)
    section = draw(st.sampled_from(["top", "input", "normalization"]))
    target = {"top": document, "input": document["input"],
              "normalization": document["input"]["normalization"]}[section]
    key = draw(st.sampled_from(sorted(target) + ["threshold"]))
    target[key] = draw(JSON_VALUES)
    text = json.dumps(document)
    return draw(st.sampled_from([text, text[:len(text) // 2], text.replace("{", "[", 1)]))


@FUZZ
@given(data=st.data())
def test_metadata_json(tflite_model, tmp_path, data):
    from mobiface_tf.embedding import load_embedding_model

    model = tmp_path / "m.tflite"
    model.write_bytes(tflite_model.read_bytes())
    base = tflite_model.with_name(tflite_model.name + ".json").read_text()
    (tmp_path / "m.tflite.json").write_text(data.draw(metadata_documents(base)))
    loaded = clean(lambda: load_embedding_model(model, num_threads=1))
    if loaded is not None:
        clean(lambda: loaded.embed(np.zeros((2, 112, 112, 3), np.uint8)))


_TFLITE_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from mobiface_tf.embedding import load_embedding_model
    from mobiface_tf.errors import MobiFaceError

    outcomes = {"loaded": 0, "refused": 0}
    for path in sys.argv[1:]:
        try:
            model = load_embedding_model(path, normalization_inside=True, num_threads=1)
            model.embed(np.zeros((1, 112, 112, 3), np.uint8))
            outcomes["loaded"] += 1
        except MobiFaceError as error:
            assert "\\n" not in str(error), str(error)
            outcomes["refused"] += 1
    print(outcomes)
""")


def test_tflite_files_in_a_child_process(tflite_model, tmp_path):
    """Crafted `.tflite` files (one child process for all of them: a native crash fails here)."""
    base = tflite_model.read_bytes()
    paths = []

    @settings(derandomize=True, database=None, deadline=None, max_examples=60)
    @given(data=crafted(base))
    def collect(data):
        path = tmp_path / f"case_{len(paths):03d}.tflite"
        path.write_bytes(data)
        paths.append(path)

    collect()
    result = subprocess.run([sys.executable, "-c", _TFLITE_CHILD, *map(str, paths)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    outcomes = eval(result.stdout.strip().splitlines()[-1])  # a dict the child printed
    assert outcomes["loaded"] + outcomes["refused"] == len(paths) and outcomes["refused"] > 0


# -- .keras archives ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_bytes(tmp_path_factory):
    from helpers import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("keras") / "tiny.keras").read_bytes()


@settings(derandomize=True, database=None, deadline=None, max_examples=15,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_keras_archives(keras_bytes, tmp_path, data):
    from mobiface_tf.embedding import load_keras_model

    path = tmp_path / "m.keras"
    path.write_bytes(data.draw(crafted(keras_bytes)))
    clean(lambda: load_keras_model(path))


def test_a_zip_is_checked_before_anything_in_it_is_read(tmp_path):
    from mobiface_tf.embedding import load_keras_model
    from mobiface_tf.gallery import Gallery

    for name in ("bomb.npz", "bomb.keras"):
        with zipfile.ZipFile(tmp_path / name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("config.json", "{}")
            with archive.open("embeddings.npy", "w", force_zip64=True) as member:
                for _ in range(64):
                    member.write(bytes(1 << 20))
    assert clean(lambda: Gallery.load(tmp_path / "bomb.npz")) is None
    assert clean(lambda: load_keras_model(tmp_path / "bomb.keras")) is None
