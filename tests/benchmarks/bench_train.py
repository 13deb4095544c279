"""Training throughput (images/s) of each registered model: cached tensors vs the real tf.data input.

Prints a Markdown table; not a pytest test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_train.py [--models mobiface,mobilefacenet]
        [--batch_sizes 64,128] [--steps 5] [--data work/aligned/celeba]

Each configuration builds the trainer's own train step (`trainer.build_train_state`: ArcFace
head, SGD momentum, coupled weight decay) under the default strategy (all local CPUs, or one
GPU), runs 2 untimed steps (tracing), then times `--steps` steps. "cached" feeds one batch of real
faces held in memory; "tf.data" reads, decodes, shuffles and flips JPEGs from an aligned tree as
training does. When the two agree, the input pipeline keeps up.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated names (default: all registered)")
    parser.add_argument("--batch_sizes", default="64,128")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--data", default=None, help="aligned tree (default: work/aligned/celeba)")
    args = parser.parse_args()

    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()

    from training_bench import load_training_set, seconds_per_step

    from mobiface_tf.models.registry import list_models
    from mobiface_tf.train import data as train_data
    from mobiface_tf.train import trainer
    from mobiface_tf.train.config import resolve_config

    data, training = load_training_set(args.data)
    strategy = tf.distribute.get_strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    print(f"device: {devices[0].name} ({len(devices)}), {os.cpu_count()} CPUs visible; data: {data} "
          f"({len(training.paths)} images, {training.num_classes} classes); {args.steps} timed steps after 2 untimed")
    print("| model | batch | input | images/s | s/step |")
    print("|---|---:|---|---:|---:|")
    for model in (args.models.split(",") if args.models else list_models()):
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            config = resolve_config("demo", {"model": model, "batch_size": batch_size, "warmup_steps": 0})
            state = trainer.build_train_state(config, training.num_classes, strategy)
            real = train_data.make_dataset_fn(training, config, seed=0)
            batch = next(iter(real(tf.distribute.InputContext())))
            cached = lambda _context, batch=batch: tf.data.Dataset.from_tensors(batch).repeat()  # noqa: E731
            for input_name, dataset_fn in (("cached", cached), ("tf.data", real)):
                iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
                seconds = seconds_per_step(state, iterator, args.steps)
                print(f"| {model} | {batch_size} | {input_name} | {batch_size / seconds:.1f} | {seconds:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
