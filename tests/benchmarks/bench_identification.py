"""Evaluation benchmarks: identification among 1M synthetic 512-d distractors (time, peak RSS),
and the wall time of a full LFW evaluation, first (empty caches) and cached.

Run: `make bench-ident` or `.venv/bin/python tests/benchmarks/bench_identification.py
[--part ident|lfw|all] [--model PATH] [--distractors 1000000]`. Each part runs in its own process
so the peak RSS of the identification part is its own (ru_maxrss, no TensorFlow loaded).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REFERENCE = "third_party/package/android/src/main/assets/MobileFaceNet.tflite"


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_ident(n_distractors, dim=512, identities=1000, seed=0):
    """Synthetic MegaFace-style run: genuine cosines spread over ~0.2..0.6, 1M distractors."""
    import numpy as np

    from mobiface_tf.eval.identification import DistractorSet, identification_metrics
    from mobiface_tf.eval.verification import l2_normalize
    from mobiface_tf.paths import work_root

    rng = np.random.default_rng(seed)
    gallery = l2_normalize(rng.standard_normal((identities, dim), dtype=np.float32))
    noise = l2_normalize(rng.standard_normal((identities, dim), dtype=np.float32))
    # Each probe's cosine with its mate is `w`: uniform over 0.2..0.6, so rank-1 falls with N.
    w = rng.uniform(0.2, 0.6, identities).astype(np.float32)[:, None]
    probes = w * gallery + np.sqrt(1 - w ** 2) * noise
    cache = work_root() / "cache" / "distractors" / f"synthetic_{n_distractors}_{dim}.npy"
    start = time.monotonic()
    existed = cache.is_file() and json.loads(cache.with_suffix(".json").read_text()).get(
        "seed") == seed + 1
    # Another seed than the probes': the same one would replay the gallery as distractors.
    distractors = DistractorSet.synthetic(cache, n_distractors, dim, seed=seed + 1)
    made = time.monotonic() - start
    start = time.monotonic()
    result = identification_metrics(probes, np.arange(identities), gallery,
                                    np.arange(identities), distractors.embeddings)
    scored = time.monotonic() - start
    return {"distractors": n_distractors, "dim": dim, "probes": identities,
            "distractor_file_gb": round(cache.stat().st_size / 1e9, 2),
            "distractor_file": str(cache), "distractors_cached": existed,
            "make_distractors_s": round(made, 1), "score_s": round(scored, 1),
            "peak_rss_mb": round(_peak_rss_mb()), "rank1": result["rank1"],
            "tar_at_far": result["tar_at_far"]}


def bench_lfw(model_path, work):
    """Full LFW View 2 (6,000 pairs, flip both) with caches under `work`: first, then cached."""
    os.environ["MOBIFACE_WORK"] = str(work)
    from mobiface_tf.embedding import load_embedding_model
    from mobiface_tf.eval.lfw import LfwBenchmark
    from mobiface_tf.paths import data_root

    kwargs = {}
    if str(model_path).endswith(".tflite"):
        kwargs = dict(input_mean=127.5, input_std=128.0, num_threads=2)
    runs = []
    for label in ("first", "cached"):
        start = time.monotonic()
        bench = LfwBenchmark(data_root() / "lfw")
        aligned = time.monotonic() - start
        model = load_embedding_model(model_path, **kwargs)
        result = bench.evaluate_model(model, flip="both")
        runs.append({"run": label, "total_s": round(time.monotonic() - start, 1),
                     "align_or_load_s": round(aligned, 1),
                     "accuracy_flip_sum": round(100 * result["flip_sum"]["accuracy_mean"], 2),
                     "embeddings_reused": result["embedding_cache"]["reused"]})
    return {"model": str(model_path), "images": len(bench.relpaths), "runs": runs,
            "peak_rss_mb": round(_peak_rss_mb())}


def _default_model(work):
    from mobiface_tf.paths import work_root

    reference = work_root() / REFERENCE
    if reference.is_file():
        return reference
    # No public model fetched (make eval-reference): a randomly initialised MobiFace.
    from mobiface_tf.models.registry import build_model

    path = Path(work) / "mobiface_random.keras"
    build_model("mobiface").save(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["ident", "lfw", "all"], default="all")
    parser.add_argument("--distractors", type=int, default=1_000_000)
    parser.add_argument("--model", default=None, help="model for the LFW timing")
    args = parser.parse_args()
    if args.part == "all":
        for part in ("ident", "lfw"):
            command = [sys.executable, __file__, "--part", part,
                       "--distractors", str(args.distractors)]
            if args.model:
                command += ["--model", args.model]
            subprocess.run(command, check=True)
        return
    if args.part == "ident":
        result = bench_ident(args.distractors)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_lfw_") as work:
            model = args.model or _default_model(work)
            result = bench_lfw(model, work)
    print(json.dumps({args.part: result}, indent=1), flush=True)


if __name__ == "__main__":
    main()
