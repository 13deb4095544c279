"""Identification among distractors on tiny synthetic embeddings with known answers."""

import numpy as np
import pytest

from mobiface_tf.errors import BadInputError
from mobiface_tf.eval import identification as ident
from mobiface_tf.eval.verification import l2_normalize


def _basis(n, dim=8):
    return np.eye(dim, dtype=np.float32)[:n]


def test_known_rank1_as_distractors_are_added():
    # Gallery: 4 identities on axes e0..e3. Probes lie near their mate with cosine 0.8.
    gallery = _basis(4)
    labels = np.arange(4)
    probes = 0.8 * gallery + 0.6 * _basis(8)[4:8]
    # Distractor 0 beats probe 0's mate (cosine 0.9 with it), distractor 2 beats probe 1's.
    d0 = l2_normalize(0.9 * probes[0] + 0.1 * _basis(8)[7])
    d2 = l2_normalize(0.95 * probes[1] + 0.05 * _basis(8)[6])
    distractors = np.stack([d0, -gallery[2], d2] + [-gallery[3]] * 7)
    result = ident.identification_metrics(probes, labels, gallery, labels, distractors,
                                          sizes=(1, 2, 3, 10), fars=())
    rates = {r["distractors"]: r["rate"] for r in result["rank1"]}
    assert rates == {0: 1.0, 1: 0.75, 2: 0.75, 3: 0.5, 10: 0.5}
    assert result["tar_at_far"] == []


def test_chunked_equals_unchunked_and_brute_force():
    rng = np.random.default_rng(1)
    gallery = rng.standard_normal((30, 16)).astype(np.float32)
    labels = np.arange(30) * 7  # identities need not be 0..G-1
    probe_labels = np.repeat(labels, 2)
    probes = gallery[np.repeat(np.arange(30), 2)] + rng.standard_normal((60, 16)) * 0.9
    distractors = rng.standard_normal((500, 16)).astype(np.float16)
    kwargs = dict(sizes=(10, 100, 500), fars=(1e-3, 1e-2))
    whole = ident.identification_metrics(probes, probe_labels, gallery, labels, distractors,
                                         **kwargs)
    chunked = ident.identification_metrics(probes, probe_labels, gallery, labels, distractors,
                                           score_bytes=4 * 60 * 7, **kwargs)
    assert whole == chunked
    p, g = l2_normalize(probes), l2_normalize(gallery)
    d = l2_normalize(distractors.astype(np.float32))
    for entry in whole["rank1"]:
        n = entry["distractors"]
        scores = p @ np.concatenate([g, d[:n]]).T
        expected = np.mean(np.argmax(scores, axis=1) == np.repeat(np.arange(30), 2))
        assert entry["rate"] == pytest.approx(expected)
    genuine = np.sum(p * g[np.repeat(np.arange(30), 2)], axis=1)
    impostor = np.sort((p @ d.T).ravel())[::-1]
    for entry in whole["tar_at_far"]:
        allowed = int(entry["far"] * impostor.size)
        assert impostor[allowed] < entry["threshold"] <= impostor[max(allowed - 1, 0)] or \
            allowed == 0
        assert entry["tar"] == pytest.approx(np.mean(genuine >= entry["threshold"]))
        assert entry["achieved_far"] <= entry["far"]


def test_split_gallery_probes():
    labels = np.array([5, 5, 5, 3, 9, 9])
    gallery, probes = ident.split_gallery_probes(labels, max_probes_per_identity=1)
    assert gallery.tolist() == [0, 4] and probes.tolist() == [1, 5]


def test_synthetic_distractors_are_seeded_unit_vectors_and_cached(tmp_path):
    path = tmp_path / "synthetic.npy"
    first = ident.DistractorSet.synthetic(path, 1000, 32, seed=3, chunk=300)
    assert first.embeddings.dtype == np.float16 and first.embeddings.shape == (1000, 32)
    norms = np.linalg.norm(first.embeddings.astype(np.float32), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)
    mtime = path.stat().st_mtime_ns
    again = ident.DistractorSet.synthetic(path, 1000, 32, seed=3)
    assert path.stat().st_mtime_ns == mtime  # reused, not rewritten
    np.testing.assert_array_equal(first.embeddings, again.embeddings)
    other = ident.DistractorSet.synthetic(tmp_path / "other.npy", 1000, 32, seed=4)
    assert not np.array_equal(first.embeddings, other.embeddings)


def test_distractors_from_faces_are_cached_by_model_key(tmp_path):
    from PIL import Image

    files = []
    for i in range(5):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((112, 112, 3), 40 * i + 10, np.uint8)).save(files[-1])
    calls = []

    def embed(faces):
        calls.append(len(faces))
        return np.stack([faces.mean(axis=(1, 2, 3)), np.ones(len(faces))], axis=1)

    made = ident.DistractorSet.from_faces(tmp_path / "d.npy", files, embed, model_key="m1",
                                          batch=2)
    assert made.embeddings.shape == (5, 2)
    n_calls = len(calls)
    ident.DistractorSet.from_faces(tmp_path / "d.npy", files, embed, model_key="m1")
    assert len(calls) == n_calls
    ident.DistractorSet.from_faces(tmp_path / "d.npy", files, embed, model_key="m2")
    assert len(calls) > n_calls


def test_bad_inputs():
    g = _basis(2)
    with pytest.raises(BadInputError, match="no gallery mate"):
        ident.identification_metrics(g, [0, 7], g, [0, 1], np.zeros((0, 8)))
    with pytest.raises(BadInputError, match="one face per identity"):
        ident.identification_metrics(g, [0, 0], g, [0, 0], np.zeros((0, 8)))


def test_held_out_split_identifies_held_people_among_everyone_else():
    # Identities: a (3 items, held), b (1 item, held: too few to identify), c (2, not held), d (2, held).
    names = ["a", "b", "c", "d"]
    labels = np.array([0, 2, 0, 1, 3, 2, 0, 3])
    gallery, probes, distractors = ident.held_out_split(labels, names, {"a", "b", "d"})
    assert gallery.tolist() == [0, 4] and sorted(probes.tolist()) == [2, 6, 7]
    assert sorted(distractors.tolist()) == [1, 3, 5]  # all of c, and b's single image
    assert set(labels[gallery]) == set(labels[probes]) == {0, 3}
    with pytest.raises(BadInputError, match="two images"):
        ident.held_out_split(labels, names, {"b"})
