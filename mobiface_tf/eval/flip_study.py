"""The Flipped-MobiFace study: LFW accuracy, TAR@FAR and per-face latency of features (a), (b), (c).

(a) f_I alone; (b) (f_I + f_Ī)/2 with a true second pass of the backbone on the mirrored face;
(c) (f_I + g(f_I))/2, the Flipped-MobiFace output, one pass. Everything here takes embedding
functions (aligned uint8 (N, 112, 112, 3) -> (N, D)), so any backend (Keras, LiteRT) can be
compared. Cosine scores ignore scale, so (b) is scored as the flip-summed feature of
`pair_verification`, which equals the average up to a factor of 2.

Latency is per face at batch 1: (a) and (c) time one call on one face, (b) two calls (the face,
then its mirror) plus the average. The variants are timed round-robin, one call of each per
round, so a load change on a shared machine hits them alike; the median over rounds is reported.
"""

import os
import platform
import time
from pathlib import Path

import numpy as np

from mobiface_tf.errors import BadInputError
from mobiface_tf.eval.report import write_json
from mobiface_tf.eval.verification import DEFAULT_FARS

VARIANTS = {
    "a": {"feature": "f_I", "passes": 1},
    "b": {"feature": "(f_I + f_mirror)/2, second pass on the mirror", "passes": 2},
    "c": {"feature": "(f_I + g(f_I))/2, Flipped-MobiFace", "passes": 1},
}


def mirror(faces):
    """Horizontal mirror of (N, H, W, 3) faces (the width axis reversed)."""
    return np.asarray(faces)[:, :, ::-1]


def two_pass_average(embed_fn):
    """Variant (b) as an embedding function: (embed(faces) + embed(mirror(faces))) / 2."""

    def embed(faces):
        return 0.5 * (np.asarray(embed_fn(faces), np.float32) + np.asarray(embed_fn(mirror(faces)), np.float32))

    return embed


def variant_embedders(embed_backbone, embed_flipped):
    """{"a", "b", "c"} -> embedding function, from the backbone's and the Flipped-MobiFace's;
    either may be None (e.g. only one of the two models exported), dropping its variants."""
    embedders = {}
    if embed_backbone is not None:
        embedders.update(a=embed_backbone, b=two_pass_average(embed_backbone))
    if embed_flipped is not None:
        embedders["c"] = embed_flipped
    return embedders


def measure_latency(embedders, face, *, runs=100, warmup=5):
    """Median (and 90th percentile) milliseconds per call of each function on one face.

    Args:
        embedders: name -> embedding function; each is called on a batch of one.
        face: one aligned face (112, 112, 3) or a batch of one.
        runs: timed rounds (each round calls every function once, in turn).
        warmup: untimed rounds first (tracing, allocation).

    Returns:
        name -> {"median_ms", "p90_ms", "runs"}.
    """
    if runs < 1 or warmup < 0:
        raise BadInputError(f"latency needs runs >= 1 and warmup >= 0, received runs={runs}, warmup={warmup}")
    batch = np.asarray(face)
    batch = batch[None] if batch.ndim == 3 else batch
    if batch.shape[0] != 1:
        raise BadInputError(f"latency is measured on one face, received a batch of shape {batch.shape}")
    times = {name: [] for name in embedders}
    for round_index in range(warmup + runs):
        for name, embed in embedders.items():
            start = time.perf_counter()
            embed(batch)
            elapsed = time.perf_counter() - start
            if round_index >= warmup:
                times[name].append(1000.0 * elapsed)
    return {name: {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)), "runs": runs}
            for name, t in times.items()}


def compare_flip_variants(benchmark, embed_backbone, embed_flipped, *, fars=DEFAULT_FARS, latency=None,
                          latency_runs=100, log=None):
    """Score (a), (b), (c) on a verification benchmark and time them.

    Args:
        benchmark: an `LfwBenchmark` (anything with `.faces` and `.evaluate(embed_fn, flip=...)`).
        embed_backbone: f_I as an embedding function (the backbone inside the Flipped-MobiFace).
        embed_flipped: the Flipped-MobiFace output as an embedding function.
        fars: FARs for TAR@FAR (the first is the table's column).
        latency: backend name -> (embed_backbone, embed_flipped) pairs to time, e.g.
            {"keras": (...), "litert_float32": (...)}, either member may be None (its variants
            get no time for that backend); None times the two functions above as "keras".
        latency_runs: timed rounds per backend.
        log: optional callable taking one progress line.

    Returns:
        dict: "dataset", "pairs", "images", "fars", "latency_runs" and "rows", one per variant
        a, b, c: variant, feature, passes, accuracy_mean, accuracy_std, auc, eer, tar_at_far
        (the list of `tar_at_far`), tar (at the first FAR), far, latency_ms (backend -> median ms
        per face, or None when not timed), latency (backend -> median/p90/runs), metrics (the full
        verification result).
    """
    say = log or (lambda line: None)
    start = time.monotonic()
    plain_and_mirror = benchmark.evaluate(embed_backbone, flip="both", fars=fars)
    say(f"(a) and (b) scored in {time.monotonic() - start:.1f} s")
    start = time.monotonic()
    flipped = benchmark.evaluate(embed_flipped, flip="off", fars=fars)
    say(f"(c) scored in {time.monotonic() - start:.1f} s")
    metrics = {"a": plain_and_mirror["no_flip"], "b": plain_and_mirror["flip_sum"], "c": flipped["no_flip"]}

    backends = latency if latency is not None else {"keras": (embed_backbone, embed_flipped)}
    face = np.asarray(benchmark.faces[:1])
    timings = {}
    for backend, (backbone_fn, flipped_fn) in backends.items():
        timings[backend] = measure_latency(variant_embedders(backbone_fn, flipped_fn), face, runs=latency_runs)
        say(f"latency ({backend}): " + ", ".join(f"({k}) {v['median_ms']:.2f} ms" for k, v in timings[backend].items()))

    rows = []
    for name, description in VARIANTS.items():
        result = metrics[name]
        first = result["tar_at_far"][0]
        rows.append({
            "variant": name,
            **description,
            "accuracy_mean": result["accuracy_mean"],
            "accuracy_std": result["accuracy_std"],
            "auc": result["auc"],
            "eer": result["eer"],
            "tar": first["tar"],
            "far": first["far"],
            "tar_at_far": result["tar_at_far"],
            "latency_ms": {backend: timings[backend].get(name, {}).get("median_ms") for backend in timings},
            "latency": {backend: timings[backend].get(name) for backend in timings},
            "metrics": result,
        })
    return {"dataset": plain_and_mirror["dataset"], "pairs": plain_and_mirror["pairs"],
            "images": plain_and_mirror["images"], "fars": [float(f) for f in fars],
            "latency_runs": latency_runs, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "rows": rows}


def markdown_table(study):
    """The a/b/c comparison as a Markdown table (accuracy in %, TAR in %, latency in ms per face)."""
    backends = list(study["rows"][0]["latency_ms"]) if study["rows"] else []
    far = study["rows"][0]["far"] if study["rows"] else DEFAULT_FARS[0]
    header = ["variant", "feature", "passes", f"{study['dataset'].upper()} accuracy (10-fold)", f"TAR @ FAR {far:g}"]
    header += [f"{backend} ms/face" for backend in backends]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---:|---:|---:|" + "---:|" * len(backends)]
    unresolvable = False
    for row in study["rows"]:
        resolvable = row["tar_at_far"][0]["resolvable"]
        unresolvable |= not resolvable
        cells = [f"({row['variant']})", row["feature"], str(row["passes"]),
                 f"{100 * row['accuracy_mean']:.2f} +- {100 * row['accuracy_std']:.2f}",
                 f"{100 * row['tar']:.2f}" + ("" if resolvable else " *")]
        cells += ["n/a" if row["latency_ms"][backend] is None else f"{row['latency_ms'][backend]:.2f}"
                  for backend in backends]
        lines.append("| " + " | ".join(cells) + " |")
    if unresolvable:
        impostors = study["rows"][0]["metrics"]["impostor_pairs"]
        lines.append(f"\n\\* only {impostors} impostor pairs, fewer than 1/FAR: the threshold accepts no impostor, "
                     "so this TAR is at a FAR below the one named.")
    return "\n".join(lines)


def write_study(study, out_dir, *, header=""):
    """Write `flip_study.json` and `flip_study.md` (optional `header` text above the table) to `out_dir`.

    Returns:
        (json path, markdown path).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = write_json(study, out_dir / "flip_study.json")
    md_path = out_dir / "flip_study.md"
    md_path.write_text((header.rstrip() + "\n\n" if header else "") + markdown_table(study) + "\n")
    return json_path, md_path
