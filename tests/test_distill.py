"""Teacher distillation: augmentation ops, the teacher in tf.data, the loss, the trainer and the CLI."""

import os
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import train_command, write_identity_tree, write_lfw, write_tiny_model, write_tiny_tflite

from mobiface_tf.data import pipeline
from mobiface_tf.errors import BadInputError, ModelLoadError
from mobiface_tf.train import data as train_data
from mobiface_tf.train import distill, trainer
from mobiface_tf.train.config import resolve_config

STUDENT_SIZE = 16
TEACHER_SIZE = 24  # deliberately not the student's size


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """A tiny teacher as `.keras` and as a fixed-batch-2 `.tflite` (with metadata), 24-d."""
    root = tmp_path_factory.mktemp("teachers")
    keras_path = write_tiny_model(root / "keras_teacher.keras", seed=5, embedding_size=TEACHER_SIZE)
    tflite_path = write_tiny_tflite(root / "tflite_teacher.tflite", seed=5, embedding_size=TEACHER_SIZE)
    return {"keras": keras_path, "tflite": tflite_path}


@pytest.fixture()
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    tree = write_identity_tree(tmp_path / "tree", [f"id{i}" for i in range(4)])
    lfw = write_lfw(tmp_path / "lfw")
    return tree, lfw


def _config(tmp_path, tree, lfw, **overrides):
    values = {
        "train_data": str(tree), "lfw_dir": str(lfw), "lfw_aligned": str(lfw / "images"),
        "input_size": "32", "embedding_size": str(STUDENT_SIZE), "run_dir": str(tmp_path / "run"),
        "progress": "false", "max_steps": "4",
    }
    values.update(overrides)
    return resolve_config("smoke", values)


def _faces(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, 112, 112, 3)).astype(np.float32)


# --- augmentation ops, eagerly and inside tf.data ----------------------------------------------

OPS = [pipeline.random_crop_jitter, pipeline.random_color, pipeline.random_blur, pipeline.augment_face,
       pipeline.random_erase, pipeline.augment_face_strong]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.__name__)
def test_augment_ops_agree_eagerly_and_in_dataset_map(op):
    image = tf.constant(_faces(1)[0])
    seeds = [tf.constant([s, 7], tf.int64) for s in range(6)]
    eager = [op(image, seed).numpy() for seed in seeds]
    mapped = list(tf.data.Dataset.from_tensor_slices(tf.stack(seeds)).map(lambda s: op(image, s)).as_numpy_iterator())
    for a, b in zip(eager, mapped):
        assert a.shape == (112, 112, 3) and a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-2)  # graph vs eager float rounding
    assert all(-1e-3 <= a.min() and a.max() <= 255 + 1e-3 for a in eager)
    # Deterministic per seed, different across seeds, and (for at least one seed) a real change.
    np.testing.assert_array_equal(op(image, seeds[0]).numpy(), eager[0])
    assert any(np.abs(e - image.numpy()).mean() > 1.0 for e in eager)
    assert len({e.tobytes() for e in eager}) > 1


def test_blur_smooths_and_crop_jitter_zero_is_identity():
    image = tf.constant(_faces(1)[0])
    blurred = pipeline.random_blur(image, tf.constant([1, 2], tf.int64), probability=1.0, max_sigma=1.5)
    roughness = lambda x: np.abs(np.diff(np.asarray(x), axis=1)).mean()  # noqa: E731
    assert roughness(blurred) < 0.6 * roughness(image)
    same = pipeline.random_crop_jitter(image, tf.constant([3, 4], tf.int64), max_shift=0.0, max_scale=0.0)
    # Bilinear resampling of an identical box is the identity up to float rounding.
    np.testing.assert_allclose(same.numpy(), image.numpy(), atol=0.5)


def test_full_augmentation_reaches_training_batches(data):
    tree, _ = data
    from mobiface_tf.data.sources import list_identity_tree

    paths, labels, _ = list_identity_tree(tree)
    plain = next(iter(pipeline.build_dataset(paths, labels, 4, training=False)))[0].numpy()
    for name in ("none", "flip", "full", "strong"):
        batch = next(iter(pipeline.build_dataset(paths, labels, 4, training=True, seed=1, augment=name)))[0]
        assert batch.shape == (4, 112, 112, 3)
    with pytest.raises(BadInputError, match="augment='blurry'"):
        pipeline.build_dataset(paths, labels, 4, training=True, augment="blurry")
    assert plain.shape == (4, 112, 112, 3)


def test_random_erase_fills_one_rectangle_with_the_mean():
    image = tf.constant(_faces(1)[0])
    erased = pipeline.random_erase(image, tf.constant([5, 6], tf.int64), probability=1.0).numpy()
    changed = np.any(erased != image.numpy(), axis=-1)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    assert 0.03 * 112 * 112 <= changed.sum() <= 0.26 * 112 * 112
    # One filled rectangle: every pixel of its bounding box is the image's mean colour.
    box = erased[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    np.testing.assert_allclose(box, np.broadcast_to(image.numpy().mean(axis=(0, 1)), box.shape), atol=1e-3)
    never = pipeline.random_erase(image, tf.constant([5, 6], tf.int64), probability=0.0)
    np.testing.assert_array_equal(never.numpy(), image.numpy())


def test_mix_views_mixes_the_first_fraction_and_unlabels_it():
    faces = tf.constant(_faces(8, seed=2))
    labels = tf.range(8, dtype=tf.int32)
    seed = tf.constant([1, 2], tf.int64)
    images, mixed_labels = pipeline.mix_views(faces, labels, seed, 0.5)
    assert mixed_labels.numpy().tolist() == [-1, -1, -1, -1, 4, 5, 6, 7]
    np.testing.assert_array_equal(images.numpy()[4:], faces.numpy()[4:])
    # Each mixed face lies on the segment between itself and its neighbour in the batch.
    f = faces.numpy()
    for i in range(4):
        direction = f[i] - f[i + 1]
        lam = np.sum((images.numpy()[i] - f[i + 1]) * direction) / np.sum(direction * direction)
        assert 0.0 <= lam <= 1.0
        np.testing.assert_allclose(images.numpy()[i], lam * f[i] + (1 - lam) * f[i + 1], atol=1e-2)
    # Eagerly and inside tf.data alike, and deterministic per seed.
    dataset = pipeline.add_mixed_views(tf.data.Dataset.from_tensors((faces, labels)).repeat(2), 0.25, seed=3)
    first, second = [b for b in dataset.as_numpy_iterator()]
    assert first[1].tolist() == [-1, -1, 2, 3, 4, 5, 6, 7]
    assert not np.array_equal(first[0], second[0])  # a new seed per batch
    again = [b for b in pipeline.add_mixed_views(
        tf.data.Dataset.from_tensors((faces, labels)).repeat(2), 0.25, seed=3).as_numpy_iterator()]
    np.testing.assert_array_equal(again[0][0], first[0])
    none, _ = pipeline.mix_views(faces, labels, seed, 0.0)
    np.testing.assert_array_equal(none.numpy(), faces.numpy())


# --- teacher, projection, loss -----------------------------------------------------------------


def test_relational_loss_compares_pairwise_cosines():
    teacher = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # Scaled or rotated students keep the teacher's pairwise geometry: zero loss.
    rotation = tf.constant([[0.6, -0.8], [0.8, 0.6]])
    for student in (teacher * 3.0, tf.matmul(teacher, rotation)):
        assert float(distill.relational_loss(student, teacher)) < 1e-10
    # Collapsing every face onto one direction: cosines 1 instead of (0, s, s) on 6 off-diagonal pairs.
    collapsed = tf.constant([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    s = 1.0 / np.sqrt(2.0)
    expected = (2 * 1.0 + 4 * (1.0 - s) ** 2) / 6.0
    np.testing.assert_allclose(float(distill.relational_loss(collapsed, teacher)), expected, rtol=1e-5)


def test_cosine_distillation_loss_values():
    t = tf.constant([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    s = tf.constant([[5.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
    np.testing.assert_allclose(distill.cosine_distillation_loss(s, t).numpy(), [0.0, 2.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("kind", ["keras", "tflite"])
def test_attach_teacher_embeds_the_same_view_with_any_batch(teachers, kind):
    teacher = distill.load_teacher(teachers[kind])
    assert teacher.embedding_size == TEACHER_SIZE
    faces = _faces(10)
    # 5 per batch: the fixed-batch-2 .tflite pads every batch.
    dataset = tf.data.Dataset.from_tensor_slices((faces, np.arange(10, dtype=np.int32))).batch(5)
    got = list(distill.attach_teacher(dataset, teacher).as_numpy_iterator())
    assert [g[2].shape for g in got] == [(5, TEACHER_SIZE)] * 2
    embeddings = np.concatenate([g[2] for g in got])
    assert np.isfinite(embeddings).all() and np.abs(embeddings).max() > 1e-3
    # Both files hold the same network (same seed): the padded fixed-batch run gives the same rows.
    reference = keras.saving.load_model(teachers["keras"]).predict(faces, verbose=0)
    np.testing.assert_allclose(embeddings, reference, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), faces)


def test_run_folder_teacher_is_its_best_else_final_keras(teachers, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "final.keras").write_bytes(teachers["keras"].read_bytes())
    assert distill.load_teacher(run).source == run / "final.keras"
    write_tiny_model(run / "best.keras", seed=9, embedding_size=8)
    teacher = distill.load_teacher(run)
    assert teacher.source == run / "best.keras" and teacher.embed(_faces(3)).shape == (3, 8)


def test_tflite_teacher_without_metadata_needs_normalization(teachers, tmp_path):
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(teachers["tflite"].read_bytes())
    with pytest.raises(ModelLoadError, match="input_mean"):
        distill.load_teacher(bare)
    teacher = distill.load_teacher(bare, input_mean=127.5, input_std=128.0)
    assert teacher.embed(_faces(1)).shape == (1, TEACHER_SIZE)


def test_distillation_loss_decreases_on_a_fixed_batch(tmp_path, data, teachers):
    tree, lfw = data
    config = _config(tmp_path, tree, lfw, loss="none", teacher=str(teachers["keras"]), optimizer="adam",
                     learning_rate="0.003", lr_boundaries="1000", weight_decay="0")
    strategy = tf.distribute.get_strategy()
    state = trainer.build_train_state(config, 0, strategy, teacher_size=TEACHER_SIZE)
    assert state.head is None and state.projection.kernel.shape == (STUDENT_SIZE, TEACHER_SIZE)
    faces = _faces(config.batch_size, seed=3)
    targets = distill.load_teacher(teachers["keras"]).embed(faces)
    small = tf.image.resize(faces, (32, 32))
    batch = (small, tf.zeros(config.batch_size, tf.int32), tf.constant(targets))
    iterator = iter(strategy.distribute_datasets_from_function(
        lambda _: tf.data.Dataset.from_tensors(batch).repeat()))
    losses = [float(state.train_step(iterator)["loss"]) for _ in range(30)]
    assert all(np.isfinite(losses)) and 0.0 <= losses[0] <= 2.0
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3]), losses


def test_configuration_errors(tmp_path, data, teachers):
    tree, lfw = data
    with pytest.raises(BadInputError, match="needs --teacher"):
        trainer.train(_config(tmp_path, tree, lfw, loss="none"), log=lambda line: None)
    with pytest.raises(BadInputError, match="need --loss=none"):
        _config(tmp_path, tree, lfw, unlabeled_dirs=str(tree))
    with pytest.raises(BadInputError, match="both --teacher_input_mean"):
        _config(tmp_path, tree, lfw, teacher=str(teachers["keras"]), teacher_input_mean="127.5")
    with pytest.raises(BadInputError, match="need --teacher"):
        _config(tmp_path, tree, lfw, relational_weight="1")
    with pytest.raises(BadInputError, match="mix_fraction must be in"):
        _config(tmp_path, tree, lfw, teacher=str(teachers["keras"]), mix_fraction="1.5")
    # Unlabeled faces of a validation-fold person break the unrestricted protocol too.
    with pytest.raises(BadInputError, match="validation-fold people"):
        train_data.gather_training_set(_config(tmp_path, tree, lfw, loss="none", teacher=str(teachers["keras"]),
                                            unlabeled_dirs=str(lfw / "images")))


# --- end to end --------------------------------------------------------------------------------


def _projection_kernel(checkpoint_path):
    reader = tf.train.load_checkpoint(str(checkpoint_path))
    names = [n for n in reader.get_variable_to_shape_map() if n.startswith("projection/") and "OPTIMIZER" not in n]
    assert len(names) == 1, names
    return reader.get_tensor(names[0])


def _assert_student_only(path):
    model = keras.saving.load_model(path)
    assert model.output_shape == (None, STUDENT_SIZE)
    assert distill.PROJECTION_NAME not in [layer.name for layer in model.layers]


@pytest.mark.slow
def test_distill_alone_on_unlabeled_faces_then_resume_restores_projection(tmp_path, data, teachers):
    tree, lfw = data
    # Unlabeled: a flat folder and a nested one, no identity structure needed.
    unlabeled = tmp_path / "unlabeled"
    write_identity_tree(unlabeled / "batch1", ["x", "y"], per_identity=5, seed=4)
    config = _config(tmp_path, "", lfw, train_data="", lfw_train="false", loss="none",
                     teacher=str(teachers["keras"]), unlabeled_dirs=str(unlabeled), augment="full",
                     optimizer="adam", max_steps="4", checkpoint_every="2")
    training = train_data.gather_training_set(config)
    assert len(training.paths) == 10 and set(training.labels.tolist()) == {-1}
    summary = trainer.train(config, log=lambda line: None)
    run = tmp_path / "run"
    assert summary["step"] == 4 and np.isfinite(summary["loss"]) and 0 <= summary["loss"] <= 2
    _assert_student_only(run / "final.keras")
    saved = _projection_kernel(run / "checkpoints" / "ckpt-4")
    assert saved.shape == (STUDENT_SIZE, TEACHER_SIZE)

    # The trainer's own checkpoint composition restores the projection ...
    state = trainer.build_train_state(config, 0, tf.distribute.get_strategy(), teacher_size=TEACHER_SIZE)
    assert not np.allclose(state.projection.kernel.numpy(), saved)
    state.checkpoint().restore(str(run / "checkpoints" / "ckpt-4")).assert_existing_objects_matched()
    np.testing.assert_array_equal(state.projection.kernel.numpy(), saved)
    # ... so does a warm start (init_from), with a fresh optimizer ...
    fresh = trainer.build_train_state(config, 0, tf.distribute.get_strategy(), teacher_size=TEACHER_SIZE)
    trainer.warm_start(fresh, run, lambda line: None)
    np.testing.assert_array_equal(fresh.projection.kernel.numpy(), saved)
    assert int(fresh.optimizer.iterations.numpy()) == 0
    # ... and a rerun with more steps resumes from it rather than restarting.
    resumed = trainer.train(resolve_config("smoke", {**_overrides(config), "max_steps": "6"}), log=lambda line: None)
    assert resumed["resumed_from"] == 4 and resumed["step"] == 6
    assert not np.allclose(_projection_kernel(run / "checkpoints" / "ckpt-6"), saved)


def _overrides(config):
    import dataclasses

    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "preset"}


@pytest.mark.slow
def test_cli_margin_loss_plus_tflite_teacher(tmp_path, data, teachers):
    tree, lfw = data
    run = tmp_path / "run"
    command = train_command(
        "--preset=smoke", f"--train_data={tree}", f"--lfw_dir={lfw}", f"--lfw_aligned={lfw / 'images'}",
        "--input_size=32", f"--embedding_size={STUDENT_SIZE}", "--max_steps=3", "--batch_size=5",
        f"--teacher={teachers['tflite']}", "--distill_weight=2", "--augment=strong", f"--run_dir={run}",
        "--relational_weight=5", "--mix_fraction=0.4",
        "--noprogress", "--eval_every=3",
    )
    env = dict(os.environ, MOBIFACE_WORK=str(tmp_path / "work"))
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"({TEACHER_SIZE}-d embedding)" in result.stdout and "at step 3" in result.stdout
    for name in ("best.keras", "final.keras"):
        _assert_student_only(run / name)
    reader = tf.train.load_checkpoint(str(run / "checkpoints" / "ckpt-3"))
    names = reader.get_variable_to_shape_map()
    assert any(n.startswith("head/") for n in names) and any(n.startswith("projection/") for n in names)
