"""Report writing: valid JSON from numpy results, thinned ROCs, PNG plots, summary line."""

import json

import numpy as np

from mobiface_tf.eval import report
from mobiface_tf.eval.verification import verification_metrics


def _metrics():
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(0.6, 0.1, 3000), rng.normal(0.1, 0.1, 3000)]
    issame = np.r_[np.ones(3000, bool), np.zeros(3000, bool)]
    return verification_metrics(scores, issame, np.arange(6000) % 10)


def test_json_is_valid_and_roc_is_thinned(tmp_path):
    metrics = _metrics()
    path = report.write_json({"models": [{"lfw": {"no_flip": metrics}}]}, tmp_path / "r.json")
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    data = json.loads(text)
    roc = data["models"][0]["lfw"]["no_flip"]["roc"]
    assert 10 < len(roc["fpr"]) <= 400 and roc["thresholds"][0] is None  # +inf -> null
    assert roc["fpr"][0] == 0 and roc["fpr"][-1] == 1 and roc["tpr"][-1] == 1
    assert np.all(np.diff(roc["fpr"]) >= 0)


def test_plots_are_pngs(tmp_path):
    metrics = _metrics()
    roc = report.plot_roc({"a": (metrics["roc"]["fpr"], metrics["roc"]["tpr"]),
                           "b": ([0, 0.5, 1], [0, 0.9, 1])}, tmp_path / "roc.png")
    curve = report.plot_identification({"a": ([0, 10, 100], [0.99, 0.9, 0.7])},
                                       tmp_path / "ident.png")
    for path in (roc, curve):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_summary_line_labels_both_modes():
    metrics = _metrics()
    line = report.summary_line("m", {"no_flip": metrics, "flip_sum": metrics})
    assert line.startswith("m | no-flip: acc ") and "| flip-sum: acc " in line
    assert "\n" not in line and "@ FAR 0.001" in line
