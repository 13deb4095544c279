"""The run loop (train.loop) with a toy stage: a new stage brings only its state and its step."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobiface_tf.errors import BadInputError, TrainingDivergedError
from mobiface_tf.train import loop
from mobiface_tf.train.config import FlipConfig, RunConfig


class FakeValidator:
    """Scores step / 10 at every validation, as `train.data.Validator.record` would report it."""

    best_key = "lfw_accuracy"

    def record(self, embed_fn, step, values, lr):
        assert embed_fn(np.zeros((2, 112, 112, 3), np.uint8)).shape == (2, 3)
        return {"step": step, **values, "lr": lr, "lfw_accuracy": step / 10, "lfw_accuracy_std": 0.0,
                "lfw_auc": 0.5, "val_folds": [10], "eval_seconds": 0.0}


def toy_stage(scale=1.0):
    """A stage of its own: a small model, SGD, and a step that shrinks its outputs."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((112, 112, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, name="embedding")], name="toy")
    optimizer = keras.optimizers.SGD(learning_rate=1e-5)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    @tf.function
    def train_step(iterator):
        images = next(iterator)
        with tf.GradientTape() as tape:
            loss = scale * tf.reduce_mean(tf.square(model(images, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return {"loss": loss, "twice": 2 * loss}

    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
    return loop.Stage(checkpoint=checkpoint, step=step, optimizer=optimizer, train_step=train_step, model=model,
                      input_size=112, lr_at=lambda _: 1e-5, logged=("loss", "twice"), log_window_means=True,
                      recorded=("loss",))


def images(seed):
    faces = np.random.default_rng(seed).uniform(0, 255, (4, 112, 112, 3)).astype(np.float32)
    return iter(tf.data.Dataset.from_tensors(faces).repeat())


def test_a_new_stage_gets_checkpoints_validation_logs_and_resume(tmp_path):
    config = RunConfig(max_steps=4, eval_every=2, checkpoint_every=1, log_every=2, progress=False,
                       run_dir=str(tmp_path / "run"))
    run = loop.RunFolder(config.run_dir, log=lambda line: None)
    run.start(config)
    seeds = []
    result = loop.run_stage(run, toy_stage(), config, lambda seed: seeds.append(seed) or images(seed),
                            FakeValidator())
    assert result["step"] == 4 and result["resumed_from"] == 0 and result["best_accuracy"] == 0.4
    assert set(result["values"]) == {"loss", "twice"} and seeds == [0]
    run_dir = tmp_path / "run"
    assert RunConfig.from_json((run_dir / "config.json").read_text()) == config
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["best_lfw_accuracy"]) for r in records] == [(2, 0.2), (4, 0.4)]
    assert set(records[0]) >= {"loss", "lr", "train_seconds"} and "twice" not in records[0]
    assert {p.name for p in run_dir.glob("*.keras")} == {"best.keras", "final.keras"}
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("ckpt-4")
    tags = set()
    for event_file in (run_dir / "logs").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {value.tag for value in event.summary.value}
    assert tags == {"loss", "twice", "lr", "images_per_s", "lfw_accuracy"}

    # Rerun longer: resumes at step 4 with the data reshuffled by the step.
    lines = []
    again = loop.run_stage(loop.RunFolder(run_dir, log=lines.append), toy_stage(), RunConfig(
        max_steps=5, eval_every=0, log_every=1, progress=False), lambda seed: seeds.append(seed) or images(seed))
    assert again["resumed_from"] == 4 and again["step"] == 5 and seeds[-1] == 4
    assert lines[0].endswith("at step 4 (optimizer iterations 4)")


def test_divergence_stops_at_the_bad_step_and_keeps_the_last_good_checkpoint(tmp_path):
    config = RunConfig(max_steps=5, eval_every=0, checkpoint_every=2, log_every=1, progress=False)
    run = loop.RunFolder(tmp_path / "run", log=lambda line: None)
    run.start(config)
    with pytest.raises(TrainingDivergedError, match=r"loss became inf \(twice inf\) at step 1; last good "
                                                    r"checkpoint: none") as raised:
        loop.run_stage(run, toy_stage(scale=np.inf), config, images)
    assert "\n" not in str(raised.value) and not (tmp_path / "run" / "final.keras").exists()


def test_a_run_folder_refuses_other_settings_before_writing(tmp_path):
    run = loop.RunFolder(tmp_path / "flip", log=lambda line: None)
    first = FlipConfig(from_run="runs/a", run_dir=str(tmp_path / "flip"))
    run.check_resume(first)  # a new folder: nothing to compare
    run.start(first)
    run.check_resume(FlipConfig(from_run="runs/a", run_dir=str(tmp_path / "flip"), max_steps=5000))
    with pytest.raises(BadInputError, match="flip_l2: 'squared' -> 'relative'"):
        run.check_resume(FlipConfig(from_run="runs/a", run_dir=str(tmp_path / "flip"), flip_l2="relative"))
