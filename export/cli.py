"""`mobiface-export`: a trained run -> .tflite at each precision, metadata and a parity report."""

from absl import flags

from mobiface_tf.cli.common import run_main

FLAGS = flags.FLAGS

flags.DEFINE_string("run_dir", None, "Training run folder or .keras file (default: mobiface-train's, "
                    "<work>/runs/default).")
flags.DEFINE_string("out_dir", None, "Output folder (default: <work>/export/<run name>).")
flags.DEFINE_list("precisions", ["float32", "float16", "dynamic_int8", "int8"],
                  "Comma-separated subset of float32,float16,dynamic_int8,int8.")
flags.DEFINE_string("calibration_dir", None,
                    "Aligned training faces <identity>/<file>.jpg for int8 calibration "
                    "(default: <work>/aligned/celeba).")
flags.DEFINE_integer("num_calibration", 300, "Calibration faces for full-integer int8 (at least 200).")
flags.DEFINE_string("lfw_dir", None, "LFW folder for accuracy parity and the threshold (default: <data>/lfw).")
flags.DEFINE_integer("num_parity", 500, "Held-out training faces for cosine parity when LFW is absent.")
flags.DEFINE_enum("int8_input", "uint8", ["uint8", "int8"], "Input tensor type of the full-integer model.")
flags.DEFINE_boolean("rewrite_prelu", True,
                     "Rewrite PReLU as relu-free delegated ops in the int8 model (one XNNPACK partition).")
flags.DEFINE_string("name", None, "File-name stem of the exports (default: the model's name).")


def main(argv):
    """Resolve defaults, then `export.pipeline.export_run`."""
    from pathlib import Path

    from mobiface_tf.export.pipeline import export_run
    from mobiface_tf import paths
    from mobiface_tf.errors import BadInputError, ModelLoadError

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}")
    default_run = paths.default_run_dir()
    run_dir = Path(FLAGS.run_dir) if FLAGS.run_dir else default_run
    if not run_dir.exists():
        hint = "; run `make train` first" if run_dir == default_run else ""
        raise ModelLoadError(f"no such run folder or .keras file{hint}", run_dir)
    stem = run_dir.stem if run_dir.suffix == ".keras" else run_dir.name
    out_dir = Path(FLAGS.out_dir) if FLAGS.out_dir else paths.work_root() / "export" / stem
    calibration_dir = FLAGS.calibration_dir or paths.work_root() / "aligned" / "celeba"
    lfw_dir = FLAGS.lfw_dir or paths.data_root() / "lfw"
    export_run(run_dir, out_dir, precisions=FLAGS.precisions, calibration_dir=calibration_dir,
               num_calibration=FLAGS.num_calibration, lfw_dir=lfw_dir, num_parity=FLAGS.num_parity,
               int8_input=FLAGS.int8_input, rewrite_prelu=FLAGS.rewrite_prelu, name=FLAGS.name)
    return 0


def run():
    """Console-script entry point."""
    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
