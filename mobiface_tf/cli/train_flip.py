"""`mobiface-train-flip`: the Flipped-MobiFace stage on a trained run; rerun the same command to resume.

Freezes the backbone and the cosine classifier of `--from_run` (its latest checkpoint, or
`--source_checkpoint`) and trains the flip predictor g so that g(f_I) approximates the feature
of the mirrored face; the result is a FlippedMobiFace whose single output is (f_I + g(f_I))/2.
Every field of `mobiface_tf.train.flip.FlipConfig` is a flag; see that module for the loss and
the run folder (config.json, checkpoints/, best.keras, final.keras, logs/, metrics.jsonl).

Examples:
    mobiface-train-flip --from_run=work/runs/default --run_dir=work/runs/flip
    mobiface-train-flip --run_dir=work/runs/flip            # resume with the saved settings
    mobiface-train-flip --from_run=work/runs/default --flip_ce_weight=0.1 --max_steps=2000
"""

import dataclasses
import typing

from absl import flags

from mobiface_tf.cli.common import import_tensorflow, run_main

# The flags come from FlipConfig, whose module imports TensorFlow: import it quietly first.
import_tensorflow()
from mobiface_tf.train.flip import FlipConfig  # noqa: E402

FLAGS = flags.FLAGS

_HELP = {
    "from_run": "Trained run folder (config.json + checkpoints/) whose backbone and classifier are frozen.",
    "source_checkpoint": "tf.train checkpoint prefix of --from_run (default: its latest).",
    "flip_ce_weight": "Weight of the cross-entropy of g(f_I) through the frozen classifier (0: L2 only).",
    "flip_l2": "squared (the paper's |g(f_I) - f_mirror|^2) or relative (divided by |f_mirror|^2).",
    "ce_margin": "softmax (normalized softmax at the source run's scale) or source (its margin loss).",
    "batch_size": "Global batch size, split over replicas.",
    "lr_boundaries": "Comma-separated steps where the learning rate is multiplied by --lr_decay.",
    "weight_decay": "Coupled L2 on g's kernels.",
    "eval_every": "Validate (f_I + g(f_I))/2 on the source run's LFW folds every N steps (0: never).",
    "run_dir": "Flip run folder (default work/runs/flip); an existing one is resumed.",
    "progress": "Show a progress bar (--noprogress to hide).",
}
_DEFINE = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string, tuple: flags.DEFINE_list}
_TYPES = typing.get_type_hints(FlipConfig)
for _field in dataclasses.fields(FlipConfig):
    _DEFINE[_TYPES[_field.name]](_field.name, None, _HELP.get(_field.name, f"FlipConfig.{_field.name} "
                                                               f"(default {_field.default!r})."))


def _config():
    """FlipConfig from the flags; without --from_run, the run folder's saved settings."""
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.train.config import load_config
    from mobiface_tf.train.flip import default_flip_run_dir

    values = {}
    for field in dataclasses.fields(FlipConfig):
        value = FLAGS[field.name].value
        if value is None:
            continue
        if _TYPES[field.name] is tuple:
            try:
                value = tuple(int(item) for item in value)
            except ValueError:
                raise BadInputError(f"--{field.name} takes comma-separated integers. Received {value}") from None
        values[field.name] = value
    run_dir = values["run_dir"] = values.get("run_dir") or str(default_flip_run_dir())
    base = FlipConfig()
    if "from_run" not in values:
        saved = load_config(run_dir, FlipConfig)
        if saved is not None:
            base = saved
    return dataclasses.replace(base, **values)


def main(argv):
    """Resolve the flip configuration and train (or resume)."""
    if len(argv) > 1:
        from mobiface_tf.errors import BadInputError

        raise BadInputError(f"unexpected arguments {argv[1:]}; settings are --flags")
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TF's checkpoint saver logs every save at INFO
    config = _config().validate()
    from mobiface_tf.train import flip, trainer

    strategy = trainer.make_strategy()
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
