"""LFW evaluation end to end: the benchmark on real LFW folds, its caches, and `mobiface-eval`."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from mobiface_tf.embedding import EmbeddingModel, load_embedding_model
from mobiface_tf.eval.lfw import LfwBenchmark, pair_index


def _tiny_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((112, 112, 3))
    x = keras.layers.Rescaling(1 / 128.0, offset=-127.5 / 128.0, name="normalize")(inputs)
    x = keras.layers.Conv2D(8, 8, strides=8, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(16, name="embedding")(x), name="tiny")


def _run_cli(args, work, timeout=300):
    env = {"MOBIFACE_WORK": str(work), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "mobiface_tf.cli.evaluate", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)



def test_pair_index_lists_each_image_once_and_interleaves_a_single_fold():
    from mobiface_tf.data.sources import Pair

    pairs = [Pair("A", 1, "A", 2, True, 9), Pair("B", 1, "A", 1, False, 9)] * 10
    index = pair_index(pairs)
    assert index.relpaths == ["A/A_0001.jpg", "A/A_0002.jpg", "B/B_0001.jpg"]
    assert index.index_a.tolist()[:2] == [0, 2] and index.index_b.tolist()[:2] == [1, 0]
    assert index.issame.tolist()[:2] == [True, False]
    # One fold: ten sub-folds, each with one genuine and one impostor pair.
    assert sorted(index.folds[index.issame]) == list(range(10)) == sorted(index.folds[~index.issame])
    two_folds = pair_index([Pair("A", 1, "A", 2, True, 0), Pair("B", 1, "A", 1, False, 3)])
    assert two_folds.folds.tolist() == [0, 3]

@pytest.mark.data
def test_lfw_benchmark_on_two_folds_reuses_aligned_cache(lfw_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path))
    lines = []
    bench = LfwBenchmark(lfw_dir, folds=[0, 1], log=lines.append)
    assert bench.align == "landmarks" and len(bench.pairs) == 1200
    assert bench.faces.shape == (len(bench.relpaths), 112, 112, 3)
    assert bench.faces.dtype == np.uint8 and len(lines) == 1  # aligned once
    cache = tmp_path / "cache" / "lfw_aligned_landmarks.npz"
    stamp = cache.stat().st_mtime_ns
    again = LfwBenchmark(lfw_dir, folds=[1], log=lines.append)
    assert len(lines) == 1 and cache.stat().st_mtime_ns == stamp  # nothing re-aligned
    row = {r: i for i, r in enumerate(bench.relpaths)}
    np.testing.assert_array_equal(again.faces, bench.faces[[row[r] for r in again.relpaths]])
    # One fold alone is cross-validated over 10 interleaved sub-folds with 30 + 30 pairs.
    assert sorted(np.bincount(again.folds)) == [60] * 10
    assert all(np.sum(again.issame[again.folds == f]) == 30 for f in range(10))

    model = EmbeddingModel.from_keras(_tiny_model())
    result = bench.evaluate(model.embed, flip="both")
    assert result["pairs"] == 1200 and result["align"] == "landmarks"
    for key in ("no_flip", "flip_sum"):
        metrics = result[key]
        assert set(metrics) >= {"accuracy_mean", "accuracy_std", "auc", "eer", "tar_at_far",
                                "roc", "fold_accuracies"}
        assert metrics["folds"] == [0, 1] and 0.4 <= metrics["accuracy_mean"] <= 1.0
        assert 0 <= metrics["eer"] <= 1 and metrics["tar_at_far"][0]["far"] == 1e-3


@pytest.mark.data
@pytest.mark.slow
def test_cli_writes_report_and_plot_and_caches_embeddings(lfw_dir, tmp_path):
    model_path = tmp_path / "tiny.keras"
    _tiny_model().save(model_path)
    out = tmp_path / "out"
    args = ["--model", str(model_path), "--lfw_dir", str(lfw_dir), "--lfw_folds", "9",
            "--out", str(out)]
    first = _run_cli(args, tmp_path / "work")
    assert first.returncode == 0, first.stderr[-2000:]
    summary = [line for line in first.stdout.splitlines() if line.startswith("tiny LFW")]
    assert len(summary) == 1 and "no-flip: acc" in summary[0] and "flip-sum: acc" in summary[0]
    report = json.loads((out / "report.json").read_text())
    lfw = report["models"][0]["lfw"]
    assert lfw["pairs"] == 600 and lfw["embedding_cache"]["reused"] == []
    assert (out / "roc.png").read_bytes()[:4] == b"\x89PNG"
    second = _run_cli(args, tmp_path / "work")
    assert second.returncode == 0, second.stderr[-2000:]
    lfw_again = json.loads((out / "report.json").read_text())["models"][0]["lfw"]
    assert lfw_again["embedding_cache"]["reused"] == ["mirror", "plain"]
    assert "aligned" not in second.stderr  # crops came from the cache
    assert lfw_again["flip_sum"]["accuracy_mean"] == lfw["flip_sum"]["accuracy_mean"]


def test_cli_bad_model_path_is_one_line_and_non_zero(tmp_path):
    result = _run_cli(["--model", str(tmp_path / "nope.tflite"), "--lfw_dir", ""], tmp_path)
    assert result.returncode == 6
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'nope.tflite'}: no such model file or folder")
    assert "Traceback" not in result.stderr


def test_evaluate_bin_scores_pairs_and_caches_embeddings(tmp_path, monkeypatch):
    from mobiface_tf.data.sources import write_verification_bin
    from mobiface_tf.eval.lfw import evaluate_bin

    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    rng = np.random.default_rng(0)
    # 40 pairs: genuine pairs are the same image with a little noise, impostors unrelated.
    firsts = rng.integers(0, 256, (40, 112, 112, 3))
    issame = np.arange(40) % 2 == 0
    seconds = np.where(issame[:, None, None, None],
                       np.clip(firsts + rng.integers(-3, 4, firsts.shape), 0, 255),
                       rng.integers(0, 256, firsts.shape))
    images = np.stack([firsts, seconds], axis=1).reshape(80, 112, 112, 3).astype(np.uint8)
    path = tmp_path / "toy_set.bin"
    write_verification_bin(path, images, issame, image_format="PNG")

    keras.utils.set_random_seed(0)
    inputs = keras.Input((112, 112, 3))
    flat = keras.layers.Flatten()(keras.layers.AveragePooling2D(8)(inputs))
    model_path = tmp_path / "pool.keras"
    keras.Model(inputs, keras.layers.Rescaling(1.0, offset=-127.5)(flat)).save(model_path)
    model = load_embedding_model(model_path)
    result = evaluate_bin(path, model, flip="off")
    assert result["dataset"] == "toy_set" and result["pairs"] == 40
    assert result["no_flip"]["accuracy_mean"] == 1.0 and result["no_flip"]["auc"] == 1.0
    assert result["no_flip"]["folds"] == list(range(10))
    again = evaluate_bin(path, model, flip="off")
    assert again["embedding_cache"]["reused"] == ["plain"]


def test_cli_identification_of_held_out_lfw_fold_people(tmp_path):
    from helpers import write_lfw

    lfw = write_lfw(tmp_path / "lfw")  # 10 folds of 2 people with 3 aligned crops each
    model_path = tmp_path / "tiny.keras"
    _tiny_model().save(model_path)
    out = tmp_path / "out"
    result = _run_cli([f"--model={model_path}", f"--lfw_dir={lfw}", f"--ident_dir={lfw / 'images'}",
                       "--ident_lfw_folds=10", f"--out={out}"], tmp_path / "work")
    assert result.returncode == 0, result.stderr[-2000:]
    ident = json.loads((out / "report.json").read_text())["models"][0]["identification"]
    assert (ident["gallery"], ident["probes"], ident["distractors"]) == (2, 4, 54)
    assert [r["distractors"] for r in ident["rank1"]][-1] == 54
    assert "rank-1" in result.stdout and "TAR" in result.stdout
    assert ident["flip_sum"] is False

    # --flip=on embeds every face with its mirror; its distractors are cached apart.
    flipped = _run_cli([f"--model={model_path}", f"--lfw_dir={lfw}", f"--ident_dir={lfw / 'images'}",
                        "--ident_lfw_folds=10", "--flip=on", f"--out={tmp_path / 'flip'}"], tmp_path / "work")
    assert flipped.returncode == 0, flipped.stderr[-2000:]
    ident_flip = json.loads((tmp_path / "flip" / "report.json").read_text())["models"][0]["identification"]
    assert ident_flip["flip_sum"] is True and "identification (flip-sum)" in flipped.stdout
    caches = sorted(p.name for p in (tmp_path / "work").rglob("distractors/*.npy"))
    assert len(caches) == 2 and sum(name.endswith("_flip.npy") for name in caches) == 1, caches
