"""Reports on run folders: their validation records (`metrics.jsonl`) and the side-by-side comparison."""

import json
from pathlib import Path

from mobiface_tf.train.config import load_config


def read_metrics(run_dir):
    """The validation records of a run folder's metrics.jsonl (empty list if none)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def history(run_dir, key="lfw_accuracy"):
    """(best validation accuracy `key` so far or -1, training seconds so far) of a run folder."""
    records = read_metrics(run_dir)
    best = max((r[key] for r in records if key in r), default=-1.0)
    return best, (records[-1].get("train_seconds", 0.0) if records else 0.0)


def compare_runs(run_dirs):
    """A Markdown table comparing run folders: model, parameters, steps, training time, accuracy.

    Accuracy is on each run's `best_on` validation set (LFW fold 10 by default): best and last validation.
    """
    from mobiface_tf.embedding import load_keras_model

    rows = ["| model | params | steps | batch | train time | last acc (step) | best acc | run |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for run_dir in map(Path, run_dirs):
        config, records = load_config(run_dir), read_metrics(run_dir)
        on = (config.best_on if config is not None else "") or "lfw"
        records = [r for r in records if f"{on}_accuracy" in r]
        if config is None or not records:
            rows.append(f"| ? | | | | | no validation yet | | {run_dir} |")
            continue
        last = records[-1]
        final = run_dir / "final.keras"
        params = f"{load_keras_model(final).model.count_params():,}" if final.exists() else "?"
        rows.append(
            f"| {config.model} | {params} | {last['step']} | {config.batch_size} | "
            f"{last.get('train_seconds', 0) / 60:.1f} min | {'' if on == 'lfw' else on + ' '}{last[f'{on}_accuracy']:.4f} +- "
            f"{last[f'{on}_accuracy_std']:.4f} ({last['step']}) | {max(r[f'{on}_accuracy'] for r in records):.4f} | "
            f"{run_dir} |"
        )
    return "\n".join(rows)
