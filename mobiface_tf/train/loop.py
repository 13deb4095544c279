"""The run loop every training stage shares, and the run folder it keeps.

    run_dir/config.json      the stage's resolved configuration (rewritten on resume)
    run_dir/checkpoints/     tf.train checkpoints of the stage's state, `ckpt-<step>`
    run_dir/best.keras       the stage's model with the best accuracy on the validation set `best_on`
    run_dir/final.keras      the stage's model after the last step
    run_dir/logs/            TensorBoard scalars: the stage's losses, lr, images_per_s, <set>_accuracy
    run_dir/metrics.jsonl    one JSON object per validation: step, losses, lr, <set>_accuracy of each
                             validation set (lfw, cfp_fp, ...), best_on, skipped_records, ...
    run_dir/workers/<task>/  multi-worker runs only: the non-chief workers' own checkpoints and
                             final.keras (every worker must write its checkpoints somewhere)

A stage (the main training in `trainer`, the flip stage in `flip`) checks its configuration,
opens a `RunFolder`, builds its state and hands `run_stage` a `Stage`: what to checkpoint, its
compiled step, the model to save and validate, how to name its losses. The loop does the rest, the
same way for every stage: resume from the newest checkpoint, the steps, the divergence guard, the
log window, checkpoints, validation with best.keras and metrics.jsonl, final.keras.

Resume: rerunning with the same run folder restores the newest checkpoint: weights, optimizer
slots, the optimizer's iteration counter and so the exact step and learning rate. The data
position is approximate: the input pipeline restarts with a shuffle seeded by (seed, step), so a
resumed run sees a fresh permutation instead of replaying the batches it already saw.
"""

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from mobiface_tf.errors import BadInputError, TrainingDivergedError
from mobiface_tf.train import reports
from mobiface_tf.train.config import check_resume_compatible, load_config
from mobiface_tf.train.data import make_embed_fn
from mobiface_tf.train.tensorboard import ScalarWriter


def make_strategy():
    """MultiWorkerMirrored when TF_CONFIG is set, Mirrored over >1 local GPU, else the default.

    Must be called before any other TensorFlow work in the process (multi-worker collectives
    are configured at start-up).
    """
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def task_of(strategy):
    """(is_chief, task name) of this process in a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True, "chief"
    task_type, task_id = resolver.task_type, resolver.task_id or 0
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())
    return chief, f"{task_type}-{task_id}"


class RunFolder:
    """One run's folder (see the module docstring) and this process's part in writing it.

    Attributes:
        run_dir: the folder.
        is_chief: whether this process writes the shared files (config, best, metrics, logs).
        own_dir: where this process keeps its checkpoints and final.keras (run_dir for the chief).
        say: the chief's `log` (one line of progress text); a no-op on the other workers.
    """

    def __init__(self, run_dir, strategy=None, log=print):
        self.run_dir = Path(run_dir)
        self.is_chief, task = task_of(strategy or tf.distribute.get_strategy())
        self.own_dir = self.run_dir if self.is_chief else self.run_dir / "workers" / task
        self.say = log if self.is_chief else (lambda line: None)

    def saved_config(self, config_class):
        """The configuration the folder was started with, or None for a new run."""
        return load_config(self.run_dir, config_class)

    def check_resume(self, config):
        """Refuse (BadInputError) `config` if the folder was started with settings it cannot resume."""
        saved = self.saved_config(type(config))
        if saved is not None:
            check_resume_compatible(saved, config, self.run_dir)

    def start(self, config):
        """Create the folders and (chief) write `config.json`: call once every check has passed."""
        self.own_dir.mkdir(parents=True, exist_ok=True)
        if self.is_chief:
            # Through a temporary file: the other workers of a resumed run read config.json (check_resume)
            # while the chief rewrites it, and must never see it half written.
            path = self.run_dir / "config.json"
            tmp = path.with_name("config.json.tmp")
            tmp.write_text(config.to_json() + "\n")
            os.replace(tmp, path)

    def save_model(self, model, name, own=False):
        """Write `model` to `name` (e.g. "best.keras") in the run folder, or this worker's own folder,
        through a temporary file, so a kill never leaves half a file."""
        path = (self.own_dir if own else self.run_dir) / name
        tmp = path.with_name(path.stem + ".tmp.keras")
        model.save(tmp)
        os.replace(tmp, path)

    def append_record(self, record):
        """Add one line to metrics.jsonl."""
        with open(self.run_dir / "metrics.jsonl", "a") as stream:
            stream.write(json.dumps(record) + "\n")


def validation_summary(record):
    """The accuracies of a validation record in words: "LFW folds [10] accuracy 0.9 +- 0.01, cfp_fp ..."."""
    parts = []
    for key in record:
        name = key[: -len("_accuracy")]
        if not key.endswith("_accuracy") or key.startswith("best_"):
            continue
        label = f"LFW folds {record['val_folds']} accuracy" if name == "lfw" and "val_folds" in record else name
        parts.append(f"{label} {record[key]:.4f} +- {record[f'{name}_accuracy_std']:.4f}")
    return ", ".join(parts)


def _default_report(step, values, lr, record, best):
    # The default data's one set (the LFW folds) needs no name; otherwise name the set best.keras follows.
    on = record.get("best_on", "lfw")
    named = "" if on == "lfw" and "val_folds" in record else f"{on} "
    return f"\nstep {step}: loss {values['loss']:.4f}, lr {lr:g}, {validation_summary(record)} (best {named}{best:.4f})"


@dataclasses.dataclass
class Stage:
    """What a training stage gives the run loop: its state and its step, nothing of the bookkeeping.

    Attributes:
        checkpoint: a `tf.train.Checkpoint` of everything a resume needs.
        step: the int64 step variable saved in `checkpoint`.
        optimizer: the optimizer (its iteration count must equal `step` on resume).
        train_step: `train_step(iterator) -> {name: scalar}` runs one step; "loss" first.
        model: the Keras model saved as best.keras / final.keras and validated.
        input_size: the square input side `model` takes (validation resizes 112x112 faces to it).
        lr_at: the learning rate of the step after `step` finished steps.
        logged: the step values written to TensorBoard every `log_every` steps ...
        log_window_means: ... as their mean over the window (else the last step's value).
        recorded: the step values written to metrics.jsonl with each validation.
        shown: the step values on the progress bar (besides lr).
        report: `report(step, values, lr, record, best) -> str`, the line printed per validation.
        input_skipped: `input_skipped() -> int`, the faces the input pipeline skipped as unreadable or
            corrupt so far (recorded with each validation), or None.
    """

    checkpoint: tf.train.Checkpoint
    step: tf.Variable
    optimizer: keras.optimizers.Optimizer
    train_step: Callable
    model: keras.Model
    input_size: int
    lr_at: Callable
    logged: tuple = ("loss",)
    log_window_means: bool = False
    recorded: tuple = ("loss",)
    shown: tuple = ("loss",)
    report: Callable = _default_report
    input_skipped: Callable = None


def restore_latest(checkpoint, manager, step, optimizer, say):
    """Restore the newest checkpoint of `manager` into `checkpoint`, if there is one.

    Returns the step training resumes at (0 for a fresh run). The step counter and the
    optimizer's iteration count must agree, or the checkpoint is refused: the learning-rate
    schedule and the momentum state would disagree about where the run is.
    """
    if not manager.latest_checkpoint:
        return 0
    checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    resumed_from = int(step.numpy())
    iterations = int(optimizer.iterations.numpy())
    if iterations != resumed_from:
        raise BadInputError(f"checkpoint step {resumed_from} != optimizer iterations {iterations}",
                            manager.latest_checkpoint)
    say(f"resumed from {manager.latest_checkpoint} at step {resumed_from} (optimizer iterations {iterations})")
    return resumed_from


class _LogWindow:
    """Images per second and (optionally) mean step values over the steps since the last log."""

    def __init__(self, step, names):
        self.names = names
        self.reset(step)

    def reset(self, step):
        self.start, self.first_step = time.monotonic(), step
        self.sums = dict.fromkeys(self.names, 0.0)

    def add(self, values):
        for name in self.names:
            self.sums[name] += values[name]

    def close(self, step, batch_size):
        """(images per second, mean values) of the window ending at `step`; starts the next one."""
        steps = step - self.first_step
        images_per_s = steps * batch_size / max(time.monotonic() - self.start, 1e-9)
        means = {name: total / max(steps, 1) for name, total in self.sums.items()}
        self.reset(step)
        return images_per_s, means


def run_stage(run, stage, config, make_iterator, validator=None, on_fresh_start=None):
    """Train `stage` to `config.max_steps` in `run`, resuming from its newest checkpoint.

    Args:
        run: the `RunFolder` (already `start`ed).
        stage: the `Stage`.
        config: the stage's `RunConfig` (batch size, length, cadence of checkpoints, logs, validation).
        make_iterator: `make_iterator(seed) -> iterator` of the stage's training batches; called
            once, with `config.seed + the step training resumes at`.
        validator: a `train.data.Validator` (None: no validation, no best.keras); its `best_key`
            names the record field that chooses best.keras.
        on_fresh_start: called once before the first step of a run that resumed nothing (a warm start).

    Returns:
        dict: step, values (the last step's {name: float}), best_accuracy (-1 without validation),
        resumed_from.

    Raises:
        TrainingDivergedError: a step value became NaN/inf; nothing is saved after it, so the
            newest checkpoint on disk is the last good one.
    """
    manager = tf.train.CheckpointManager(stage.checkpoint, run.own_dir / "checkpoints",
                                         max_to_keep=config.keep_checkpoints)
    resumed_from = restore_latest(stage.checkpoint, manager, stage.step, stage.optimizer, run.say)
    if not resumed_from and on_fresh_start is not None:
        on_fresh_start()
    iterator = make_iterator(config.seed + resumed_from)
    embed_fn = make_embed_fn(stage.model, stage.input_size)
    writer = ScalarWriter(run.run_dir / "logs", enabled=run.is_chief)
    progbar = (keras.utils.Progbar(config.max_steps, stateful_metrics=[*stage.shown, "lr"])
               if (run.is_chief and config.progress) else None)
    best_key = validator.best_key if validator is not None else "lfw_accuracy"
    best, train_seconds = reports.history(run.run_dir, best_key)
    process_start, eval_seconds = time.monotonic(), 0.0
    current = resumed_from
    values = {"loss": float("nan")}
    window = _LogWindow(current, stage.logged if stage.log_window_means else ())

    def save_checkpoint():
        stage.step.assign(current)
        manager.save(checkpoint_number=current)

    while current < config.max_steps:
        values = {name: float(value) for name, value in stage.train_step(iterator).items()}
        current += 1
        window.add(values)
        if not all(math.isfinite(value) for value in values.values()):
            kept = manager.latest_checkpoint or "none (no checkpoint was written yet)"
            others = ", ".join(f"{name} {value}" for name, value in values.items() if name != "loss")
            raise TrainingDivergedError(
                f"loss became {values['loss']}{f' ({others})' if others else ''} at step {current}; "
                f"last good checkpoint: {kept}", run.run_dir)
        lr = stage.lr_at(current - 1)  # the rate this step used
        if progbar is not None:
            progbar.update(current, values=[*((name, values[name]) for name in stage.shown), ("lr", lr)])
        if current % config.log_every == 0 or current == config.max_steps:
            # Window means where asked: single-batch values can swing by 10x with a few odd faces.
            images_per_s, means = window.close(current, config.batch_size)
            logged = means if stage.log_window_means else {name: values[name] for name in stage.logged}
            writer.write(current, {**logged, "lr": lr, "images_per_s": images_per_s})
        evaluate_now = validator is not None and (current % config.eval_every == 0 or current == config.max_steps)
        if (config.checkpoint_every and current % config.checkpoint_every == 0) or current == config.max_steps \
                or evaluate_now:
            save_checkpoint()
        if evaluate_now:
            record = validator.record(embed_fn, current, {name: values[name] for name in stage.recorded}, lr)
            record["train_seconds"] = round(train_seconds + time.monotonic() - process_start - eval_seconds, 1)
            eval_seconds += record["eval_seconds"]
            if stage.input_skipped is not None:
                # Read after the validation: the input pipeline's buffers are full by then and nothing is
                # being decoded, so the count is exact.
                record["skipped_records"] = stage.input_skipped()
            writer.write(current, {key: value for key, value in record.items() if key.endswith("_accuracy")})
            writer.flush()
            if record[best_key] > best:
                best = record[best_key]
                run.save_model(stage.model, "best.keras")
            record[f"best_{best_key}"] = best
            run.append_record(record)
            run.say(stage.report(current, values, lr, record, best))
    if resumed_from < config.max_steps or not (run.own_dir / "final.keras").exists():
        if not manager.latest_checkpoint or int(stage.step.numpy()) != current:
            save_checkpoint()
        run.save_model(stage.model, "final.keras", own=True)
    writer.flush()
    return {"step": current, "values": values, "best_accuracy": best, "resumed_from": resumed_from}
