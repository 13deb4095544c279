"""Keras face model -> `.tflite` at each precision, with its metadata JSON beside it and inside it."""

import contextlib
import io
import json
from pathlib import Path

import keras
import numpy as np

from mobiface_tf.export import litert, quantize
from mobiface_tf.errors import BadInputError, DataNotFoundError, ModelLoadError
from mobiface_tf.models.contract import ALIGNED_SHAPE, EMBEDDING_LAYER, NORMALIZE_LAYER, model_args
from mobiface_tf.quiet import native_stderr_silenced

PRECISIONS = ("float32", "float16", "dynamic_int8", "int8")
INT8_INPUT_DTYPES = ("uint8", "int8")
MIN_CALIBRATION_FACES = 200


def check_face_model(model, label):
    """Raise ModelLoadError unless `model` is one of our face embedding models.

    It must take one (N, 112, 112, 3) image input, give one (N, D) output, carry its pixel
    normalization (a layer "normalize") and have an "embedding" layer.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelLoadError(
            f"not a face embedding model: {len(model.inputs)} inputs and {len(model.outputs)} outputs, "
            "expected one image input and one embedding output", label)
    input_shape = tuple(model.inputs[0].shape)
    if len(input_shape) != 4 or input_shape[1:] != ALIGNED_SHAPE:
        raise ModelLoadError(
            f"not a face embedding model: input shape {list(input_shape)}, expected [batch, 112, 112, 3]",
            label)
    output_shape = tuple(model.outputs[0].shape)
    if len(output_shape) != 2:
        raise ModelLoadError(f"not a face embedding model: output shape {list(output_shape)}, "
                             "expected [batch, D]", label)
    names = _layer_names(model)
    if EMBEDDING_LAYER not in names:
        last = model.layers[-1]
        activation = getattr(getattr(last, "activation", None), "__name__", None)
        what = f"{output_shape[-1]}-way {activation} output" if activation else f"output {list(output_shape)}"
        raise ModelLoadError(f"not a face embedding model: no layer named {EMBEDDING_LAYER!r} ({what})", label)
    if NORMALIZE_LAYER not in names:
        raise ModelLoadError(
            f"model has no {NORMALIZE_LAYER!r} layer: exported models must carry their pixel normalization",
            label)


def load_face_model(path):
    """Load the Keras model of a run folder (`best.keras`, else `final.keras`) or a `.keras` file.

    Returns:
        (model, checkpoint path, run config dict or None).

    Raises:
        ModelLoadError: missing, unreadable, or not a face embedding model.
    """
    from mobiface_tf.embedding import load_keras_model

    loaded = load_keras_model(path, what="model to export")
    model, checkpoint, config = loaded.model, loaded.path, loaded.run_config
    check_face_model(model, checkpoint)
    return model, checkpoint, config


def static_batch_model(model, batch_size=1):
    """`model` behind an input with a fixed batch, so the converted graph has no SHAPE/PACK ops
    (a dynamic batch in front of Flatten/Reshape leaves those outside the delegate)."""
    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), batch_size=batch_size, name="image")
    return keras.Model(inputs, model(inputs, training=False), name=model.name)


def convert(model, precision, *, calibration_faces=None, int8_input="uint8", rewrite_prelu=True):
    """Convert a Keras face model to `.tflite` bytes at `precision` (batch 1, float32 output).

    Args:
        model: a face embedding model taking pixels 0..255.
        precision: "float32", "float16" (weights), "dynamic_int8" (weights, float activations)
            or "int8" (full integer, calibrated on `calibration_faces`).
        calibration_faces: uint8/float (N, 112, 112, 3) real aligned faces; "int8" needs them.
        int8_input: input tensor type of the "int8" model, "uint8" or "int8".
        rewrite_prelu: for "int8", replace PReLU by `quantize.PReLUAsLeakyReLU` so XNNPACK runs
            the whole graph (see `export.quantize`).
    """
    import tensorflow as tf

    if precision not in PRECISIONS:
        raise BadInputError(f"precision must be one of {PRECISIONS}, received {precision!r}")
    if int8_input not in INT8_INPUT_DTYPES:
        raise BadInputError(f"int8 input must be one of {INT8_INPUT_DTYPES}, received {int8_input!r}")
    if precision == "int8":
        if calibration_faces is None or len(calibration_faces) == 0:
            raise DataNotFoundError("full-integer int8 needs calibration faces; none were given")
        if rewrite_prelu:
            model = quantize.rewrite_prelu(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(static_batch_model(model))
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # Per-tensor dense weights keep FULLY_CONNECTED at version <= 11: per-channel ones need
        # version 12, which no LiteRT runtime on Maven Central (the app's 2.14.0) can load.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = quantize.representative_dataset(calibration_faces)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8 if int8_input == "uint8" else tf.int8
        # Embeddings leave the model dequantized, so every consumer reads float32.
        converter.inference_output_type = tf.float32
    # The converter saves a temporary SavedModel and lists its signatures on stdout, and its C++
    # passes log to fd 2; a failure still raises with that log attached as a note.
    with contextlib.redirect_stdout(io.StringIO()), native_stderr_silenced():
        return converter.convert()


def model_metadata(tflite_bytes, *, name, precision, embedding_size, threshold=None, extra=None):
    """The `mobiface-metadata/1` dict for a converted model.

    The input's dtype and quantization come from the `.tflite` itself. Integer inputs carry
    `input.quantization = {"scale", "zero_point"}`: a feeder sends round(pixel / scale +
    zero_point); with uint8 input calibrated on 0..255 faces that is (1, 0), the raw pixels.
    The normalization (x - 127.5) / 128 stays inside the model at every precision.
    """
    from mobiface_tf.embedding import default_metadata

    interpreter = litert.make_interpreter(tflite_bytes)
    detail = interpreter.get_input_details()[0]
    dtype = np.dtype(detail["dtype"]).name
    metadata = default_metadata(name, embedding_size, precision=precision, input_dtype=dtype,
                                inside_model=True)
    if dtype != "float32":
        scale, zero_point = detail["quantization"]
        metadata["input"]["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
        metadata["input"]["raw_pixels"] = bool(scale == 1.0 and (dtype, zero_point) in (("uint8", 0),))
    else:
        metadata["input"]["raw_pixels"] = True
    metadata["threshold"] = threshold
    metadata.update(extra or {})
    return metadata


def export_all(model, out_dir, *, name, precisions=PRECISIONS, calibration_faces=None,
               int8_input="uint8", rewrite_prelu=True, threshold=None, extra=None, log=print):
    """Convert `model` at each precision into `out_dir/<name>_<precision>.tflite` + `.json`.

    The metadata is written beside each file and embedded in its flatbuffer `metadata` field
    (entry `litert.METADATA_NAME`); it carries the model's builder arguments (`model_args`) and
    whether the graph holds the flip head. Returns {precision: path of the .tflite}.
    """
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or not precisions:
        raise BadInputError(f"precisions must be a non-empty subset of {PRECISIONS}, received {list(precisions)}")
    if "int8" in precisions and (calibration_faces is None or len(calibration_faces) < MIN_CALIBRATION_FACES):
        found = 0 if calibration_faces is None else len(calibration_faces)
        raise DataNotFoundError(f"int8 needs at least {MIN_CALIBRATION_FACES} calibration faces, received {found}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    embedding_size = int(model.outputs[0].shape[-1])
    extra = dict(extra or {})
    architecture = model_args(model)
    extra.setdefault("model_args", architecture)
    extra.setdefault("flip_head", architecture["model"] == "flipped_mobiface")
    paths = {}
    for precision in precisions:
        tflite = convert(model, precision, calibration_faces=calibration_faces, int8_input=int8_input,
                         rewrite_prelu=rewrite_prelu)
        info = dict(extra)
        if precision == "int8":
            info["prelu_rewritten"] = bool(rewrite_prelu and quantize.count_prelu(model))
        metadata = model_metadata(tflite, name=name, precision=precision, embedding_size=embedding_size,
                                  threshold=threshold, extra=info)
        path = out_dir / f"{name}_{precision}.tflite"
        path.write_bytes(litert.embed_metadata(tflite, metadata))
        path.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n")
        paths[precision] = path
        if log:
            log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return paths


def _layer_names(model):
    names = set()
    for layer in model.layers:
        names.add(layer.name)
        if isinstance(layer, keras.Model):
            names |= _layer_names(layer)
    return names
