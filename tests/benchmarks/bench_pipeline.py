"""tf.data throughput from an aligned folder tree, an InsightFace `.rec` and a TFRecord of the
same faces, beside the training-step rate of MobiFace on this machine.

Prints figures; not a pytest test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_pipeline.py [--num_images 2000] [--batch_size 64]

The faces are the first `--num_images` LFW images (in `landmarks_5pt.txt` order) aligned to
112x112 with `mobiface_tf.data.align.align_face` from the file's landmarks, written once as
JPEG (quality 95) under `<work>/bench_pipeline/` and reused by later runs. Each source is read
in training mode (shuffle + flip + batch + prefetch); the first pass (tracing, cold page cache)
is not timed.
"""

import argparse
import os
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def build_aligned_tree(lfw_dir, out_dir, num_images):
    """Align the first `num_images` LFW faces into `out_dir/<Name>/<file>.jpg`; returns the
    number of images aligned now (0 when the tree was already complete)."""
    from PIL import Image

    from mobiface_tf.data.align import align_face
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.data.sources import read_landmarks

    landmarks = read_landmarks(lfw_dir / "landmarks_5pt.txt")
    entries = [(relpath, points) for relpath, points in landmarks.items()
               if (lfw_dir / "images" / relpath).is_file()][:num_images]
    made = 0
    for relpath, points in entries:
        target = out_dir / relpath
        if target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        face = align_face(load_rgb(lfw_dir / "images" / relpath), points)
        Image.fromarray(face).save(target, format="JPEG", quality=95)
        made += 1
    return made


def throughput(dataset, passes):
    """Images per second over `passes` full passes, after one untimed pass."""
    for _ in dataset:
        pass
    count, started = 0, time.perf_counter()
    for _ in range(passes):
        for _, labels in dataset:
            count += int(labels.shape[0])
    return count / (time.perf_counter() - started), count


def train_step_rate(batch_size, num_classes, steps):
    """Images per second of MobiFace + a softmax classifier, SGD, on random faces."""
    import keras

    from mobiface_tf.models.registry import build_model

    backbone = build_model("mobiface")
    logits = keras.layers.Dense(num_classes, name="classifier")(backbone.output)
    model = keras.Model(backbone.input, logits)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch_size, 112, 112, 3)).astype(np.float32)
    labels = rng.integers(0, num_classes, batch_size)
    model.train_on_batch(images, labels)  # tracing
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return steps * batch_size / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_images", type=int, default=2000)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--passes", type=int, default=2, help="timed passes over each source")
    parser.add_argument("--train_steps", type=int, default=5, help="MobiFace steps to time; 0 skips")
    args = parser.parse_args()

    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()

    from mobiface_tf import paths
    from mobiface_tf.cli.convert import convert
    from mobiface_tf.data.pipeline import build_dataset, dataset_from_records
    from mobiface_tf.data.sources import list_identity_tree

    lfw_dir = paths.data_root() / "lfw"
    bench_dir = paths.work_root() / "bench_pipeline"
    tree_dir = bench_dir / f"aligned_lfw_{args.num_images}"
    started = time.perf_counter()
    made = build_aligned_tree(lfw_dir, tree_dir, args.num_images)
    if made:
        print(f"aligned {made} LFW faces from landmarks_5pt.txt with align_face into {tree_dir} "
              f"in {time.perf_counter() - started:.1f} s")
    tree_paths, labels, class_names = list_identity_tree(tree_dir)
    rec = bench_dir / f"rec_{args.num_images}" / "train.rec"
    tfrecord = bench_dir / f"lfw_{args.num_images}.tfrecord"
    if not rec.is_file():
        shutil.rmtree(rec.parent, ignore_errors=True)
        convert(tree_dir, rec)
    if not tfrecord.is_file():
        convert(tree_dir, tfrecord)

    load = os.getloadavg()
    print(f"faces: {len(tree_paths)} aligned LFW crops (112x112 JPEG q95, align_face from "
          f"landmarks_5pt.txt) of {len(class_names)} people; batch {args.batch_size}, training mode "
          f"(shuffle+flip), {args.passes} timed pass(es); TF {tf.__version__}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f}")
    sources = {
        "aligned tree (build_dataset)": lambda: build_dataset(
            tree_paths, labels, args.batch_size, training=True, seed=0),
        ".rec (dataset_from_records)": lambda: dataset_from_records(
            rec, args.batch_size, training=True, seed=0),
        ".tfrecord (dataset_from_records)": lambda: dataset_from_records(
            tfrecord, args.batch_size, training=True, seed=0),
    }
    print("| source | images/s |")
    print("|---|---:|")
    for name, make in sources.items():
        dataset = make()
        rate, _ = throughput(dataset, args.passes)
        skipped = dataset.skip_counter.skipped()
        print(f"| {name} | {rate:,.0f} |" + (f" ({skipped} skipped)" if skipped else ""))
    if args.train_steps:
        rate = train_step_rate(args.batch_size, len(class_names), args.train_steps)
        print(f"| MobiFace train step (softmax head, SGD, {args.train_steps} steps) | {rate:,.1f} |")


if __name__ == "__main__":
    main()
