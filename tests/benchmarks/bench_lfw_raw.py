"""LFW through raw photos: verification accuracy when faces are detected (MTCNN) in the photos
themselves, as stored (150x150) and enlarged to sizes that take the downscaled-detection path.

Prints a Markdown table; not a pytest test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_lfw_raw.py [--pairs 600] [--scales 1,16] [--model PATH]
        [--detector litert|mtcnn]

The pairs are the first `--pairs`/2 genuine and impostor pairs of LFW View 2 fold 10 (people never
trained on). Each photo is embedded by `FaceEmbedder` (face policy "central", as LFW crops are
centred) from the photo enlarged `scale` times (bicubic; 1 = as stored); the photo is enlarged in
memory, so no file is written. Reported per scale: accuracy at the model's own threshold (from its
metadata), 10-fold cross-validated accuracy over the pairs (threshold chosen on 9 sub-folds), photos
without a face, and seconds per photo (detect + align + embed). `--detector` picks MTCNN on LiteRT
(the default, as `mobiface` runs) or the mtcnn package on TensorFlow (the figures in
docs/face-preparation.md were measured with it, before LiteRT became the default). The code
measured is whichever `mobiface_tf` Python imports: run it with PYTHONPATH pointing at another
checkout to compare. The pairs and their sub-folds are `face_bench.fold_pairs` and
`mobiface_tf.eval.lfw.pair_index`, as in bench_runtime.py.
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
    parser.add_argument("--detector", default="litert", choices=["litert", "mtcnn"])
    args = parser.parse_args()

    from PIL import Image

    import mobiface_tf
    from mobiface_tf import paths
    from face_bench import fold_pairs

    from mobiface_tf.errors import NoFaceError
    from mobiface_tf.eval.lfw import pair_index
    from mobiface_tf.eval.verification import kfold_accuracy
    from mobiface_tf.inference import FaceEmbedder

    lfw = paths.data_root() / "lfw"
    pairs = fold_pairs(lfw, "10", per_kind=args.pairs // 2)
    index = pair_index(pairs)
    relpaths = index.relpaths
    embedder = FaceEmbedder(model=args.model, face_policy="central", detector=args.detector)
    threshold = embedder.threshold[0]
    print(f"code: {Path(mobiface_tf.__file__).parent}; model: {embedder.model_identity()['name']}; "
          f"detector: {args.detector}; {len(pairs)} pairs of fold 10, {len(relpaths)} photos; "
          f"threshold {threshold:.4f}", flush=True)
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
        embeddings = np.stack([rows[relpath] for relpath in relpaths])
        scores = np.sum(embeddings[index.index_a] * embeddings[index.index_b], axis=1)
        at_threshold = float(np.mean((scores >= threshold) == index.issame))
        kfold = kfold_accuracy(scores, index.issame, index.folds)
        side = max(image.shape[:2])
        max_side = getattr(embedder.detector, "max_side", None)
        detected = f"{min(side, max_side)} px" if max_side else f"{side} px (full)"
        print(f"| {image.shape[1]}x{image.shape[0]} (x{scale}) | {detected} | {100 * at_threshold:.2f}% | "
              f"{100 * kfold['accuracy_mean']:.2f} +- {100 * kfold['accuracy_std']:.2f}% | {missing} | "
              f"{seconds / len(relpaths):.3f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
