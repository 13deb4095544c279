"""`mobiface-eval-flip`: compare (a) f_I, (b) (f_I + f_Ī)/2 and (c) Flipped-MobiFace on LFW, in one run.

Loads a FlippedMobiFace (a flip run folder's best.keras, else final.keras, or a `.keras` file);
(a) and (b) use the trained backbone inside it, (c) its output. Reports 10-fold accuracy,
TAR at FAR 1e-3 and the median per-face latency at batch 1 in Keras and, when exported
`.tflite` files are given (any precisions, paired by their metadata's), in LiteRT. Writes
flip_study.json and flip_study.md.

Examples:
    mobiface-eval-flip --model=work/runs/flip
    mobiface-eval-flip --model=work/runs/flip \\
        --backbone_tflite=work/export/default/mobiface_float32.tflite,work/export/default/mobiface_int8.tflite \\
        --flipped_tflite=work/export/flip/flipped_mobiface_float32.tflite,work/export/flip/flipped_mobiface_int8.tflite
"""

from pathlib import Path

from absl import flags

from mobiface_tf.cli.common import run_main

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Flip run folder or FlippedMobiFace .keras (default work/runs/flip).")
flags.DEFINE_string("lfw_dir", None, "LFW folder (raw with images/ and pairs.txt, or aligned); default <data>/lfw.")
flags.DEFINE_list("lfw_folds", None, "0-based LFW View 2 folds to use (default all ten).")
flags.DEFINE_enum("align", "auto", ["auto", "landmarks", "mtcnn", "aligned"], "How LFW is aligned (see mobiface-eval).")
flags.DEFINE_list("backbone_tflite", [], "Exported .tflite files of the plain backbone (one per precision), "
                  "for LiteRT latency of (a), (b).")
flags.DEFINE_list("flipped_tflite", [], "Exported .tflite files of the FlippedMobiFace (one per precision), "
                  "for LiteRT latency of (c); paired with --backbone_tflite by the precision in their metadata.")
flags.DEFINE_integer("num_threads", 1, "LiteRT CPU threads (1: the steadiest figure on a shared machine).")
flags.DEFINE_integer("keras_threads", 0, "TensorFlow intra-op threads for Keras (0: TensorFlow's default).")
flags.DEFINE_integer("latency_runs", 100, "Timed batch-1 rounds per backend (median reported).")
flags.DEFINE_string("out", None, "Output folder (default <work>/eval/flip_study).")


def main(argv):
    """Load the models, run the study, print the table, write JSON and Markdown."""
    from mobiface_tf import paths
    from mobiface_tf.errors import BadInputError

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}; settings are --flags")
    import tensorflow as tf

    if FLAGS.keras_threads:
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.keras_threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from mobiface_tf.embedding import load_embedding_model
    from mobiface_tf.eval import flip_study
    from mobiface_tf.eval.lfw import LfwBenchmark
    from mobiface_tf.train.flip import flip_variant_embedders, load_flipped_model

    model_path = Path(FLAGS.model) if FLAGS.model else paths.default_flip_run_dir()
    model = load_flipped_model(model_path)
    embed_backbone, embed_flipped = flip_variant_embedders(model)
    lfw_dir = Path(FLAGS.lfw_dir) if FLAGS.lfw_dir else paths.data_root() / "lfw"
    try:
        folds = None if not FLAGS.lfw_folds else [int(f) for f in FLAGS.lfw_folds]
    except ValueError:
        raise BadInputError(f"--lfw_folds takes 0-based fold numbers, received {FLAGS.lfw_folds}") from None
    benchmark = LfwBenchmark(lfw_dir, folds=folds, align=FLAGS.align, log=print)

    latency = {"keras": (embed_backbone, embed_flipped)}
    tflites = {"backbone": [str(p) for p in FLAGS.backbone_tflite], "flipped": [str(p) for p in FLAGS.flipped_tflite]}
    by_precision = {}  # precision -> role -> embed function
    for role, files in tflites.items():
        for path in files:
            litert = load_embedding_model(path, num_threads=FLAGS.num_threads)
            precision = litert.metadata.get("precision", "float32")
            if role in by_precision.get(precision, {}):
                raise BadInputError(f"two {role} .tflite files of precision {precision}: give one per precision", path)
            by_precision.setdefault(precision, {})[role] = litert.embed
    for precision, roles in by_precision.items():
        latency[f"litert_{precision}"] = (roles.get("backbone"), roles.get("flipped"))
    tflites = {role: files for role, files in tflites.items() if files}
    study = flip_study.compare_flip_variants(benchmark, embed_backbone, embed_flipped, latency=latency,
                                             latency_runs=FLAGS.latency_runs, log=print)
    study.update({"model": str(model_path), "lfw_dir": str(lfw_dir), "tflite": tflites,
                  "litert_threads": FLAGS.num_threads if tflites else None,
                  "keras_threads": FLAGS.keras_threads or "tensorflow default"})
    out = Path(FLAGS.out) if FLAGS.out else paths.work_root() / "eval" / "flip_study"
    threads = f"Keras with {FLAGS.keras_threads or 'TensorFlow default'} threads"
    if tflites:
        threads += f", LiteRT with {FLAGS.num_threads}"
    header = (f"Flipped-MobiFace study: {model_path} on {lfw_dir} ({study['pairs']} pairs); latency per face "
              f"at batch 1, median of {FLAGS.latency_runs}, {study['machine']} ({threads}).")
    json_path, md_path = flip_study.write_study(study, out, header=header)
    print(flip_study.markdown_table(study))
    print(f"wrote {json_path} and {md_path}")


def run():
    """Console-script entry point."""
    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
