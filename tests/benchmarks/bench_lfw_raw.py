"""LFW through raw photos: verification accuracy when faces are detected (MTCNN) in the photos
themselves, as stored (150x150) and enlarged to sizes that take the downscaled-detection path.

Prints a Markdown table; not a pytest test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_lfw_raw.py [--pairs 600] [--scales 1,16] [--model PATH]

The pairs are the first `--pairs`/2 genuine and impostor pairs of LFW View 2 fold 10 (people never
trained on). Each photo is embedded by `FaceEmbedder` (face policy "central", as LFW crops are
centred) from the photo enlarged `scale` times (bicubic; 1 = as stored); the photo is enlarged in
memory, so no file is written. Reported per scale: accuracy at the model's own threshold (from its
metadata), 10-fold cross-validated accuracy over the pairs (threshold chosen on 9 sub-folds), photos
without a face, and seconds per photo (detect + align + embed). The code measured is whichever
`mobiface_tf` Python imports: run it with PYTHONPATH pointing at another checkout to compare.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--scales", default="1,16")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from PIL import Image

    import mobiface_tf
    from mobiface_tf import paths
    from mobiface_tf.data.sources import read_pairs
    from mobiface_tf.errors import NoFaceError
    from mobiface_tf.eval.verification import kfold_accuracy
    from mobiface_tf.inference import FaceEmbedder

    lfw = paths.data_root() / "lfw"
    fold = [p for p in read_pairs(lfw / "pairs.txt") if p.fold == 9]
    half = args.pairs // 2
    pairs = [p for p in fold if p.same][:half] + [p for p in fold if not p.same][:half]
    relpaths = sorted({r for p in pairs for r in (p.relpath_a, p.relpath_b)})
    embedder = FaceEmbedder(model=args.model, face_policy="central")
    threshold = embedder.threshold[0]
    print(f"code: {Path(mobiface_tf.__file__).parent}; model: {embedder.model_identity()['name']}; "
          f"{len(pairs)} pairs of fold 10, {len(relpaths)} photos; threshold {threshold:.4f}", flush=True)
    print("| photos | detected at | accuracy @ model threshold | 10-fold accuracy | no face | s / photo |")
    print("|---|---|---:|---:|---:|---:|")
    for scale in (int(s) for s in args.scales.split(",")):
        rows, missing, seconds = {}, 0, 0.0
        for relpath in relpaths:
            photo = Image.open(lfw / "images" / relpath).convert("RGB")
            if scale != 1:
                photo = photo.resize((photo.width * scale, photo.height * scale), Image.Resampling.BICUBIC)
            image = np.asarray(photo)
            start = time.perf_counter()
            try:
                rows[relpath] = embedder.embed(image).embeddings[0]
            except NoFaceError:
                missing += 1
                rows[relpath] = np.zeros(embedder.embedding_size, np.float32)  # scores 0: a miss
            seconds += time.perf_counter() - start
        scores = np.array([rows[p.relpath_a] @ rows[p.relpath_b] for p in pairs])
        same = np.array([p.same for p in pairs])
        at_threshold = float(np.mean((scores >= threshold) == same))
        folds = np.r_[np.arange(half) % 10, np.arange(half) % 10]
        kfold = kfold_accuracy(scores, same, folds)
        side = max(image.shape[:2])
        max_side = getattr(embedder.detector, "max_side", None)
        detected = f"{min(side, max_side)} px" if max_side else f"{side} px (full)"
        print(f"| {image.shape[1]}x{image.shape[0]} (x{scale}) | {detected} | {100 * at_threshold:.2f}% | "
              f"{100 * kfold['accuracy_mean']:.2f} +- {100 * kfold['accuracy_std']:.2f}% | {missing} | "
              f"{seconds / len(relpaths):.3f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
