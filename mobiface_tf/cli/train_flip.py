"""`mobiface-train-flip`: the Flipped-MobiFace stage on a trained run; rerun the same command to resume.

Freezes the backbone and the cosine classifier of `--from_run` (its latest checkpoint, or
`--source_checkpoint`) and trains the flip predictor g so that g(f_I) approximates the feature
of the mirrored face; the result is a FlippedMobiFace whose single output is (f_I + g(f_I))/2.
Every field of `mobiface_tf.train.config.FlipConfig` is a flag; see `mobiface_tf.train.flip` for
the loss and `mobiface_tf.train.loop` for the run folder.

Examples:
    mobiface-train-flip --from_run=work/runs/default --run_dir=work/runs/flip
    mobiface-train-flip --run_dir=work/runs/flip            # resume with the saved settings
    mobiface-train-flip --from_run=work/runs/default --flip_ce_weight=0.1 --max_steps=2000
"""

from absl import flags

from mobiface_tf.cli.common import config_flag_values, define_config_flags, run_main
from mobiface_tf.train.config import FlipConfig

FLAGS = flags.FLAGS
define_config_flags(FlipConfig, __name__)


def _config():
    """FlipConfig from the flags; without --from_run, the run folder's saved settings."""
    from mobiface_tf import paths
    from mobiface_tf.train.config import load_config

    values = config_flag_values(FlipConfig)
    run_dir = values["run_dir"] = values.get("run_dir") or str(paths.default_flip_run_dir())
    base = FlipConfig()
    if "from_run" not in values:
        base = load_config(run_dir, FlipConfig) or base
    return base.with_overrides(values)


def main(argv):
    """Resolve the flip configuration and train (or resume)."""
    if len(argv) > 1:
        from mobiface_tf.errors import BadInputError

        raise BadInputError(f"unexpected arguments {argv[1:]}; settings are --flags")
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TF's checkpoint saver logs every save at INFO
    config = _config().validate()
    from mobiface_tf.train import flip, loop

    strategy = loop.make_strategy()
    summary = flip.train_flip(config, strategy=strategy)
    text = (f"done: {summary['run_dir']} at step {summary['step']}, flip L2 {summary['flip_l2']:.4f} "
            f"(mirror L2 {summary['mirror_l2']:.4f}), cosine(g(f_I), f_mirror) {summary['flip_cosine']:.4f}")
    if summary["best_accuracy"] >= 0:
        text += f", best LFW accuracy of (f_I + g(f_I))/2 {summary['best_accuracy']:.4f}"
    print(text)


def run():
    """Console-script entry point."""
    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
