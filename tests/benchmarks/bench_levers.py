"""Distillation levers at equal budget: which one closes the student's gap to its teacher?

Prints a Markdown table; not a pytest test. Run from the project root after stage 1 of the
bundle (`make train-distill`), through `make bench-levers`:

    .venv/bin/python tests/benchmarks/bench_levers.py --teacher=work/third_party/.../MobileFaceNet.tflite
        [--stage1 work/runs/distill] [--steps 600] [--scratch_steps 600] [--levers baseline,...]
        [--runs work/runs/levers]

Two kinds of rows, each a real `mobiface-train` run of the `distill` preset (resumable: a rerun
skips finished runs and resumes unfinished ones), then `mobiface-eval` of its final weights:
- training levers continue stage 1 (`--init_from`) for `--steps` steps, each changing one thing
  against the `baseline` row;
- architecture levers (embedding size, PReLU) cannot start from stage 1's weights, so they train
  from scratch for `--scratch_steps` and compare against `scratch_baseline`.
Both budgets run Adam 1e-3, / 10 at 70% and 90% of their steps (the distill preset's shape).
Columns: LFW fold 10 (threshold from folds 1-9, flip-sum: the bundled model's headline), LFW
10-fold flip-sum mean (folds 1-9's people are training identities), TAR at FAR 1e-3 over all
10 folds (flip-sum), rank-1 of `make eval-ident`'s held-out protocol (fold-10 people among
11,877 LFW distractors), the similarity gap (mean |student cosine - teacher cosine| over all
pairs of fold-10 faces: the least noisy measure of how far the student is from its teacher),
training minutes. JSON beside the runs: `<runs>/levers.json`.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# name -> (starts from, extra flags). "stage1": --init_from stage 1, the continuation budget;
# "scratch": random weights, the scratch budget.
LEVERS = {
    "baseline": ("stage1", []),
    "relational": ("stage1", ["--relational_weight=10"]),
    "mixed_views": ("stage1", ["--mix_fraction=0.5"]),
    "strong_augment": ("stage1", ["--augment=strong"]),
    "margin": ("stage1", ["--loss=arcface", "--warmup_steps=200", "--distill_weight=20"]),
    "scratch_baseline": ("scratch", []),
    "embedding_512": ("scratch", ["--embedding_size=512"]),
    "prelu": ("scratch", ["--activation=prelu"]),
}


def train(name, start, flags, args):
    """Run (or resume) one lever's training; returns its run folder."""
    run = Path(args.runs) / name
    command = [str(Path(sys.executable).parent / "mobiface-train"), "--preset=distill", f"--teacher={args.teacher}",
               "--teacher_input_mean=127.5", "--teacher_input_std=128", f"--run_dir={run}", "--noprogress",
               "--eval_every=0", *flags]
    steps = args.steps if start == "stage1" else args.scratch_steps
    command += [f"--max_steps={steps}", f"--lr_boundaries={int(steps * 0.7)},{int(steps * 0.9)}"]
    if start == "stage1":
        command.append(f"--init_from={args.stage1}")
    if not (run / "final.keras").exists():
        print(f"# training {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        start_time = time.monotonic()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        # Wall time of this process's share (a resumed run adds to what the earlier one spent).
        _add_seconds(run, time.monotonic() - start_time)
    return run


def _add_seconds(run, seconds):
    path = Path(run) / "bench_seconds.txt"
    total = float(path.read_text()) if path.exists() else 0.0
    path.write_text(f"{total + seconds:.1f}\n")


def _train_seconds(run):
    """Wall seconds this script spent training `run`, or the trainer's own count (metrics.jsonl)."""
    path = Path(run) / "bench_seconds.txt"
    if path.exists():
        return float(path.read_text())
    metrics = [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return metrics[-1].get("train_seconds", float("nan")) if metrics else float("nan")


def evaluate(name, model_path, args):
    """LFW 10-fold and held-out identification (`make eval-ident`'s protocol) of `model_path`,
    from cached aligned crops; returns the report's entry."""
    out = Path(args.runs) / name / "eval"
    report = out / "report.json"
    if not report.exists() or "identification" not in json.loads(report.read_text())["models"][0]:
        command = [str(Path(sys.executable).parent / "mobiface-eval"), f"--model={model_path}", f"--out={out}",
                   f"--ident_dir={args.lfw_aligned}", "--ident_lfw_folds=10", "--ident_sizes=1000"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(report.read_text())["models"][0]


def teacher_agreement(model_path, args):
    """Mean cosine between the student's and the teacher's embeddings of every aligned face of
    the LFW fold-10 people (never trained on): how closely the student reproduces its teacher's
    geometry, with far less noise than 600 pairs. Embeddings compared through the student run's
    projection would flatter it; here the two are compared by their pairwise cosines instead:
    the mean absolute difference of the pairwise-similarity matrices (lower is better)."""
    import numpy as np

    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.data.sources import list_identity_tree, read_people
    from mobiface_tf.embedding import load_embedding_model, l2_normalize
    from mobiface_tf.paths import data_root

    people = {name for name, _ in read_people(data_root() / "lfw" / "people.txt")[9]}
    paths, labels, names = list_identity_tree(args.lfw_aligned)
    faces = np.stack([load_rgb(p) for p, label in zip(paths, labels) if names[label] in people])
    if not hasattr(teacher_agreement, "teacher"):
        teacher = load_embedding_model(args.teacher, input_mean=127.5, input_std=128.0)
        teacher_agreement.teacher = l2_normalize(teacher.embed(faces))
    t = teacher_agreement.teacher
    s = l2_normalize(load_embedding_model(model_path).embed(faces))
    return float(np.mean(np.abs(s @ s.T - t @ t.T)))


def row(name, start, entry, seconds, agreement):
    flip = entry["lfw"]["flip_sum"]
    tar = next(t for t in flip["tar_at_far"] if abs(t["far"] - 1e-3) < 1e-12)
    ident = entry["identification"]
    return {"lever": name, "start": start, "fold10_flip_sum": flip["fold_accuracies"][9],
            "lfw10_flip_sum": flip["accuracy_mean"], "tar_far_1e-3": tar["tar"],
            "heldout_rank1": ident["rank1"][-1]["rate"], "similarity_gap": agreement, "train_minutes": seconds / 60}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--stage1", default="work/runs/distill")
    parser.add_argument("--steps", type=int, default=600, help="continuation budget (steps of 64)")
    parser.add_argument("--scratch_steps", type=int, default=600, help="from-scratch budget (steps of 64)")
    parser.add_argument("--levers", default=",".join(LEVERS))
    parser.add_argument("--runs", default="work/runs/levers")
    parser.add_argument("--lfw_aligned", default="work/aligned/lfw", help="aligned LFW tree (make align-lfw)")
    args = parser.parse_args()
    names = [n for n in args.levers.split(",") if n]
    unknown = sorted(set(names) - set(LEVERS))
    if unknown:
        sys.exit(f"error: unknown levers {unknown}; choose from {sorted(LEVERS)}")
    stage1 = Path(args.stage1)
    if not (stage1 / "final.keras").exists():
        sys.exit(f"error: {stage1}/final.keras not found: run `make train-distill` first")

    rows = [row("stage 1 (the starting point)", "-", evaluate("stage1", stage1 / "final.keras", args),
                _train_seconds(stage1), teacher_agreement(stage1 / "final.keras", args))]
    for name in names:
        start, flags = LEVERS[name]
        run = train(name, start, flags, args)
        rows.append(row(name, start, evaluate(name, run / "final.keras", args), _train_seconds(run),
                        teacher_agreement(run / "final.keras", args)))
        (Path(args.runs) / "levers.json").write_text(json.dumps(rows, indent=2) + "\n")

    print(f"budgets: {args.steps} steps of 64 from {stage1}; {args.scratch_steps} steps of 64 from scratch")
    print("| lever | starts from | LFW fold 10 flip-sum | LFW 10-fold flip-sum | TAR @ FAR 1e-3 | held-out rank-1 "
          "| similarity gap to teacher | train min |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['lever']} | {r['start']} | {100 * r['fold10_flip_sum']:.2f} | {100 * r['lfw10_flip_sum']:.2f} | "
              f"{100 * r['tar_far_1e-3']:.2f} | {100 * r['heldout_rank1']:.2f} | {r['similarity_gap']:.4f} | "
              f"{r['train_minutes']:.0f} |")


if __name__ == "__main__":
    main()
