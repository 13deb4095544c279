"""Training at scale on this machine: input-pipeline throughput from an InsightFace `.rec` against the
training-step rate, and the classifier's memory at MS1M-ArcFace's and Glint360K's identity counts.

Prints figures; not a pytest test. Run from the project root (`make bench-scale`):

    .venv/bin/python tests/benchmarks/bench_scale.py [--identities 5000] [--batch_size 64]
        [--memory_batch 128] [--parts pipeline,step,memory]

The dataset is a synthetic InsightFace folder (train.rec, train.idx, property, lfw.bin) made once
under `<work>/bench_scale/` by the project's own code (`tests/helpers.write_lfw_insightface_folder`:
`--identities` identities x 3 augmented views of an aligned LFW photo of a person of folds 1-9, converted
by `mobiface-convert`'s `convert`; lfw.bin from fold 10's pairs) and reused by later runs.

- pipeline: `dataset_from_records` in training mode (permutation per pass, decode, flip, batch,
  prefetch), images/s for one input pipeline and for one of two shards (what each of two workers
  reads); one untimed warm-up pass.
- step: the `paper` preset's MobiFace (PReLU, 512-d) + ArcFace over the folder's identities, SGD,
  fed by the same `.rec` pipeline through the trainer's own `build_train_state` and
  `make_dataset_fn`, with the full classifier and with partial FC (`--sample_rate=0.1`).
- memory: the classifier alone (512-d embeddings of `--memory_batch` faces, one replica's share of
  the paper's batch of 1024 over 8 GPUs) at 85,742 and 360,232 identities, full softmax with Keras
  SGD (+ coupled L2, as the trainer does) against partial FC at 0.1 with `SparseMomentumSGD`:
  the memory resident once weights and momentum are built (more than the two of them: the allocator
  keeps the initializer's temporaries), and the peak over three steps, each in a fresh process.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/helpers.py

MS1M_IDENTITIES, GLINT_IDENTITIES, EMBEDDING = 85_742, 360_232, 512


def _rss_mb(field):
    """VmRSS (resident now) or VmHWM (peak) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def classifier_memory(num_classes, mode, batch, steps=3):
    """In this (fresh) process: MiB of the classifier's weights + optimizer state, the peak above the
    baseline over `steps` steps, and ms per step. `mode` is "full" or "partial"."""
    import keras
    import numpy as np
    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()

    from mobiface_tf.train import losses, partial_fc

    embeddings = tf.Variable(np.random.default_rng(0).normal(size=(batch, EMBEDDING)).astype(np.float32))
    labels = tf.constant(np.random.default_rng(1).integers(0, num_classes, batch), tf.int32)
    margin = losses.arcface()
    base = _rss_mb("VmRSS")
    if mode == "full":
        head = losses.CosineClassifier(num_classes)
        optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
        sample = None
    else:
        head = partial_fc.SampledCosineClassifier(num_classes)
        optimizer = partial_fc.SparseMomentumSGD(learning_rate=0.1, momentum=0.9, sparse_l2=5e-4)
        sample = partial_fc.num_sampled(num_classes, 0.1, batch)
    head.build((None, EMBEDDING))
    variables = head.trainable_variables + [embeddings]
    optimizer.build(variables)
    for slot in optimizer.variables:  # zero momentum is allocated lazily: make its pages resident, as in training
        slot.assign(tf.zeros_like(slot))
    state = _rss_mb("VmRSS") - base
    Path("/proc/self/clear_refs").write_text("5")  # the peak counts from here: the steps, not the initializers

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            if sample is None:
                cos_logits, targets = head(embeddings), labels
                l2 = tf.reduce_sum(tf.square(head.kernel))
            else:
                cos_logits, targets, _ = head.sampled(embeddings, labels, sample)
                l2 = 0.0
            loss = tf.reduce_mean(losses.margin_cross_entropy(margin(cos_logits, targets), targets)) + 2.5e-4 * l2
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    float(step())  # tracing
    start = time.perf_counter()
    for _ in range(steps):
        float(step())
    seconds = (time.perf_counter() - start) / steps
    return {"identities": num_classes, "mode": mode, "batch": batch, "sampled": sample,
            "state_mib": round(state), "peak_mib": round(_rss_mb("VmHWM") - base), "ms_per_step": round(1000 * seconds)}


def memory_table(batch):
    rows = []
    for num_classes in (MS1M_IDENTITIES, GLINT_IDENTITIES):
        for mode in ("full", "partial"):
            child = subprocess.run([sys.executable, __file__, "--_memory_child", f"{num_classes},{mode},{batch}"],
                                   capture_output=True, text=True)
            if child.returncode != 0:
                rows.append(f"| {num_classes:,} | {mode} | failed: {child.stderr.strip().splitlines()[-1:]} |")
                continue
            row = json.loads(child.stdout.strip().splitlines()[-1])
            weights = num_classes * EMBEDDING * 4 / 2**20
            label = "full softmax, Keras SGD" if mode == "full" else f"partial FC 0.1 ({row['sampled']:,} centres)"
            rows.append(f"| {num_classes:,} | {label} | {weights:,.0f} | {row['state_mib']:,} | {row['peak_mib']:,} | "
                        f"{row['ms_per_step']:,} |")
    print(f"\nClassifier memory, 512-d, {batch} embeddings per step (one replica), each row a fresh process:")
    print("| identities | classifier | weights MiB | resident after build MiB | peak over 3 steps MiB | ms/step |")
    print("|---:|---|---:|---:|---:|---:|")
    print("\n".join(rows))


def pipeline_rates(rec, batch_size, passes):
    """Images/s of the training pipeline from `rec`: one pipeline, then one of two shards."""
    from mobiface_tf.data.pipeline import dataset_from_records

    rates = {}
    for label, shards in (("one pipeline", 1), ("one of two shards (each worker of two)", 2)):
        dataset = dataset_from_records(rec, batch_size, training=True, seed=0, num_shards=shards, shard_index=0)
        for _ in dataset:  # warm-up pass: tracing, page cache
            pass
        count, start = 0, time.perf_counter()
        for _ in range(passes):
            for _, labels in dataset:
                count += int(labels.shape[0])
        rates[label] = count / (time.perf_counter() - start)
    return rates


def step_rates(folder, batch_size, steps):
    """Images/s of the paper preset's train step, fed from the `.rec`, full classifier and partial FC 0.1."""
    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()
    from training_bench import seconds_per_step

    from mobiface_tf.train import data as train_data
    from mobiface_tf.train import trainer
    from mobiface_tf.train.config import resolve_config

    strategy = tf.distribute.get_strategy()
    rates = {}
    for label, rate in (("full classifier", "1"), ("partial FC 0.1", "0.1")):
        config = resolve_config("paper", {"train_data": str(folder), "batch_size": str(batch_size), "sample_rate": rate,
                                          "eval_every": "0"})
        training = train_data.gather_training_set(config, log=lambda line: None)
        state = trainer.build_train_state(config, training.num_classes, strategy)
        iterator = iter(strategy.distribute_datasets_from_function(train_data.make_dataset_fn(training, config, 0)))
        rates[label] = batch_size / seconds_per_step(state, iterator, steps)
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=5000)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--passes", type=int, default=1, help="timed passes over the .rec per pipeline figure")
    parser.add_argument("--steps", type=int, default=5, help="timed train steps per step figure")
    parser.add_argument("--memory_batch", type=int, default=128)
    parser.add_argument("--parts", default="pipeline,step,memory")
    parser.add_argument("--_memory_child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._memory_child:
        num_classes, mode, batch = args._memory_child.split(",")
        print(json.dumps(classifier_memory(int(num_classes), mode, int(batch))))
        return

    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()

    from mobiface_tf import paths

    parts = set(args.parts.split(","))
    load = os.getloadavg()
    print(f"TF {tf.__version__}, {os.cpu_count()} CPUs, load average {load[0]:.1f} at start")
    if parts & {"pipeline", "step"}:
        from helpers import write_lfw_insightface_folder

        folder = paths.work_root() / "bench_scale" / f"faces_{args.identities}"
        if not (folder / "property").is_file():
            start = time.perf_counter()
            images, identities = write_lfw_insightface_folder(folder, paths.data_root() / "lfw", args.identities)
            print(f"made {folder}: {images} images of {identities} identities + lfw.bin in "
                  f"{time.perf_counter() - start:.0f} s")
        size = (folder / "train.rec").stat().st_size / 2**20
        print(f"dataset: {folder} (train.rec {size:.0f} MiB, {args.identities} identities x 3), batch {args.batch_size}")
        print("| what | images/s |")
        print("|---|---:|")
        if "pipeline" in parts:
            for label, rate in pipeline_rates(folder / "train.rec", args.batch_size, args.passes).items():
                print(f"| .rec input pipeline, {label} | {rate:,.0f} |")
        if "step" in parts:
            for label, rate in step_rates(folder, args.batch_size, args.steps).items():
                print(f"| MobiFace train step (paper preset, {label}, fed from the .rec) | {rate:,.1f} |")
    if "memory" in parts:
        memory_table(args.memory_batch)


if __name__ == "__main__":
    main()
