"""Which model files are trusted: `.tflite` and `.keras` (safe mode) only; a SavedModel needs an opt-in."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobiface_tf.embedding import load_embedding_model, load_keras_model
from mobiface_tf.errors import ModelLoadError

_ENTRY = "from mobiface_tf.cli.mobiface import run; run()"


def _evil_saved_model(folder, marker):
    """A SavedModel shaped like a face embedding model whose graph writes `marker` when called."""

    class Evil(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 112, 112, 3], tf.float32)])
        def __call__(self, images):
            tf.io.write_file(str(marker), "the model ran its own file-writing op")
            return tf.reduce_mean(images, axis=[1, 2])

    module = Evil()
    tf.saved_model.save(module, str(folder), signatures=module.__call__)
    return folder


def test_a_saved_model_is_refused_without_opt_in_and_runs_its_ops_with_it(tmp_path):
    marker = tmp_path / "written-by-the-model"
    folder = _evil_saved_model(tmp_path / "evil_sm", marker)
    with pytest.raises(ModelLoadError, match="is a TensorFlow SavedModel, which is not loaded"):
        load_embedding_model(folder)
    assert not marker.exists()
    # What the opt-in means: the folder's own ops run (here a harmless file write).
    trusted = load_embedding_model(folder, trust_saved_model=True)
    trusted.embed(np.zeros((1, 112, 112, 3), np.uint8))
    assert marker.exists()


@pytest.mark.slow
def test_mobiface_verify_refuses_a_saved_model_in_one_line(tmp_path):
    marker = tmp_path / "written-by-the-model"
    folder = _evil_saved_model(tmp_path / "evil_sm", marker)
    photo = tmp_path / "photo.png"
    keras.utils.save_img(photo, np.zeros((112, 112, 3), np.uint8))
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-c", _ENTRY, "verify", photo, photo, "--aligned", "--model", folder,
                             "--threshold", "0.5"], capture_output=True, text=True, timeout=300, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == ModelLoadError.exit_code, result.stderr
    assert len(lines) == 1 and "SavedModel" in lines[0] and "--trust_saved_model" in lines[0]
    assert not marker.exists()
    help_text = subprocess.run([sys.executable, "-c", _ENTRY, "--helpfull"], capture_output=True, text=True,
                               timeout=300).stdout
    assert "--[no]trust_saved_model" in help_text and "is a program" in " ".join(help_text.split())


def _archive(path, config, weights=None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config if isinstance(config, str) else json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": keras.__version__}))
        if weights is not None:
            archive.writestr("model.weights.h5", weights)
    return path


def test_keras_files_load_in_safe_mode_with_messages_that_say_what_is_wrong(tmp_path):
    marker = tmp_path / "code-ran"
    target = str(marker)
    inputs = keras.Input((112, 112, 3))
    outputs = keras.layers.Lambda(lambda x: (open(target, "w").close(), x)[1])(inputs)
    keras.Model(inputs, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(outputs))).save(
        tmp_path / "lambda.keras")
    marker.unlink()  # building the model here ran the lambda once; loading must not
    cases = {
        "lambda.keras": "Lambda layer with Python code, which Keras safe mode never runs",
        "text.keras": "not a Keras model archive: a .keras file is a zip archive",
        "cut.keras": "not a Keras model archive",
        "empty_zip.keras": "the zip has no config.json",
        "bad_json.keras": "config.json inside the .keras archive is not JSON",
        "list_json.keras": "is not a model configuration",
        "os_system.keras": "neither Keras' nor one of this project's layers",
    }
    (tmp_path / "text.keras").write_text("hello")
    (tmp_path / "cut.keras").write_bytes((tmp_path / "lambda.keras").read_bytes()[:300])
    with zipfile.ZipFile(tmp_path / "empty_zip.keras", "w") as archive:
        archive.writestr("weights", b"")
    _archive(tmp_path / "bad_json.keras", "{not json")
    _archive(tmp_path / "list_json.keras", "[1, 2]")
    # A configuration naming a callable outside Keras: never imported, never called.
    _archive(tmp_path / "os_system.keras", {"module": "os", "class_name": "system",
                                            "config": {"command": f"touch {marker}"}, "registered_name": None})
    for name, message in cases.items():
        with pytest.raises(ModelLoadError) as caught:
            load_embedding_model(tmp_path / name)
        assert message in str(caught.value) and name in str(caught.value), (name, str(caught.value))
        assert "\n" not in str(caught.value)
    assert not marker.exists()


def test_a_keras_archive_that_would_expand_without_bound_is_not_opened(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\0" * (64 << 20))  # 64 MiB of zeros, ~64 KB stored
    with pytest.raises(ModelLoadError, match="declare .* bytes, more than"):
        load_keras_model(path)


def test_one_loader_for_run_folders_and_keras_files(tmp_path):
    from helpers import write_tiny_model

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    write_tiny_model(run / "final.keras")
    (run / "config.json").write_text(json.dumps({"model": "tiny"}))
    loaded = load_keras_model(run)
    assert loaded.path == run / "final.keras" and loaded.run_dir == run and loaded.run_config == {"model": "tiny"}
    assert load_keras_model(run / "final.keras").run_config is None
    (tmp_path / "legacy.h5").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="expected a .keras file or a training run folder"):
        load_keras_model(tmp_path / "legacy.h5")
