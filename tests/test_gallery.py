"""Gallery: enrollment, chunked identification, pickle-free files bound to their model."""

import os
import pickle

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.errors import BadInputError, DataNotFoundError, ImageReadError, NoFaceError
from mobiface_tf.gallery import Gallery
from mobiface_tf.eval.verification import l2_normalize
from mobiface_tf.inference import FaceEmbedder

D = 16
IDENTITY = {"name": "synthetic", "embedding_size": D, "hash": "0123456789abcdef"}


def _gallery(identities=6, per_identity=4, seed=0, **kwargs):
    """A gallery of random identities: each a random centre plus noise; returns (gallery, centres)."""
    rng = np.random.default_rng(seed)
    centres = l2_normalize(rng.normal(size=(identities, D)))
    gallery = Gallery(model_identity=IDENTITY, **kwargs)
    for i, centre in enumerate(centres):
        gallery.enroll_embeddings(f"person_{i}", centre + 0.3 * rng.normal(size=(per_identity, D)) / np.sqrt(D))
    return gallery, centres


@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_identify_finds_the_identity_of_its_centre(aggregate):
    gallery, centres = _gallery()
    for i, centre in enumerate(centres):
        matches = gallery.identify(centre, top_k=3, aggregate=aggregate)
        assert [name for name, _ in matches][0] == f"person_{i}"
        similarities = [s for _, s in matches]
        assert len(matches) == 3 and similarities == sorted(similarities, reverse=True)


def test_max_aggregate_returns_the_exact_enrolled_face():
    gallery, _ = _gallery()
    row = 9  # some enrolled face
    name, similarity = gallery.identify(gallery.embeddings[row], top_k=1, aggregate="max")[0]
    assert name == gallery.names[gallery.labels[row]]
    assert similarity == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("per_identity", [1, 5])
@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_chunked_scores_equal_one_big_product(aggregate, per_identity):
    gallery, _ = _gallery(identities=7, per_identity=per_identity)
    small, _ = _gallery(identities=7, per_identity=per_identity, chunk_rows=3)
    probes = np.random.default_rng(1).normal(size=(4, D))
    expected = gallery.identity_scores(probes, aggregate)
    np.testing.assert_allclose(small.identity_scores(probes, aggregate), expected, atol=1e-6)
    embeddings, labels = gallery.embeddings, gallery.labels
    if aggregate == "max":
        brute = np.stack([(l2_normalize(probes) @ embeddings[labels == k].T).max(axis=1) for k in range(7)], axis=1)
    else:
        brute = l2_normalize(probes) @ l2_normalize(np.stack([embeddings[labels == k].mean(0) for k in range(7)])).T
    np.testing.assert_allclose(expected, brute, atol=1e-5)


def test_enrolling_a_name_again_adds_faces_to_it():
    gallery, centres = _gallery(identities=2, per_identity=2)
    gallery.enroll_embeddings("person_0", centres[1])
    assert gallery.names == ["person_0", "person_1"] and len(gallery) == 5
    assert (gallery.labels == 0).sum() == 3


def test_top_k_larger_than_the_gallery_and_bad_arguments():
    gallery, centres = _gallery(identities=2)
    assert len(gallery.identify(centres[0], top_k=10)) == 2
    with pytest.raises(BadInputError, match="top_k"):
        gallery.identify(centres[0], top_k=0)
    with pytest.raises(BadInputError, match="aggregate"):
        gallery.identify(centres[0], aggregate="median")
    with pytest.raises(BadInputError, match=r"\(n >= 1, 16\)"):
        gallery.enroll_embeddings("x", np.ones((2, D + 1)))
    with pytest.raises(BadInputError, match="empty"):
        Gallery(model_identity=IDENTITY).identify(centres[0])
    with pytest.raises(BadInputError, match="embedder"):
        gallery.identify(np.zeros((112, 112, 3), np.uint8))


def test_save_load_round_trip_keeps_everything(tmp_path):
    gallery, centres = _gallery()
    gallery.enroll_embeddings("José Ñúñez", centres[0], sources=["photos/josé.jpg"])
    path = gallery.save(tmp_path / "g.npz")
    assert path == tmp_path / "g.npz" and path.exists()
    with np.load(path, allow_pickle=False) as stored:
        assert stored["names"].dtype.kind == "U"
    loaded = Gallery.load(path)
    assert loaded.names == gallery.names
    assert loaded.model_identity == IDENTITY
    np.testing.assert_array_equal(loaded.embeddings, gallery.embeddings)
    np.testing.assert_array_equal(loaded.labels, gallery.labels)
    assert loaded.sources == gallery.sources and "photos/josé.jpg" in loaded.sources
    assert loaded.identify(centres[3]) == gallery.identify(centres[3])


def test_npz_with_pickled_objects_is_refused(tmp_path):
    gallery, _ = _gallery(identities=2)
    path = gallery.save(tmp_path / "g.npz")
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays["names"] = np.array(["a", "b"], dtype=object)
    with open(tmp_path / "objects.npz", "wb") as stream:
        np.savez(stream, **arrays)
    with pytest.raises(BadInputError, match="pickled"):
        Gallery.load(tmp_path / "objects.npz")


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_plain_pickle_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"names": _Payload(marker)}))
    with pytest.raises(BadInputError, match="pickle") as caught:
        Gallery.load(path)
    assert not marker.exists()
    assert "evil.npz" in str(caught.value)


def test_files_that_are_not_galleries(tmp_path):
    with pytest.raises(BadInputError, match="no such"):
        Gallery.load(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(BadInputError, match=r"zip archive\)$"):
        Gallery.load(tmp_path / "text.npz")
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(BadInputError, match="readable"):
        Gallery.load(tmp_path / "cut.npz")
    with open(tmp_path / "other.npz", "wb") as stream:
        np.savez(stream, x=np.zeros(3))
    with pytest.raises(BadInputError, match="not a mobiface gallery"):
        Gallery.load(tmp_path / "other.npz")


# -- with a real embedder ------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from helpers import write_tiny_model

    return FaceEmbedder(write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.keras"))


def test_a_gallery_refuses_another_model(embedder, tmp_path):
    from helpers import write_tiny_model

    gallery = Gallery(embedder)
    crops = np.random.default_rng(0).integers(0, 256, size=(2, 112, 112, 3), dtype=np.uint8)
    assert gallery.enroll("someone", list(crops), aligned=True) == 2
    path = gallery.save(tmp_path / "g.npz")
    assert Gallery.load(path, embedder=embedder).names == ["someone"]
    other = FaceEmbedder(write_tiny_model(tmp_path / "tiny.keras", seed=3))
    with pytest.raises(BadInputError, match="enrolled with model 'tiny'.*enroll again"):
        Gallery.load(path, embedder=other)
    with pytest.raises(BadInputError, match="D=16"):
        Gallery(embedder, model_identity=IDENTITY)


@pytest.mark.data
def test_enroll_tree_and_identify_real_photos(embedder, lfw_dir, tmp_path):
    people = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody"]
    root = tmp_path / "tree"
    for name in people:
        (root / name).mkdir(parents=True)
        for number in (1, 2):
            source = lfw_dir / "images" / name / f"{name}_{number:04d}.jpg"
            (root / name / source.name).write_bytes(source.read_bytes())
    (root / people[0] / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (root / "Nobody").mkdir()
    Image.fromarray(np.full((120, 120, 3), 90, np.uint8)).save(root / "Nobody" / "wall.png")

    gallery = Gallery(embedder)
    report = gallery.enroll_tree(root)
    assert report.enrolled == {name: 2 for name in people}
    assert len(report.skipped) == 2
    assert {type(error) for _, error in report.skipped} == {ImageReadError, NoFaceError}
    assert report.empty == ["Nobody"]
    assert "Nobody" not in gallery.names

    probe = root / people[1] / f"{people[1]}_0002.jpg"
    name, similarity = gallery.identify(probe, top_k=3, aggregate="max")[0]
    assert name == people[1] and similarity == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(DataNotFoundError):
        gallery.enroll_tree(tmp_path / "missing")


# -- loading checks everything before trusting it --------------------------------------------------
def _stored_arrays(tmp_path):
    gallery, _ = _gallery(identities=3, per_identity=2)
    path = gallery.save(tmp_path / "good.npz")
    with np.load(path) as stored:
        return {key: stored[key] for key in stored.files}


def _set(key, value):
    def mutate(arrays):
        arrays[key] = value(arrays) if callable(value) else value
    return mutate


def _nan(arrays):
    arrays["embeddings"] = arrays["embeddings"].copy()
    arrays["embeddings"][1, 0] = np.nan


def _zero_row(arrays):
    arrays["embeddings"] = arrays["embeddings"].copy()
    arrays["embeddings"][2] = 0


_CRAFTED = [
    ("nan_embedding", _nan, "hold NaN or infinity"),
    ("inf_embedding", _set("embeddings", lambda a: np.where(a["embeddings"] > 0, np.inf, 0).astype(np.float32)),
     "hold NaN or infinity"),
    ("zero_embedding", _zero_row, "all zeros"),
    ("scalar_as_vector", _set("model_embedding_size", np.array([D])), "'model_embedding_size' is <i8 with shape (1,)"),
    ("string_embeddings", _set("embeddings", lambda a: a["embeddings"].astype(str)), "'embeddings' is <U"),
    ("complex_embeddings", _set("embeddings", lambda a: a["embeddings"].astype(np.complex64)), "'embeddings' is <c8"),
    ("float_labels", _set("labels", lambda a: a["labels"].astype(np.float32)), "'labels' is <f4"),
    ("labels_out_of_range", _set("labels", np.array([0, 0, 1, 1, 2, 7])), "labels in 0..7 for 3 names"),
    ("negative_label", _set("labels", np.array([-1, 0, 1, 1, 2, 2])), "labels in -1..2"),
    ("ungrouped_labels", _set("labels", np.array([0, 1, 0, 1, 2, 2])), "not grouped"),
    ("fewer_sources", _set("sources", lambda a: a["sources"][:-1]), "6 embeddings, 6 labels, 5 sources"),
    ("fewer_labels", _set("labels", lambda a: a["labels"][:-1]), "6 embeddings, 5 labels"),
    ("repeated_name", _set("names", np.array(["a", "a", "b"])), "empty or repeated"),
    ("empty_name", _set("names", np.array(["a", " ", "b"])), "empty or repeated"),
    ("name_without_faces", _set("names", np.array(["a", "b", "c", "d"])), "1 names have no embedding"),
    ("size_disagrees", _set("model_embedding_size", np.array(D + 1)), f"embeddings (6, {D}) but embedding size {D + 1}"),
    ("size_zero", _set("model_embedding_size", np.array(0)), "embedding size 0"),
    ("other_format", _set("format", np.array("mobiface-gallery/9")), "gallery format 'mobiface-gallery/9'"),
    ("no_rows", lambda a: a.update(embeddings=a["embeddings"][:0], labels=a["labels"][:0], sources=a["sources"][:0]),
     "holds no identity"),
    ("missing_array", lambda a: a.pop("sources"), "no ['sources'] arrays"),
    ("extra_array", _set("payload", np.zeros(3)), "unexpected entries ['payload.npy']"),
    ("object_names", _set("names", lambda a: a["names"].astype(object)), "holds pickled objects"),
]


@pytest.mark.parametrize("name, mutate, message", _CRAFTED, ids=[case[0] for case in _CRAFTED])
def test_crafted_galleries_are_refused_in_one_line(tmp_path, name, mutate, message):
    arrays = _stored_arrays(tmp_path)
    mutate(arrays)
    path = tmp_path / f"{name}.npz"
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
    with pytest.raises(BadInputError) as caught:
        Gallery.load(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text, text


def test_big_endian_and_fortran_arrays_of_a_good_gallery_load(tmp_path):
    arrays = _stored_arrays(tmp_path)
    reference = Gallery.load(tmp_path / "good.npz")
    arrays["embeddings"] = np.asfortranarray(arrays["embeddings"].astype(">f8"))
    arrays["labels"] = arrays["labels"].astype(">u2")
    with open(tmp_path / "other_layout.npz", "wb") as stream:
        np.savez(stream, **arrays)
    loaded = Gallery.load(tmp_path / "other_layout.npz")
    np.testing.assert_allclose(loaded.embeddings, reference.embeddings, atol=1e-6)
    assert loaded.labels.tolist() == reference.labels.tolist()


def test_a_compressed_gallery_that_would_expand_without_bound_is_not_decompressed(tmp_path):
    import zipfile

    path = tmp_path / "bomb.npz"
    arrays = _stored_arrays(tmp_path)
    # Like the reported case: a small file declaring a huge array of zeros (here 256 MiB from ~250 KB).
    rows = (256 << 20) // (4 * D)
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, D)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            if key == "embeddings":
                with archive.open("embeddings.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_1_0(member, header)
                    for _ in range(256):
                        member.write(bytes(1 << 20))
            else:
                with archive.open(f"{key}.npy", "w") as member:
                    np.lib.format.write_array(member, value)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(BadInputError, match=r"declare 268,[\d,]+ bytes, more than the [\d,]+ a gallery of this file.s size may hold"):
        Gallery.load(path)
    good = tmp_path / "good.npz"
    with pytest.raises(BadInputError, match="max_bytes 100"):
        Gallery.load(good, max_bytes=100)


def test_an_array_header_that_lies_about_its_size_is_refused(tmp_path):
    import zipfile

    arrays = _stored_arrays(tmp_path)
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w") as member:
                if key == "embeddings":  # claims 10**9 rows, holds 6
                    np.lib.format.write_array_header_1_0(
                        member, {"descr": "<f4", "fortran_order": False, "shape": (10**9, D)})
                    member.write(value.astype("<f4").tobytes())
                else:
                    np.lib.format.write_array(member, value)
    with pytest.raises(BadInputError, match="'embeddings': header says 64,000,000,000 bytes"):
        Gallery.load(path)


def test_scores_that_are_not_numbers_never_identify_anyone():
    from mobiface_tf.gallery import identified_name

    gallery, centres = _gallery(identities=2)
    with pytest.raises(BadInputError, match="NaN or infinity"):
        gallery.identify(np.full(D, np.nan))
    assert identified_name([("person_0", float("nan"))], 0.4) is None
    assert identified_name([("person_0", 0.9)], 0.4) == "person_0"
    assert identified_name([("person_0", 0.3)], 0.4) is None
    # A model that outputs NaN: its scores rank last and cannot pass a threshold.
    labels, embeddings, sources = gallery._rows()
    gallery._parts = [(labels, np.full_like(embeddings, np.nan), sources)]
    gallery._merged = gallery._templates = None
    labels, scores = gallery.search(centres[:1])
    assert np.all(scores == -np.inf)


def test_an_empty_gallery_is_never_written(tmp_path):
    path = tmp_path / "g.npz"
    gallery, _ = _gallery(identities=2)
    gallery.save(path)
    before = path.read_bytes()
    with pytest.raises(BadInputError, match="empty gallery is never written"):
        Gallery(model_identity=IDENTITY).save(path)
    assert path.read_bytes() == before


def test_galleries_are_private_files(tmp_path):
    import stat

    previous = os.umask(0o022)
    try:
        path = _gallery()[0].save(tmp_path / "g.npz")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
