"""The a/b/c Flipped-MobiFace study on a tiny LFW-like folder: rows, wiring of each variant, latency, files."""

import json
import time

import numpy as np
import pytest
from helpers import tiny_model, write_lfw, write_tiny_model, write_tiny_tflite

from mobiface_tf.embedding import load_embedding_model
from mobiface_tf.errors import BadInputError, ModelLoadError
from mobiface_tf.eval import flip_study
from mobiface_tf.eval.lfw import LfwBenchmark
from mobiface_tf.models.flipped import FLIP_PREDICTION_LAYER, FlippedMobiFace
from mobiface_tf.train.flip import flip_variant_embedders, load_flipped_model

ROW_KEYS = {"variant", "feature", "passes", "accuracy_mean", "accuracy_std", "auc", "eer", "tar", "far",
            "tar_at_far", "latency_ms", "latency", "metrics"}


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    root = tmp_path_factory.mktemp("flip_study")
    lfw = write_lfw(root / "lfw")
    return LfwBenchmark(lfw, align="aligned", cache_path=root / "aligned.npz")


def _tiny_flipped(seed=0):
    # FlippedMobiFace on a few-layer backbone: the study only needs the flat flip graph.
    return FlippedMobiFace(backbone=tiny_model(seed), flip_hidden_units=16)


def test_three_rows_with_the_documented_keys(benchmark):
    model = _tiny_flipped()
    embed_backbone, embed_flipped = flip_variant_embedders(model)
    study = flip_study.compare_flip_variants(benchmark, embed_backbone, embed_flipped, latency_runs=3)
    assert [row["variant"] for row in study["rows"]] == ["a", "b", "c"]
    assert [row["passes"] for row in study["rows"]] == [1, 2, 1]
    assert study["pairs"] == 60 and study["dataset"] == "lfw"
    for row in study["rows"]:
        assert set(row) == ROW_KEYS
        assert 0.0 <= row["accuracy_mean"] <= 1.0 and 0.0 <= row["tar"] <= 1.0 and row["far"] == 1e-3
        assert set(row["latency_ms"]) == {"keras"} and row["latency_ms"]["keras"] > 0

    # (b) is a true second pass on the mirror: the same figures as averaging two explicit passes.
    two_pass = benchmark.evaluate(flip_study.two_pass_average(embed_backbone), flip="off")["no_flip"]
    assert study["rows"][1]["accuracy_mean"] == pytest.approx(two_pass["accuracy_mean"])
    assert study["rows"][1]["auc"] == pytest.approx(two_pass["auc"])


def test_variant_c_is_the_flipped_output_and_a_the_backbone(benchmark):
    model = _tiny_flipped(seed=1)
    # With g = 0, (f_I + g(f_I))/2 = f_I/2: cosine scores, so every figure of (c) equals (a)'s.
    prediction = model.get_layer(FLIP_PREDICTION_LAYER)
    prediction.set_weights([np.zeros_like(w) for w in prediction.get_weights()])
    study = flip_study.compare_flip_variants(benchmark, *flip_variant_embedders(model), latency_runs=1)
    a, _, c = study["rows"]
    np.testing.assert_allclose(c["metrics"]["roc"]["tpr"], a["metrics"]["roc"]["tpr"])
    assert c["accuracy_mean"] == a["accuracy_mean"] and c["auc"] == pytest.approx(a["auc"])

    # A non-zero g changes (c) and only (c).
    prediction.set_weights([np.random.default_rng(0).normal(0, 1, w.shape).astype(np.float32)
                            for w in prediction.get_weights()])
    changed = flip_study.compare_flip_variants(benchmark, *flip_variant_embedders(model), latency_runs=1)
    assert changed["rows"][0]["auc"] == pytest.approx(a["auc"])
    assert changed["rows"][2]["metrics"]["roc"]["tpr"].tolist() != a["metrics"]["roc"]["tpr"].tolist()


def test_latency_counts_two_passes_for_b():
    def slow_embed(faces):
        time.sleep(0.003)
        return np.ones((len(faces), 4), np.float32)

    timings = flip_study.measure_latency(flip_study.variant_embedders(slow_embed, slow_embed),
                                         np.zeros((112, 112, 3), np.uint8), runs=5, warmup=1)
    assert set(timings) == {"a", "b", "c"}
    assert timings["a"]["median_ms"] >= 3 and timings["c"]["median_ms"] >= 3
    assert timings["b"]["median_ms"] >= 6 and timings["b"]["runs"] == 5
    with pytest.raises(BadInputError, match="one face"):
        flip_study.measure_latency({"a": slow_embed}, np.zeros((2, 112, 112, 3), np.uint8), runs=1)


def test_litert_latency_and_the_written_files(benchmark, tmp_path):
    model = _tiny_flipped(seed=2)
    embed_backbone, embed_flipped = flip_variant_embedders(model)
    # A real LiteRT model stands in for the exported backbone; no flipped .tflite: (c) gets no time.
    litert = load_embedding_model(write_tiny_tflite(tmp_path / "tiny.tflite"), num_threads=1)
    study = flip_study.compare_flip_variants(
        benchmark, embed_backbone, embed_flipped, latency_runs=2,
        latency={"keras": (embed_backbone, embed_flipped), "litert_float32": (litert.embed, None)})
    a, b, c = study["rows"]
    assert a["latency_ms"]["litert_float32"] > 0 and b["latency_ms"]["litert_float32"] > 0
    assert c["latency_ms"]["litert_float32"] is None and c["latency_ms"]["keras"] > 0

    json_path, md_path = flip_study.write_study(study, tmp_path / "out", header="tiny check")
    saved = json.loads(json_path.read_text())
    assert [row["variant"] for row in saved["rows"]] == ["a", "b", "c"]
    lines = md_path.read_text().splitlines()
    assert lines[0] == "tiny check"
    table = [line for line in lines if line.startswith("| (")]
    assert len(table) == 3 and table[2].endswith("| n/a |")
    assert "keras ms/face | litert_float32 ms/face |" in lines[2]


def test_loading_refuses_a_plain_model(tmp_path):
    with pytest.raises(BadInputError, match="not a Flipped-MobiFace"):
        load_flipped_model(write_tiny_model(tmp_path / "plain.keras"))
    with pytest.raises(ModelLoadError, match="no best.keras"):
        load_flipped_model(tmp_path)
    _tiny_flipped().save(tmp_path / "flipped.keras")
    assert load_flipped_model(tmp_path / "flipped.keras").get_layer(FLIP_PREDICTION_LAYER) is not None
