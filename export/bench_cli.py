"""`mobiface-bench` flags: LiteRT latency of every registered model at each precision."""

from absl import flags

from mobiface_tf.cli.common import run_main

FLAGS = flags.FLAGS

flags.DEFINE_list("models", None, "Models to benchmark: registry names, each optionally with "
                  "builder options after a colon, e.g. mobiface:activation=relu (default: all "
                  "registered models plus MobiFace with ReLU).")
flags.DEFINE_list("bench_precisions", ["float32", "float16", "dynamic_int8", "int8"],
                  "Comma-separated subset of float32,float16,dynamic_int8,int8.")
flags.DEFINE_list("threads", ["1", "2"], "Interpreter thread counts.")
flags.DEFINE_integer("runs", 200, "Timed runs per (model, precision, threads), after the warm-up.")
flags.DEFINE_integer("warmup", 20, "Untimed runs first.")
flags.DEFINE_integer("blocks", 10, "Interleaved round-robin blocks the runs are split into.")
flags.DEFINE_string("bench_dir", None, "Output folder (default: <work>/bench).")
flags.DEFINE_string("bench_calibration_dir", None,
                    "Aligned faces for int8 calibration (default: <work>/aligned/celeba; noise if absent).")
flags.DEFINE_boolean("native_prelu", True, "Also time int8 without the PReLU rewrite (models with PReLU).")
flags.DEFINE_boolean("quick", False, "MobiFace only, float32 and int8, 1 thread, 20 runs: for tests.")


def main(argv):
    """Resolve defaults, then `export.bench.run_benchmark`."""
    from mobiface_tf.export.bench import run_benchmark
    from mobiface_tf import paths
    from mobiface_tf.errors import BadInputError

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}")
    try:
        threads = tuple(int(t) for t in FLAGS.threads)
    except ValueError as error:
        raise BadInputError(f"--threads must be integers, received {FLAGS.threads}") from error
    if not threads or min(threads) < 1:
        raise BadInputError(f"--threads must be positive integers, received {FLAGS.threads}")
    options = dict(model_names=FLAGS.models, precisions=FLAGS.bench_precisions, threads=threads,
                   runs=FLAGS.runs, warmup=FLAGS.warmup, blocks=FLAGS.blocks,
                   native_prelu=FLAGS.native_prelu)
    if FLAGS.quick:
        options.update(model_names=FLAGS.models or ["mobiface"], precisions=["float32", "int8"],
                       threads=(1,), runs=20, warmup=3, blocks=2)
    calibration_dir = FLAGS.bench_calibration_dir or paths.work_root() / "aligned" / "celeba"
    out_dir = FLAGS.bench_dir or paths.work_root() / "bench"
    run_benchmark(out_dir, calibration_dir=calibration_dir, **options)
    return 0


def run():
    """Console-script entry point."""
    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
