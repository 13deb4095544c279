"""Inference benchmark: end-to-end time per photo split by stage, and gallery identification time.

Prints a Markdown table and writes JSON to `$MOBIFACE_WORK/bench/inference.json`; not a pytest
test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_inference.py [--model PATH] [--photos 20]
        [--gallery_sizes 10000,100000] [--num_threads N]

Without `--model` it uses the bundled model, or, where there is none, a freshly built MobiFace
(gdc head, 512-d, untrained) converted to a float32 `.tflite`: the same network and runtime, so
the same time. Photos: the first photo of the first `--photos` LFW identities (150x150). The
first two photos warm up (graph tracing) and are not counted. Gallery: synthetic L2-normalized
embeddings of the model's size, one face per identity (the worst case for "mean"), plus the same
number of faces in groups of 10 per identity for "max".
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One probe against a gallery is a memory-bound matrix-vector product; on a shared 2-core machine
# a second OpenBLAS thread mostly waits for the other's time slice (20x slower when loaded).
# Set OPENBLAS_NUM_THREADS yourself to measure otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _default_model(folder):
    from mobiface_tf import inference

    if inference.BUNDLED_MODEL.exists():
        return inference.BUNDLED_MODEL, "bundled"
    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()

    from mobiface_tf.embedding import default_metadata
    from mobiface_tf.models.registry import build_model

    model = build_model("mobiface", embedding_size=512)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path = Path(folder) / "mobiface_untrained.tflite"
    path.write_bytes(converter.convert())
    (Path(folder) / "mobiface_untrained.tflite.json").write_text(json.dumps(default_metadata("mobiface_untrained", 512)))
    return path, "MobiFace gdc 512-d, untrained, float32 .tflite"


def bench_photos(embedder, lfw_images, count, warmup=2):
    """Per-stage milliseconds per photo (median, mean) over `count` LFW photos after `warmup`."""
    people = sorted(p for p in os.listdir(lfw_images) if not p.startswith("."))[: count + warmup]
    photos = [Path(lfw_images) / name / sorted(os.listdir(Path(lfw_images) / name))[0] for name in people]
    for photo in photos[:warmup]:
        embedder.embed(photo)
    rows = []
    for photo in photos[warmup:]:
        start = time.perf_counter()
        timing = embedder.embed(photo).timing
        timing = dict(timing, total=(time.perf_counter() - start) * 1000.0)
        rows.append(timing)
    stages = ["load", "detect", "align", "embed", "total"]
    return {
        stage: {
            "median_ms": round(statistics.median(r[stage] for r in rows), 2),
            "mean_ms": round(statistics.fmean(r[stage] for r in rows), 2),
        }
        for stage in stages
    } | {"photos": len(rows)}


def bench_gallery(size, dim, repeats=20, seed=0):
    """Milliseconds to identify one probe among `size` enrolled faces, per aggregate."""
    from mobiface_tf.eval.verification import l2_normalize
    from mobiface_tf.gallery import Gallery

    rng = np.random.default_rng(seed)
    identity = {"name": "synthetic", "embedding_size": dim, "hash": None}
    results = {}
    for aggregate, per_identity in (("mean", 1), ("max", 10)):
        gallery = Gallery(model_identity=identity)
        faces = l2_normalize(rng.standard_normal((size, dim), dtype=np.float32))
        start = time.perf_counter()
        for i in range(size // per_identity):
            gallery.enroll_embeddings(f"id{i}", faces[i * per_identity : (i + 1) * per_identity])
        enroll_s = time.perf_counter() - start
        probe = faces[size // 2] + 0.1 * rng.standard_normal(dim, dtype=np.float32)
        start = time.perf_counter()
        gallery.identify(probe, top_k=5, aggregate=aggregate)  # merges rows / builds templates once
        first_ms = (time.perf_counter() - start) * 1000.0
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            top = gallery.identify(probe, top_k=5, aggregate=aggregate)
            times.append((time.perf_counter() - start) * 1000.0)
        assert top[0][0] == f"id{(size // 2) // per_identity}", top
        results[aggregate] = {
            "faces": size,
            "identities": size // per_identity,
            "enroll_s": round(enroll_s, 2),
            "first_identify_ms": round(first_ms, 1),
            "identify_median_ms": round(statistics.median(times), 2),
        }
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="Model path (default: bundled, else untrained MobiFace .tflite).")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--gallery_sizes", default="10000,100000")
    parser.add_argument("--num_threads", type=int, default=None)
    args = parser.parse_args()

    from mobiface_tf.inference import FaceEmbedder
    from mobiface_tf.paths import data_root, work_root

    lfw_images = data_root() / "lfw" / "images"
    if not lfw_images.is_dir():
        sys.exit(f"LFW not found at {lfw_images} (set MOBIFACE_DATA)")
    with tempfile.TemporaryDirectory() as folder:
        if args.model:
            model, label = Path(args.model), args.model
        else:
            model, label = _default_model(folder)
        embedder = FaceEmbedder(model, num_threads=args.num_threads)
        photos = bench_photos(embedder, lfw_images, args.photos)
    galleries = {int(n): bench_gallery(int(n), embedder.embedding_size) for n in args.gallery_sizes.split(",")}

    report = {
        "machine": f"{os.cpu_count()} CPU cores",
        "model": label,
        "num_threads": args.num_threads,
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "per_photo": photos,
        "gallery": galleries,
    }
    out = work_root() / "bench" / "inference.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))

    print(f"## End-to-end per photo ({photos['photos']} LFW photos, 150x150; model: {label}; {report['machine']})")
    print("| stage | median ms | mean ms |\n|---|---:|---:|")
    for stage in ("load", "detect", "align", "embed", "total"):
        print(f"| {stage} | {photos[stage]['median_ms']:.1f} | {photos[stage]['mean_ms']:.1f} |")
    print(f"\n## Gallery identification, one probe, top-5, D={embedder.embedding_size}, OPENBLAS_NUM_THREADS={report['openblas_threads']}")
    print("| enrolled faces | aggregate | identities | identify median ms | first call ms |\n|---:|---|---:|---:|---:|")
    for size, result in galleries.items():
        for aggregate, r in result.items():
            print(f"| {size:,} | {aggregate} | {r['identities']:,} | {r['identify_median_ms']:.2f} | {r['first_identify_ms']:.1f} |")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
