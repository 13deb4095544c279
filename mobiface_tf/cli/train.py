r"""`mobiface-train`: train a registered model with a margin loss; rerun the same command to resume.

With no flags it runs the main job: the `demo` preset on the default data (the aligned CelebA
subset plus the LFW people of folds 1-9, validated on the pairs of fold 10), aligning the shared
data first with `mobiface-align` where `work/aligned/{celeba,lfw}` are missing or unfinished.
Every field of `TrainConfig` is a flag (`--preset=paper --batch_size=256 --model=mobilefacenet
--lr_boundaries=400,600 --noprogress`), checked before anything is aligned or written; the
resolved configuration lands in `<run_dir>/config.json` (default `work/runs/default`). See
`mobiface_tf.train.loop` for the run folder's layout.

Examples:
    mobiface-train                                      # the main job (demo preset)
    mobiface-train --preset=paper --mixed_precision --run_dir=work/runs/paper   # section 4.2's recipe
    mobiface-train --train_data=/data/aligned/casia --nolfw_train --run_dir=work/runs/casia   # your own tree
    mobiface-train --preset=paper --train_data=/data/faces_emore --run_dir=work/runs/emore   # MS1M-ArcFace
        # folder: train.rec streamed, identities from property, validated on its lfw/cfp_fp/agedb_30 .bin
    mobiface-train --preset=paper --train_data=/data/glint360k --sample_rate=0.1 --best_on=cfp_fp  # partial FC
    mobiface-train --preset=distill --teacher=teacher.tflite --teacher_input_mean=127.5 \
        --teacher_input_std=128 --run_dir=work/runs/distill   # distillation alone (make bundle)
    mobiface-train --teacher=big.keras --distill_weight=2 --run_dir=work/runs/both   # ArcFace + distillation
    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker",
    "index": 0}}' mobiface-train --preset=paper          # one process per machine, index 0, 1
"""

from absl import flags

from mobiface_tf.cli.common import config_flag_values, define_config_flags, run_main
from mobiface_tf.train.config import PRESETS, TrainConfig

FLAGS = flags.FLAGS
flags.DEFINE_enum("preset", "demo", sorted(PRESETS), "Starting configuration; other flags override its fields.")
flags.DEFINE_list("compare_runs", None, "Print a Markdown table comparing these run folders' validation accuracy, "
                  "then exit (no training).")
define_config_flags(TrainConfig, __name__, exclude=("preset",), default_help="Default: the preset's (paper: {default!r}).")
# The flag's name before record datasets joined the folder trees; commands written for it still run.
flags.DEFINE_alias("train_dirs", "train_data")


def main(argv):
    """Resolve and check the configuration, align the default data if needed, train."""
    if len(argv) > 1:
        from mobiface_tf.errors import BadInputError

        raise BadInputError(f"unexpected arguments {argv[1:]}; settings are --flags")
    from absl import logging

    from mobiface_tf.train.config import resolve_config

    logging.set_verbosity(logging.WARNING)  # TF's checkpoint saver logs every save at INFO
    if FLAGS.compare_runs:
        from mobiface_tf.train.reports import compare_runs

        print(compare_runs(FLAGS.compare_runs))
        return

    config = resolve_config(FLAGS.preset, config_flag_values(TrainConfig, exclude=("preset",)))
    # The strategy must exist before other TensorFlow work (multi-worker collectives).
    from mobiface_tf.train import data, loop, trainer

    strategy = loop.make_strategy()
    # Every setting, path and the run folder's saved settings are checked before any work.
    config = trainer.prepare(config)
    if data.uses_default_data(config):
        data.align_default_data(config)
    summary = trainer.train(config, strategy=strategy)
    trained = f", loss {summary['loss']:.4f}" if summary["step"] > summary["resumed_from"] else " (nothing left to train)"
    on = "LFW" if summary["best_on"] in ("", "lfw") else summary["best_on"]
    best = f", best {on} accuracy {summary['best_accuracy']:.4f}" if summary["best_accuracy"] >= 0 else ""
    print(f"done: {summary['run_dir']} at step {summary['step']}{trained}{best}")


def run():
    """Console-script entry point."""
    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
