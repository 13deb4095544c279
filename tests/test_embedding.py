"""The model loader: .keras, SavedModel, run folder and .tflite give the same embeddings."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobiface_tf.embedding import EmbeddingModel, load_embedding_model, run_checkpoint
from mobiface_tf.errors import BadInputError, ModelLoadError


def _tiny(normalize_inside=True, embedding_size=8, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((112, 112, 3))
    x = inputs
    if normalize_inside:
        x = keras.layers.Rescaling(1 / 128.0, offset=-127.5 / 128.0, name="normalize")(x)
    x = keras.layers.Conv2D(4, 8, strides=8, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(embedding_size, name="embedding")(x)
    return keras.Model(inputs, outputs, name="tiny")


def _faces(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 112, 112, 3)).astype(np.uint8)


def _write_metadata(path, inside, dtype="float32", embedding_size=8):
    meta = {"format": "mobiface-metadata/1", "model": "tiny", "precision": "float32",
            "input": {"height": 112, "width": 112, "channels": 3, "layout": "NHWC",
                      "color": "RGB", "dtype": dtype, "range": [0, 255],
                      "normalization": {"mean": 127.5, "std": 128.0, "inside_model": inside}},
            "embedding_size": embedding_size, "threshold": None}
    path.write_text(json.dumps(meta))


def _reference(model, faces, normalize=False):
    x = faces.astype(np.float32)
    if normalize:
        x = (x - 127.5) / 128.0
    return model.predict_on_batch(x)


def test_keras_file_and_from_keras_match_the_model(tmp_path):
    model = _tiny()
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = load_embedding_model(path, batch_size=4)
    faces = _faces(10)
    got = loaded.embed(faces)
    assert got.shape == (10, 8) and got.dtype == np.float32
    np.testing.assert_allclose(got, _reference(model, faces), rtol=1e-4, atol=1e-5)
    assert loaded.embedding_size == 8 and loaded.name == "tiny"
    assert loaded.metadata["input"]["normalization"]["inside_model"] is True
    assert loaded.embed(faces[:0]).shape == (0, 8)
    wrapped = EmbeddingModel.from_keras(model)
    np.testing.assert_allclose(wrapped.embed(faces), got, rtol=1e-5, atol=1e-6)
    assert wrapped.fingerprint is None and len(loaded.fingerprint) == 16


def test_run_folder_picks_best_then_final(tmp_path):
    # The layout mobiface_tf.train.trainer writes: run_dir/{config.json,best.keras,final.keras}.
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": "tiny"}))
    with pytest.raises(ModelLoadError, match="no best.keras or final.keras"):
        load_embedding_model(run)
    _tiny(seed=3).save(run / "final.keras")
    assert run_checkpoint(run).name == "final.keras"
    best = _tiny(seed=4)
    best.save(run / "best.keras")
    assert run_checkpoint(run).name == "best.keras"
    loaded = load_embedding_model(run)
    faces = _faces(3)
    np.testing.assert_allclose(loaded.embed(faces), _reference(best, faces), rtol=1e-4,
                               atol=1e-5)
    assert loaded.metadata["run_config"] == {"model": "tiny"} and loaded.name == "run"


def test_saved_model_folder_only_when_trusted(tmp_path):
    model = _tiny()
    model.export(str(tmp_path / "sm"), verbose=False)
    with pytest.raises(ModelLoadError, match="SavedModel, which is not loaded.*--trust_saved_model"):
        load_embedding_model(tmp_path / "sm")
    loaded = load_embedding_model(tmp_path / "sm", trust_saved_model=True)
    faces = _faces(5)
    np.testing.assert_allclose(loaded.embed(faces), _reference(model, faces), rtol=1e-4,
                               atol=1e-5)


def test_tflite_round_trip_with_metadata_and_fixed_batch(tmp_path):
    # Normalization outside the network: the loader must apply it from the metadata JSON.
    model = _tiny(normalize_inside=False)
    dynamic = tmp_path / "dyn.tflite"
    dynamic.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    _write_metadata(tmp_path / "dyn.tflite.json", inside=False)
    faces = _faces(7)
    expected = _reference(model, faces, normalize=True)
    loaded = load_embedding_model(dynamic, num_threads=1, batch_size=4)
    np.testing.assert_allclose(loaded.embed(faces), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(loaded.embed(faces[:1]), expected[:1], rtol=1e-4, atol=1e-5)

    # A fixed batch of 2, like the public MobileFaceNet .tflite: N=7 needs padding.
    inputs = keras.Input((112, 112, 3), batch_size=2)
    fixed_model = keras.Model(inputs, model(inputs))
    fixed = tmp_path / "fixed2.tflite"
    fixed.write_bytes(tf.lite.TFLiteConverter.from_keras_model(fixed_model).convert())
    _write_metadata(tmp_path / "fixed2.json", inside=False)  # the <stem>.json spelling
    loaded = load_embedding_model(fixed)
    assert loaded.interpreter.get_input_details()[0]["shape"][0] == 2
    np.testing.assert_allclose(loaded.embed(faces), expected, rtol=1e-4, atol=1e-5)
    # Flags override the metadata: a wrong normalization gives different embeddings.
    raw = load_embedding_model(fixed, normalization_inside=True)
    assert not np.allclose(raw.embed(faces[:2]), expected[:2], atol=1e-3)


def test_int8_tflite_quantizes_input_and_dequantizes_output(tmp_path):
    model = _tiny(normalize_inside=True)
    faces = _faces(16, seed=5)

    def representative():
        for face in faces:
            yield [face[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path = tmp_path / "int8.tflite"
    path.write_bytes(converter.convert())
    _write_metadata(tmp_path / "int8.tflite.json", inside=True, dtype="int8")
    loaded = load_embedding_model(path)
    got, expected = loaded.embed(faces), _reference(model, faces)
    cosine = np.sum(got * expected, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(
        expected, axis=1)
    assert cosine.min() > 0.95


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model"):
        load_embedding_model(tmp_path / "missing.keras")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer")
    with pytest.raises(ModelLoadError, match=r"junk\.tflite: cannot read TFLite"):
        load_embedding_model(junk)
    (tmp_path / "junk.keras").write_bytes(b"zip?")
    with pytest.raises(ModelLoadError, match=r"junk\.keras: not a Keras model archive: a \.keras file is a zip"):
        load_embedding_model(tmp_path / "junk.keras")
    # Not an embedding model: a 4-D feature map out, and a wrong input size.
    inputs = keras.Input((112, 112, 3))
    keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs)).save(tmp_path / "fmap.keras")
    with pytest.raises(ModelLoadError, match="not a face embedding model: output shape"):
        load_embedding_model(tmp_path / "fmap.keras")
    inputs = keras.Input((64, 64, 3))
    small = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(inputs)))
    small.save(tmp_path / "small.keras")
    with pytest.raises(ModelLoadError, match="input shape"):
        load_embedding_model(tmp_path / "small.keras")
    # A .tflite with no metadata and no normalization flags is refused, not guessed.
    plain = tmp_path / "plain.tflite"
    plain.write_bytes(tf.lite.TFLiteConverter.from_keras_model(_tiny()).convert())
    with pytest.raises(ModelLoadError, match="input_mean and input_std"):
        load_embedding_model(plain)
    with pytest.raises(ModelLoadError, match="both input_mean and input_std"):
        load_embedding_model(plain, input_mean=127.5)
    with pytest.raises(ModelLoadError, match="unknown model format"):
        load_embedding_model(junk.with_suffix(".onnx").write_bytes(b"") or
                             junk.with_suffix(".onnx"))
    loaded = load_embedding_model(plain, normalization_inside=True)
    with pytest.raises(BadInputError, match=r"received \(2, 64, 64, 3\)"):
        loaded.embed(np.zeros((2, 64, 64, 3), np.uint8))
