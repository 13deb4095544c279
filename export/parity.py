"""Parity of exported `.tflite` models with their Keras source: embedding cosines and LFW accuracy."""

import numpy as np

from mobiface_tf.embedding import l2_normalize

# Mean-cosine targets per precision (issue 6); the int8 LFW drop target is in points of accuracy.
COSINE_TARGETS = {"float32": 0.9999, "float16": 0.999, "dynamic_int8": 0.98, "int8": 0.98}
MAX_LFW_DROP_POINTS = {"int8": 0.3}
MIN_PARITY_FACES = 500
THRESHOLD_FAR = 1e-3


def cosine_parity(reference, candidate):
    """Per-face cosine between two (N, D) embedding sets: {"faces", "mean", "min", "p01"}."""
    reference, candidate = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape or reference.ndim != 2:
        raise ValueError(f"embedding sets differ: {reference.shape} vs {candidate.shape}")
    cosines = np.sum(l2_normalize(reference) * l2_normalize(candidate), axis=1)
    return {
        "faces": int(len(cosines)),
        "mean": float(cosines.mean()),
        "min": float(cosines.min()),
        "p01": float(np.percentile(cosines, 1)),
    }


def lfw_summary(result):
    """The figures parity keeps from an `LfwBenchmark.evaluate(..., flip="off")` result."""
    metrics = result["no_flip"]
    at_far = {entry["far"]: entry for entry in metrics["tar_at_far"]}.get(THRESHOLD_FAR)
    return {
        "accuracy": metrics["accuracy_mean"],
        "accuracy_std": metrics["accuracy_std"],
        "tar_at_far_1e-3": None if at_far is None else at_far["tar"],
        "threshold_at_far_1e-3": None if at_far is None else at_far["threshold"],
        "achieved_far": None if at_far is None else at_far["achieved_far"],
    }


def recommended_threshold(lfw_keras):
    """The metadata `threshold` entry from the Keras model's LFW summary (or None)."""
    if lfw_keras is None or lfw_keras.get("threshold_at_far_1e-3") is None:
        return None
    return {"cosine": lfw_keras["threshold_at_far_1e-3"], "far": THRESHOLD_FAR,
            "source": "LFW View 2 pairs (all 10 folds), Keras model, no flip"}


def check_targets(precision, cosine, lfw_keras=None, lfw_tflite=None):
    """Whether an export meets its targets: {"cosine_target", "cosine_ok", "lfw_drop_points",
    "lfw_ok", "ok"} (LFW entries None when LFW was not evaluated)."""
    target = COSINE_TARGETS[precision]
    result = {"cosine_target": target, "cosine_ok": cosine["mean"] >= target,
              "lfw_drop_points": None, "lfw_ok": None}
    if lfw_keras is not None and lfw_tflite is not None:
        drop = 100.0 * (lfw_keras["accuracy"] - lfw_tflite["accuracy"])
        result["lfw_drop_points"] = drop
        limit = MAX_LFW_DROP_POINTS.get(precision)
        result["lfw_ok"] = None if limit is None else bool(drop <= limit)
    result["ok"] = bool(result["cosine_ok"] and result["lfw_ok"] is not False)
    return result


def format_report(report):
    """The parity report as Markdown table lines."""
    lines = ["| precision | size MB | cosine mean | cosine min | LFW acc | drop (points) | meets target |",
             "|---|---:|---:|---:|---:|---:|---|"]
    keras_lfw = report.get("keras", {}).get("lfw")
    if keras_lfw:
        lines.append(f"| keras | | | | {100 * keras_lfw['accuracy']:.2f} | | |")
    for precision, entry in report["exports"].items():
        lfw = entry.get("lfw")
        drop = entry["targets"]["lfw_drop_points"]
        accuracy = "" if lfw is None else f"{100 * lfw['accuracy']:.2f}"
        drop_text = "" if drop is None else f"{drop:+.2f}"
        lines.append(
            f"| {precision} | {entry['size_bytes'] / 1e6:.2f} | {entry['cosine']['mean']:.6f} | "
            f"{entry['cosine']['min']:.6f} | {accuracy} | {drop_text} | "
            f"{'yes' if entry['targets']['ok'] else 'NO'} |")
    return lines
