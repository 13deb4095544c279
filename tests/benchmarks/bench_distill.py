"""Training throughput (images/s) with the distillation teacher in the input pipeline vs without.

Prints a Markdown table; not a pytest test. Run from the project root (`make bench-distill`):

    .venv/bin/python tests/benchmarks/bench_distill.py --teacher=work/third_party/.../MobileFaceNet.tflite
        [--teacher_input_mean 127.5 --teacher_input_std 128] [--batch_size 64] [--steps 8]
        [--data work/aligned/celeba] [--teacher_threads 1]

Rows: the teacher alone (LiteRT on a batch in memory), then the trainer's own train step fed by
the real tf.data input (decode, full augmentation, batch) under the distill preset's optimizer:
ArcFace without a teacher, ArcFace + teacher, and the teacher alone as the loss (`loss=none`,
the distill preset). Each training row runs 2 untimed steps (tracing), then `--steps` timed ones.
The teacher runs inside tf.data, so its cost shows only where it does not overlap the step.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--teacher_input_mean", type=float, default=127.5)
    parser.add_argument("--teacher_input_std", type=float, default=128.0)
    parser.add_argument("--teacher_threads", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--data", default=None, help="aligned tree (default: work/aligned/celeba)")
    args = parser.parse_args()

    import numpy as np
    from mobiface_tf.quiet import import_tensorflow

    tf = import_tensorflow()

    from training_bench import load_training_set, seconds_per_step

    from mobiface_tf.train import data as train_data
    from mobiface_tf.train import distill, trainer
    from mobiface_tf.train.config import resolve_config

    data, training = load_training_set(args.data)
    teacher = distill.load_teacher(args.teacher, input_mean=args.teacher_input_mean,
                                   input_std=args.teacher_input_std, num_threads=args.teacher_threads)
    strategy = tf.distribute.get_strategy()
    print(f"{os.cpu_count()} CPUs visible; data: {data} ({len(training.paths)} images); teacher {teacher.name} "
          f"({teacher.embedding_size}-d, {args.teacher_threads} thread(s)); batch {args.batch_size}; "
          f"{args.steps} timed steps after 2 untimed")
    print("| what | loss | teacher | images/s | s/step |")
    print("|---|---|---|---:|---:|")

    faces = np.random.default_rng(0).uniform(0, 255, (args.batch_size, 112, 112, 3)).astype(np.float32)
    teacher.embed(faces)
    start = time.perf_counter()
    for _ in range(3):
        teacher.embed(faces)
    seconds = (time.perf_counter() - start) / 3
    print(f"| teacher forward only | - | yes | {args.batch_size / seconds:.1f} | {seconds:.2f} |", flush=True)

    for loss, use_teacher in (("arcface", False), ("arcface", True), ("none", True)):
        overrides = {"batch_size": args.batch_size, "loss": loss, "warmup_steps": 0}
        if use_teacher:
            overrides["teacher"] = args.teacher
        config = resolve_config("distill", overrides)
        state = trainer.build_train_state(config, training.num_classes, strategy,
                                          teacher_size=teacher.embedding_size if use_teacher else None)
        dataset_fn = train_data.make_dataset_fn(training, config, seed=0, teacher=teacher if use_teacher else None)
        iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
        seconds = seconds_per_step(state, iterator, args.steps)
        print(f"| train step, tf.data + full augmentation | {loss} | {'yes' if use_teacher else 'no'} | "
              f"{args.batch_size / seconds:.1f} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
