"""The face pipeline stage by stage on the desktop (detect, align, embed, total), as the Android benchmark reports it.

Prints one line and writes the JSON object the app's benchmark puts under "pipeline"; not a
pytest test. `make bench` runs it after `mobiface-bench`:

    .venv/bin/python tests/benchmarks/bench_face_pipeline.py [--photo PATH] [--threads 1] [--runs 50]

The photo defaults to the one the APK benchmarks (tools/sync-assets.sh: the first photo of the
first identity in android_demo/tools/sample-identities.txt, from <data>/lfw/images). It is decoded
once; each run is `FaceEmbedder.embed` on the decoded array with the bundled model: LiteRT MTCNN
(detect), align.py (align), the bundled .tflite (embed), timed by the embedder itself. Medians per
stage over the timed runs, and the median of whole runs' totals, after `--warmup` untimed runs;
the same fields and the same statistics as the app's `PipelineStats`.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
IDENTITIES = ROOT / "android_demo" / "tools" / "sample-identities.txt"


def default_photo():
    """The photo the APK's pipeline benchmark uses."""
    from mobiface_tf import paths

    identities = [line.strip() for line in IDENTITIES.read_text().splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    folder = paths.data_root() / "lfw" / "images" / identities[0]
    photos = sorted(folder.glob("*.jpg"))
    if not photos:
        raise SystemExit(f"bench-face-pipeline: no photo under {folder}: pass --photo")
    return photos[0]


def measure(photo, *, threads=1, runs=50, warmup=5):
    """The "pipeline" object: photo, size, faces, runs, and median detect/align/embed/total ms."""
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.inference import FaceEmbedder

    image = load_rgb(photo)
    embedder = FaceEmbedder(num_threads=threads)
    for _ in range(warmup):
        embedder.embed(image)
    faces = len(embedder.detector.detect(image))
    stages = {"detect": [], "align": [], "embed": []}
    for _ in range(runs):
        result = embedder.embed(image)
        for stage, values in stages.items():
            values.append(result.timing[stage])
    total = np.sum([stages[s] for s in stages], axis=0)
    pipeline = {"photo": Path(photo).name, "width": int(image.shape[1]), "height": int(image.shape[0]),
                "faces": faces, "runs": runs}
    for stage, values in stages.items():
        pipeline[f"{stage}_ms"] = round(float(np.median(values)), 4)
    pipeline["total_ms"] = round(float(np.median(total)), 4)
    return pipeline


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=None, help="a photo (default: the APK's benchmark photo)")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT threads (model and detector)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", default=None, help="also write the JSON object here")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        parser.error(f"need runs >= 1, warmup >= 0, threads >= 1; got {args.runs}, {args.warmup}, {args.threads}")
    photo = Path(args.photo) if args.photo else default_photo()
    pipeline = measure(photo, threads=args.threads, runs=args.runs, warmup=args.warmup)
    print(f"face pipeline on {pipeline['photo']} ({pipeline['width']}x{pipeline['height']}, {pipeline['faces']} "
          f"face(s)), {args.threads} thread(s), median of {args.runs} runs: detect {pipeline['detect_ms']:.2f} ms, "
          f"align {pipeline['align_ms']:.2f} ms, embed {pipeline['embed_ms']:.2f} ms, "
          f"total {pipeline['total_ms']:.2f} ms")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"threads": args.threads, "pipeline": pipeline}) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
