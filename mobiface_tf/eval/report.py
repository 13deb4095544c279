"""Evaluation reports: the JSON file, the PNG plots (ROC on a log FAR axis, identification curve)
and the one-line summary per model."""

import json
import math
from pathlib import Path

import numpy as np

# A ROC in the JSON keeps at most this many points (log-spaced in FAR); plots use all.
_JSON_ROC_POINTS = 400


def to_jsonable(value):
    """Numpy arrays and scalars as lists and numbers; inf and NaN as null (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def thin_roc(roc, points=_JSON_ROC_POINTS):
    """A ROC dict {"fpr", "tpr", "thresholds"} reduced to about `points` points, log-spaced in
    FAR, always keeping the first and last point."""
    fpr = np.asarray(roc["fpr"])
    if len(fpr) <= points:
        return roc
    targets = np.r_[0.0, np.logspace(-6, 0, points - 2), 1.0]
    keep = np.unique(np.clip(np.searchsorted(fpr, targets, side="right") - 1, 0, len(fpr) - 1))
    keep = np.unique(np.r_[0, keep, len(fpr) - 1])
    return {k: np.asarray(v)[keep] for k, v in roc.items()}


def _thin_all(value):
    if isinstance(value, dict):
        if set(value) >= {"fpr", "tpr"}:
            return thin_roc(value)
        return {k: _thin_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thin_all(v) for v in value]
    return value


def write_json(report, path):
    """Write a report dict as indented JSON (ROCs thinned, numpy converted); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(_thin_all(report)), indent=1) + "\n")
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(curves, path, title="LFW verification ROC"):
    """ROC curves, TAR against FAR on a log axis; `curves` maps a label to (fpr, tpr)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=110)
    smallest = 1.0
    for label, (fpr, tpr) in curves.items():
        fpr, tpr = np.asarray(fpr), np.asarray(tpr)
        positive = fpr > 0
        if positive.any():
            smallest = min(smallest, fpr[positive].min())
        # A log axis cannot show FAR 0; the step to the first accepted impostor starts there.
        ax.step(np.where(positive, fpr, np.nan), tpr, where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlim(max(smallest, 1e-6) / 2, 1.0)
    ax.set_xlabel("false accept rate (FAR)")
    ax.set_ylabel("true accept rate (TAR)")
    return _finish(plt, fig, ax, path, title, legend_loc="lower right")


def plot_identification(curves, path, title="Rank-1 identification among distractors"):
    """Rank-1 rate against the number of distractors (log axis; 0 drawn at 1);
    `curves` maps a label to (distractor counts, rates)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=110)
    for label, (counts, rates) in curves.items():
        ax.plot(np.maximum(np.asarray(counts, float), 1), 100 * np.asarray(rates), marker="o",
                label=label)
    ax.set_xscale("log")
    ax.set_xlabel("distractors (0 plotted at 1)")
    ax.set_ylabel("rank-1 identification rate (%)")
    return _finish(plt, fig, ax, path, title, legend_loc="lower left")


def _finish(plt, fig, ax, path, title, legend_loc):
    """Title, grid and legend the way every report plot has them; write the PNG and free it."""
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc=legend_loc, fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def summary_line(name, result):
    """One line per model: LFW accuracy with and without flip, AUC, EER, TAR at the first FAR."""
    parts = [name]
    for key, label in (("no_flip", "no-flip"), ("flip_sum", "flip-sum")):
        metrics = result.get(key)
        if not metrics:
            continue
        text = (f"{label}: acc {100 * metrics['accuracy_mean']:.2f} +- "
                f"{100 * metrics['accuracy_std']:.2f}%, AUC {metrics['auc']:.4f}, "
                f"EER {100 * metrics['eer']:.2f}%")
        if metrics.get("tar_at_far"):
            first = metrics["tar_at_far"][0]
            text += f", TAR {100 * first['tar']:.2f}% @ FAR {first['far']:g}"
        parts.append(text)
    return " | ".join(parts)
