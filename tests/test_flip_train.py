"""The Flipped-MobiFace stage on a tiny trained run: frozen backbone and classifier, loss, run folder, resume."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import train_tiny_run, write_identity_tree, write_lfw, write_tiny_tflite

from mobiface_tf.data.pipeline import build_dataset
from mobiface_tf.errors import BadInputError, DataNotFoundError
from mobiface_tf.models.flipped import backbone_model, flip_outputs_model
from mobiface_tf.train import data as train_data
from mobiface_tf.train import flip, trainer

# Every test here needs a trained source run (~15 s to make once per module).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A finished smoke-preset run (32x32 MobiFace, 16-d, 4 identities) with a tiny LFW for validation."""
    root = tmp_path_factory.mktemp("flip_source")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOBIFACE_WORK", str(root / "work"))
        tree = write_identity_tree(root / "tree", [f"id{i}" for i in range(4)])
        lfw = write_lfw(root / "lfw")
        train_tiny_run(root / "run", tree, lfw_dir=lfw, eval_every="0")
        yield root


@pytest.fixture()
def work(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    return tmp_path


def _config(source, run_dir, **overrides):
    values = dict(from_run=str(source / "run"), run_dir=str(run_dir), batch_size=8, max_steps=4, eval_every=0,
                  checkpoint_every=2, log_every=1, progress=False, lr_boundaries=())
    values.update(overrides)
    return flip.FlipConfig(**values)


def _source_weights(source):
    """Backbone and classifier values as trained, read back from the source run's checkpoint."""
    loaded = flip.load_source_run(source / "run")
    backbone = trainer.build_backbone(loaded.config)
    reader = tf.train.load_checkpoint(loaded.checkpoint)
    tf.train.Checkpoint(model=backbone).restore(loaded.checkpoint).expect_partial()
    return backbone, reader.get_tensor("head/kernel/.ATTRIBUTES/VARIABLE_VALUE")


def test_source_run_is_read_with_its_classifier(source):
    loaded = flip.load_source_run(source / "run")
    assert loaded.num_classes == 4 and loaded.checkpoint.endswith("ckpt-6")
    assert loaded.config.input_size == 32
    with pytest.raises(DataNotFoundError, match="no config.json"):
        flip.load_source_run(source / "tree")
    with pytest.raises(BadInputError, match="--from_run is required"):
        flip.FlipConfig().validate()
    with pytest.raises(BadInputError, match="ce_margin"):
        flip.FlipConfig(from_run="x", ce_margin="arcface").validate()


def test_loss_decreases_on_a_fixed_batch_and_the_backbone_stays(source, work):
    loaded = flip.load_source_run(source / "run")
    config = _config(source, work / "unused", learning_rate=1e-2).validate()
    state = flip.build_flip_state(loaded, config)
    training = train_data.gather_training_set(loaded.config)
    images, labels = next(iter(build_dataset(training.paths[:8], training.labels[:8], 8, training=False)))
    images = tf.image.resize(images, (32, 32))
    before = state.compute_metrics(images, labels)
    frozen = [w.copy() for w in state.backbone.get_weights()]
    classifier = state.classifier.kernel.numpy().copy()

    fixed = tf.data.Dataset.from_tensors((images, labels)).repeat()
    iterator = iter(tf.distribute.get_strategy().experimental_distribute_dataset(fixed))
    for _ in range(30):
        state.train_step(iterator)
    after = state.compute_metrics(images, labels)
    assert after["loss"] < 0.5 * before["loss"], (before, after)
    assert after["flip_l2"] < before["flip_l2"]
    # The target f_mirror comes from the frozen backbone: unchanged by training g.
    assert after["mirror_l2"] == pytest.approx(before["mirror_l2"], rel=1e-6)
    for old, new in zip(frozen, state.backbone.get_weights()):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(classifier, state.classifier.kernel.numpy())
    assert int(state.optimizer.iterations.numpy()) == 30


def test_residual_predictor_starts_at_the_unflipped_feature(source, work):
    loaded = flip.load_source_run(source / "run")
    config = _config(source, work / "unused", flip_residual=True).validate()
    state = flip.build_flip_state(loaded, config)
    training = train_data.gather_training_set(loaded.config)
    images, labels = next(iter(build_dataset(training.paths[:8], training.labels[:8], 8, training=False)))
    images = tf.image.resize(images, (32, 32))
    before = state.compute_metrics(images, labels)
    # g starts as the identity: its distance to the mirror's feature is f_I's own.
    assert before["flip_l2"] == pytest.approx(before["mirror_l2"], rel=1e-5)
    # Only g's layers train (the backbone stays frozen, as test_loss_decreases... checks for both forms).
    assert {v.path for v in state.optimizer.variables if "flip_residual" in v.path}


def test_l2_alone_needs_no_classifier(source, work):
    loaded = flip.load_source_run(source / "run")
    no_head = dataclasses.replace(loaded, num_classes=None)  # as a distillation run with loss="none"
    with pytest.raises(BadInputError, match="--flip_ce_weight=0"):
        flip.build_flip_state(no_head, _config(source, work / "unused").validate())
    state = flip.build_flip_state(no_head, _config(source, work / "unused", flip_ce_weight=0.0).validate())
    assert state.classifier is None
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    metrics = state.compute_metrics(images, np.zeros(4, np.int32))
    assert metrics["flip_ce"] == 0.0 and metrics["loss"] == pytest.approx(metrics["flip_l2"])

    # "relative" divides each face's squared distance by |f_mirror|^2.
    relative = flip.build_flip_state(no_head, _config(source, work / "unused", flip_ce_weight=0.0,
                                                      flip_l2="relative").validate())
    relative_metrics = relative.compute_metrics(images, np.zeros(4, np.int32))
    f_i = np.asarray(relative.backbone(images, training=False))
    f_mirror = np.asarray(relative.backbone(images[:, :, ::-1], training=False))
    expected = np.mean(np.sum((f_i - f_mirror) ** 2, 1) / np.sum(f_mirror**2, 1))
    assert relative_metrics["mirror_l2"] == pytest.approx(expected, rel=1e-4)
    assert metrics["mirror_l2"] == pytest.approx(np.mean(np.sum((f_i - f_mirror) ** 2, 1)), rel=1e-4)
    with pytest.raises(BadInputError, match="flip_l2"):
        _config(source, work, flip_l2="cosine").validate()


def test_flip_run_folder_frozen_weights_and_one_graph_output(source, work):
    summary = flip.train_flip(_config(source, work / "flip", eval_every=2), log=lambda line: None)
    run = work / "flip"
    assert summary["step"] == 4 and summary["resumed_from"] == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["source_checkpoint"].endswith("ckpt-6") and saved["from_run"] == str(source / "run")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert all(0.0 <= r["lfw_accuracy"] <= 1.0 and np.isfinite(r["flip_l2"]) for r in records)
    tags = set()
    for event_file in (run / "logs").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {value.tag for value in event.summary.value}
    assert set(flip.METRIC_NAMES) | {"lr", "images_per_s", "lfw_accuracy"} <= tags

    trained_backbone, trained_head = _source_weights(source)
    for name in ("best.keras", "final.keras"):
        model = flip.load_flipped_model(run / name)
        assert model.output_shape == (None, 16) and model.layers[-1].name == "flipped_embedding"
        kept = backbone_model(model)
        for layer in trained_backbone.layers:
            for old, new in zip(layer.get_weights(), kept.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(old, new, err_msg=layer.name)
    reader = tf.train.load_checkpoint(str(run / "checkpoints" / "ckpt-4"))
    np.testing.assert_array_equal(reader.get_tensor("head/kernel/.ATTRIBUTES/VARIABLE_VALUE"), trained_head)

    # One graph computes (f_I + g(f_I)) / 2.
    model = flip.load_flipped_model(run)
    faces = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    f_i, g = flip_outputs_model(model)(faces, training=False)
    np.testing.assert_allclose(model(faces, training=False), (f_i + g) / 2, rtol=1e-5, atol=1e-5)


def test_resume_continues_and_refuses_other_settings(source, work):
    first = flip.train_flip(_config(source, work / "flip", max_steps=2), log=lambda line: None)
    assert first["step"] == 2
    lines = []
    second = flip.train_flip(_config(source, work / "flip", max_steps=4), log=lines.append)
    assert second["resumed_from"] == 2 and second["step"] == 4
    assert any("at step 2 (optimizer iterations 2)" in line for line in lines)
    reader = tf.train.load_checkpoint(str(work / "flip" / "checkpoints" / "ckpt-4"))
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 4
    with pytest.raises(BadInputError, match="flip_ce_weight"):
        flip.train_flip(_config(source, work / "flip", max_steps=6, flip_ce_weight=0.5), log=lambda line: None)
    # A given source checkpoint other than the saved one is another run, not a resume.
    with pytest.raises(BadInputError, match="source_checkpoint"):
        flip.train_flip(_config(source, work / "flip", max_steps=6,
                                source_checkpoint=str(source / "run" / "checkpoints" / "ckpt-4")),
                        log=lambda line: None)


def test_commands_train_resume_and_compare(source, work):
    env = dict(os.environ, MOBIFACE_WORK=str(work / "work"))
    command = [sys.executable, "-m", "mobiface_tf.cli.train_flip", f"--from_run={source / 'run'}",
               f"--run_dir={work / 'flip'}", "--batch_size=8", "--max_steps=2", "--eval_every=0",
               "--lr_boundaries=", "--noprogress"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "done:" in done.stdout and "at step 2" in done.stdout
    # Resuming needs only the run folder: the rest comes from its config.json.
    resumed = subprocess.run([sys.executable, "-m", "mobiface_tf.cli.train_flip", f"--run_dir={work / 'flip'}",
                              "--max_steps=3", "--noprogress"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "at step 3" in resumed.stdout and "resumed from" in resumed.stdout + resumed.stderr

    study = subprocess.run([sys.executable, "-m", "mobiface_tf.cli.eval_flip", f"--model={work / 'flip'}",
                            f"--lfw_dir={source / 'lfw'}", "--latency_runs=2", f"--out={work / 'study'}"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert study.returncode == 0, study.stderr[-2000:]
    rows = json.loads((work / "study" / "flip_study.json").read_text())["rows"]
    assert [r["variant"] for r in rows] == ["a", "b", "c"]
    assert all(set(r["latency_ms"]) == {"keras"} for r in rows)
    assert sum(line.startswith("| (") for line in (work / "study" / "flip_study.md").read_text().splitlines()) == 3

    # Exported models add LiteRT latency, one column per precision (from their metadata).
    tflite = write_tiny_tflite(work / "backbone.tflite", batch_size=1)
    timed = subprocess.run([*study.args[:4], f"--lfw_dir={source / 'lfw'}", "--latency_runs=2",
                            f"--backbone_tflite={tflite}", f"--out={work / 'timed'}"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert timed.returncode == 0, timed.stderr[-2000:]
    rows = json.loads((work / "timed" / "flip_study.json").read_text())["rows"]
    assert [r["latency_ms"]["litert_float32"] is not None for r in rows] == [True, True, False]
    twice = subprocess.run([*study.args[:4], f"--lfw_dir={source / 'lfw'}", f"--backbone_tflite={tflite},{tflite}"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert twice.returncode == 2 and "two backbone .tflite files of precision float32" in twice.stderr

    missing = subprocess.run([sys.executable, "-m", "mobiface_tf.cli.train_flip", f"--from_run={work}",
                              f"--run_dir={work / 'other'}"], env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "no config.json" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr
