"""Tests of export/: conversion, the PReLU rewrite, partition counting, metadata, parity, CLI errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from mobiface_tf.export import convert, litert, parity, quantize
from mobiface_tf.errors import DataNotFoundError, ModelLoadError

ROOT = Path(__file__).resolve().parents[1]


def tiny_face_model(activation="prelu", seed=0, embedding_size=16):
    """A 112x112 face model with the contract's layer names, small enough to convert in a second.

    BatchNorm statistics are calibrated on noise images (a random net in inference mode gives
    near-zero embeddings) and PReLU slopes spread per channel, as in a trained model.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((112, 112, 3), name="image")
    x = keras.layers.Rescaling(1 / 128.0, offset=-127.5 / 128.0, name="normalize")(inputs)
    for i, filters in enumerate((8, 16)):
        x = keras.layers.Conv2D(filters, 3, strides=4, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"conv{i}_bn")(x)
        if activation == "prelu":
            x = keras.layers.PReLU(shared_axes=[1, 2], name=f"conv{i}_act")(x)
        else:
            x = keras.layers.ReLU(name=f"conv{i}_act")(x)
        x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = keras.layers.BatchNormalization(name=f"dw{i}_bn")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(embedding_size, use_bias=False, name="embedding_dense")(x)
    outputs = keras.layers.BatchNormalization(name="embedding")(x)
    model = keras.Model(inputs, outputs, name=f"tiny_{activation}")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.PReLU):
            layer.set_weights([rng.uniform(-0.1, 0.6, layer.get_weights()[0].shape).astype(np.float32)])
    calibrate_batch_norm(model, noise_faces(32, seed))
    return model


def calibrate_batch_norm(model, faces):
    """Set every BatchNorm's moving statistics to those of one training-mode pass over `faces`."""
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(np.asarray(faces, np.float32), training=True)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def noise_faces(n, seed=0):
    """Smooth random images (uint8, 112x112): blocky noise, so convolutions see structure."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 14, 14, 3)).astype(np.uint8)
    faces = small.repeat(8, axis=1).repeat(8, axis=2)
    faces[:, :2] = 0  # a black border like an aligned crop's, so calibration sees 0 and 255
    faces[:, -2:] = 255
    return faces


@pytest.fixture(scope="module")
def prelu_model():
    return tiny_face_model("prelu")


@pytest.fixture(scope="module")
def calibration():
    return noise_faces(convert.MIN_CALIBRATION_FACES, seed=1)


def cosines(a, b):
    return parity.cosine_parity(a, b)


def test_prelu_rewrite_is_equal_in_float(prelu_model):
    rewritten = quantize.rewrite_prelu(prelu_model)
    assert quantize.count_prelu(prelu_model) == 2
    assert quantize.count_prelu(rewritten) == 0
    faces = noise_faces(8, seed=3).astype(np.float32)
    expected = prelu_model.predict(faces, verbose=0)
    got = rewritten.predict(faces, verbose=0)
    assert np.abs(expected).max() > 1e-2  # BN calibrated: embeddings are not vanishing
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_prelu_rewrite_covers_negative_and_large_slopes():
    alpha = np.array([-0.5, 0.0, 0.25, 1.0, 2.0], np.float32)
    layer = quantize.PReLUAsLeakyReLU(alpha)
    x = np.linspace(-3, 3, 7, dtype=np.float32)[:, None].repeat(5, axis=1)
    expected = np.where(x > 0, x, alpha * x)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-6)


def test_float32_parity_and_metadata_round_trip(prelu_model, tmp_path):
    from mobiface_tf.embedding import load_embedding_model

    threshold = {"cosine": 0.42, "far": 1e-3, "source": "test"}
    paths = convert.export_all(prelu_model, tmp_path, name="tiny", precisions=["float32"],
                               threshold=threshold, log=None)
    path = paths["float32"]
    written = json.loads(path.with_suffix(".json").read_text())
    assert written["format"] == "mobiface-metadata/1"
    assert written["precision"] == "float32" and written["embedding_size"] == 16
    assert written["input"]["dtype"] == "float32"
    assert written["input"]["normalization"]["inside_model"] is True
    assert written["threshold"] == threshold
    assert litert.read_embedded_metadata(path) == written
    loaded = load_embedding_model(path)
    assert loaded.metadata == written
    faces = noise_faces(40, seed=5)
    result = cosines(prelu_model.predict(faces.astype(np.float32), verbose=0), loaded.embed(faces))
    assert result["mean"] >= parity.COSINE_TARGETS["float32"]
    assert result["min"] >= 0.999


def test_dynamic_int8_loads_on_the_apps_litert(prelu_model):
    """Dense weights quantized per tensor: FULLY_CONNECTED stays at version <= 11, which the app's
    LiteRT 2.14.0 runs (per-channel dense weights need version 12 and fail to register there)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tflite = convert.convert(prelu_model, "dynamic_int8")
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    versions = {code.version for code in model.operatorCodes
                if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.FULLY_CONNECTED}
    assert versions and max(versions) <= 11
    assert litert.delegation(litert.make_interpreter(tflite)).partitions >= 1


def test_int8_rewritten_is_one_partition_with_int8_tensors(prelu_model, calibration):
    tflite = convert.convert(prelu_model, "int8", calibration_faces=calibration)
    interpreter = litert.make_interpreter(tflite)
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    assert interpreter.get_output_details()[0]["dtype"] == np.float32
    dtypes = {np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    assert "int8" in dtypes
    delegation = litert.delegation(interpreter)
    assert delegation.partitions == 1
    # The uint8 -> int8 input conversion is the only op outside XNNPACK.
    assert set(delegation.undelegated_ops) <= {"QUANTIZE"}


def test_int8_with_one_shared_slope_is_one_partition(calibration):
    model = tiny_face_model("prelu")
    for layer in model.layers:
        if isinstance(layer, keras.layers.PReLU):
            layer.set_weights([np.full(layer.get_weights()[0].shape, 0.25, np.float32)])
    tflite = convert.convert(model, "int8", calibration_faces=calibration, int8_input="int8")
    assert litert.delegation(litert.make_interpreter(tflite)).fully_delegated


def test_int8_input_is_fully_delegated(prelu_model, calibration):
    tflite = convert.convert(prelu_model, "int8", calibration_faces=calibration, int8_input="int8")
    interpreter = litert.make_interpreter(tflite)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert litert.delegation(interpreter).fully_delegated


def test_partition_counter_sees_native_int8_prelu_split(prelu_model, calibration):
    native = convert.convert(prelu_model, "int8", calibration_faces=calibration, rewrite_prelu=False)
    delegation = litert.delegation(litert.make_interpreter(native))
    assert delegation.undelegated_ops.count("PRELU") == 2
    assert delegation.partitions >= 2
    relu = convert.convert(tiny_face_model("relu"), "int8", calibration_faces=calibration, int8_input="int8")
    assert litert.delegation(litert.make_interpreter(relu)).fully_delegated


def test_int8_metadata_states_how_to_feed(prelu_model, calibration, tmp_path):
    from mobiface_tf.embedding import load_embedding_model

    paths = convert.export_all(prelu_model, tmp_path, name="tiny", precisions=["int8"],
                               calibration_faces=calibration, log=None)
    metadata = json.loads(paths["int8"].with_suffix(".json").read_text())
    assert metadata["input"]["dtype"] == "uint8"
    assert metadata["input"]["quantization"] == {"scale": 1.0, "zero_point": 0}
    assert metadata["input"]["raw_pixels"] is True
    assert metadata["prelu_rewritten"] is True
    loaded = load_embedding_model(paths["int8"])
    faces = noise_faces(16, seed=7)
    result = cosines(prelu_model.predict(faces.astype(np.float32), verbose=0), loaded.embed(faces))
    assert result["mean"] > 0.9


def test_export_all_refuses_int8_without_enough_calibration(prelu_model, tmp_path):
    with pytest.raises(DataNotFoundError, match="at least 200"):
        convert.export_all(prelu_model, tmp_path, name="tiny", precisions=["int8"],
                           calibration_faces=noise_faces(10), log=None)


def test_check_face_model_rejects_a_classifier():
    inputs = keras.Input((112, 112, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    classifier = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="logits")(x))
    with pytest.raises(ModelLoadError, match="10-way softmax"):
        convert.check_face_model(classifier, "classifier.keras")


def test_check_targets_flags_an_lfw_drop():
    cosine = {"mean": 0.99, "min": 0.95}
    keras_lfw, tflite_lfw = {"accuracy": 0.95}, {"accuracy": 0.94}
    result = parity.check_targets("int8", cosine, keras_lfw, tflite_lfw)
    assert result["cosine_ok"] and result["lfw_ok"] is False and not result["ok"]
    assert result["lfw_drop_points"] == pytest.approx(1.0)
    assert not parity.check_targets("float32", cosine)["ok"]


# Command-line errors: one line on stderr, the error's exit code.

def run_export_cli(*args, tmp_path):
    env = dict(os.environ, MOBIFACE_WORK=str(tmp_path / "work"), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "mobiface_tf.export.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(result, exit_code, text):
    assert result.returncode == exit_code, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and text in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_cli_rejects_a_classifier_checkpoint(tmp_path):
    inputs = keras.Input((112, 112, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    path = tmp_path / "classifier.keras"
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x)).save(path)
    result = run_export_cli(f"--run_dir={path}", f"--out_dir={tmp_path / 'out'}", tmp_path=tmp_path)
    assert_one_line_error(result, ModelLoadError.exit_code, "not a face embedding model")


def test_cli_rejects_a_wrong_input_shape(tmp_path):
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Rescaling(1 / 128.0, name="normalize")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path / "small.keras"
    keras.Model(inputs, keras.layers.Dense(8, name="embedding")(x)).save(path)
    result = run_export_cli(f"--run_dir={path}", tmp_path=tmp_path)
    assert_one_line_error(result, ModelLoadError.exit_code, "input shape [None, 64, 64, 3]")


def test_cli_reports_missing_calibration_data(prelu_model, tmp_path):
    path = tmp_path / "tiny.keras"
    prelu_model.save(path)
    result = run_export_cli(f"--run_dir={path}", f"--calibration_dir={tmp_path / 'nowhere'}",
                            f"--out_dir={tmp_path / 'out'}", tmp_path=tmp_path)
    assert_one_line_error(result, DataNotFoundError.exit_code, "aligned training faces not found")


def test_cli_says_to_train_first_without_the_default_run(tmp_path):
    result = run_export_cli(tmp_path=tmp_path)
    assert_one_line_error(result, ModelLoadError.exit_code, "run `make train` first")


@pytest.mark.data
@pytest.mark.slow
def test_export_run_on_real_faces_meets_float_targets(prelu_model, lfw_dir, tmp_path):
    """The whole job on a tiny model: four files, parity.json, float targets met on LFW faces."""
    from mobiface_tf.export.pipeline import export_run
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.eval.lfw import LfwBenchmark

    # An aligned tree of 240 LFW crops (10 folders) stands in for the training faces.
    faces = LfwBenchmark(lfw_dir, folds=[0]).faces[:240]
    tree = tmp_path / "aligned"
    for i, face in enumerate(faces):
        folder = tree / f"id{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        keras.utils.save_img(folder / f"{i:04d}.jpg", face, scale=False)
    assert load_rgb(next(tree.glob("*/*.jpg"))).shape == (112, 112, 3)
    model_path = tmp_path / "tiny.keras"
    prelu_model.save(model_path)
    report = export_run(model_path, tmp_path / "out", calibration_dir=tree, num_calibration=200,
                        lfw_dir=lfw_dir, log=lambda line: None)
    assert set(report["exports"]) == set(convert.PRECISIONS)
    assert json.loads((tmp_path / "out" / "parity.json").read_text())["model"] == "tiny_prelu"
    assert report["threshold"]["far"] == 1e-3
    assert report["exports"]["float32"]["cosine"]["mean"] >= 0.9999
    assert report["exports"]["float16"]["cosine"]["mean"] >= 0.999
    assert report["exports"]["int8"]["delegate_partitions"] == 1


def _strings(value):
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_provenance_names_the_run_without_absolute_paths(tmp_path):
    from mobiface_tf.export.pipeline import provenance

    run = tmp_path / "runs" / "distill2"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 500}\n{"step": 7000}\n')
    config = {"preset": "distill", "model": "mobiface", "loss": "none", "run_dir": str(run),
              "teacher": str(tmp_path / "t" / "MobileFaceNet.tflite"), "train_data": [str(tmp_path / "celeba")],
              "unlabeled_dirs": [], "lfw_train": True, "val_folds": [10]}
    source = provenance(run / "final.keras", config)
    assert source["run"] == "distill2" and source["file"] == "final.keras" and source["step"] == 7000
    assert source["teacher"] == "MobileFaceNet.tflite" and source["data"]["train_data"] == ["celeba"]
    assert len(source["config_sha256"]) == 64
    assert not [s for s in _strings(source) if s.startswith("/") or str(tmp_path) in s]
    config["train_dirs"] = config.pop("train_data")  # a run started before the field's rename
    assert provenance(run / "final.keras", config)["data"]["train_data"] == ["celeba"]
    bare = provenance(tmp_path / "model.keras", None)
    assert bare["file"] == "model.keras" and bare["run"] is None and bare["data"] is None


def test_bundled_metadata_is_portable():
    bundled = Path(__file__).resolve().parents[1] / "mobiface_tf" / "assets" / "mobiface.tflite"
    metadata = json.loads(bundled.with_suffix(".tflite.json").read_text())
    assert litert.read_embedded_metadata(bundled) == metadata
    assert metadata["source"]["run"] and not [s for s in _strings(metadata) if s.startswith("/")]
