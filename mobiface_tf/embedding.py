"""Any face embedding model behind one interface: `.keras`, run folder, `.tflite` (or a trusted SavedModel).

`load_embedding_model(path)` returns an `EmbeddingModel` whose `.embed(faces)` maps aligned
faces (N, 112, 112, 3), uint8 or float32 in 0..255, to float32 embeddings (N, D), whatever the
model's file format, batch constraints, input quantization or pixel normalization.

Pixel normalization: our own models carry (x - 127.5) / 128 inside (a layer named
"normalize"), so they are fed raw pixels. A `.tflite` states its normalization in the metadata
JSON written next to it (`<file>.tflite.json`, else `<stem>.json`); third-party models without
one need the overrides `input_mean` / `input_std` (or `normalization_inside=True`).

Run folders: a folder holding `config.json` and `checkpoints/`; the model loaded is its
`best.keras` if present, else its `final.keras` (`run_checkpoint`).

Trust: a `.tflite` is data (a flatbuffer LiteRT verifies and runs with its own kernels) and a
`.keras` file is loaded in Keras safe mode (no Python code from the file runs: Lambda layers are
refused, only Keras' and this project's registered classes are built). A SavedModel is a
program (its graph may read and write files when loaded or called), so it is refused unless the
caller passes `trust_saved_model=True`. `load_keras_model` is the one loader of "a `.keras` file
or a run folder" for every caller (inference, evaluation, warm start, the flip stage, export).
"""

import dataclasses
import hashlib
import json
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mobiface_tf.errors import BadInputError, ModelLoadError
from mobiface_tf.quiet import native_stderr_silenced

ALIGNED_SIZE = 112
# A 112x96 model (the SphereFace-style crop) sees the centre 96 columns of a 112x112 crop made
# with the 112x112 template: that template is the 96x112 one shifted right by 8 pixels.
_SUPPORTED_INPUT_HW = {(112, 112), (112, 96)}
DEFAULT_BATCH_SIZE = 64
METADATA_FORMAT = "mobiface-metadata/1"
# A .keras archive larger than this once expanded is refused before Keras reads it (MobileNetV1
# with the fc head, the largest model here, is ~120 MB).
MAX_KERAS_BYTES = 4 << 30
# A model's metadata JSON is a few hundred bytes; anything near this is not one.
_MAX_METADATA_BYTES = 1 << 20
# The most a stored .keras member may expand (Keras stores its members uncompressed).
_MAX_EXPANSION = 64
SAVED_MODEL_REFUSED = (
    "is a TensorFlow SavedModel, which is not loaded: a SavedModel is a program whose TensorFlow "
    "ops (file reads and writes included) run when it is loaded and called. Convert it to .keras "
    "or .tflite, or, for a SavedModel you made yourself, pass --trust_saved_model "
    "(trust_saved_model=True)"
)


def default_metadata(name, embedding_size, *, mean=127.5, std=128.0, inside_model=True,
                     input_dtype="float32", precision="float32", height=112, width=112):
    """A metadata dict in the `mobiface-metadata/1` layout for a model described by its args."""
    return {
        "format": METADATA_FORMAT,
        "model": name,
        "precision": precision,
        "input": {
            "height": height, "width": width, "channels": 3, "layout": "NHWC", "color": "RGB",
            "dtype": input_dtype, "range": [0, 255],
            "normalization": {"mean": float(mean), "std": float(std),
                              "inside_model": bool(inside_model)},
        },
        "embedding_size": int(embedding_size),
        "threshold": None,
    }


class EmbeddingModel:
    """A face embedding model: aligned faces in, float32 embeddings (not L2-normalized) out.

    Build one with `load_embedding_model(path)` or `EmbeddingModel.from_keras(model)`.

    Attributes:
        name: a short label (file stem or Keras model name).
        embedding_size: D, the length of each embedding.
        metadata: the `mobiface-metadata/1` dict (from the file's JSON, or made up from the model).
        source: the path it was loaded from, or None.
        input_hw: (height, width) the network takes.
    """

    def __init__(self, forward, *, name, embedding_size, metadata, input_hw=(112, 112),
                 batch_size=DEFAULT_BATCH_SIZE, source=None, normalization=None, pad_to=None):
        self._forward = forward
        self.name = name
        self.embedding_size = int(embedding_size)
        self.metadata = metadata
        self.input_hw = tuple(input_hw)
        self.batch_size = int(batch_size)
        self.source = None if source is None else Path(source)
        # (mean, std) applied outside the network, or None when the network normalizes itself.
        self._normalization = normalization
        self._pad_to = pad_to
        self._fingerprint = None

    @classmethod
    def from_keras(cls, model, *, name=None, batch_size=DEFAULT_BATCH_SIZE, input_mean=None,
                   input_std=None, normalization_inside=None, source=None):
        """Wrap an in-memory Keras embedding model (one image input, one (N, D) output)."""
        import tensorflow as tf

        model = _embedding_submodel(model, source or getattr(model, "name", "model"))
        height, width = _check_input_shape(tuple(model.inputs[0].shape), source or model.name)
        embedding_size = int(model.outputs[0].shape[-1])
        normalization = _resolve_normalization(None, input_mean, input_std, normalization_inside,
                                               source or model.name, default_inside=True)
        run = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

        def forward(batch):
            return np.asarray(run(tf.convert_to_tensor(batch)), dtype=np.float32)

        label = name or model.name
        metadata = default_metadata(label, embedding_size, height=height, width=width,
                                    **_normalization_fields(normalization))
        return cls(forward, name=label, embedding_size=embedding_size, metadata=metadata,
                   input_hw=(height, width), batch_size=batch_size, source=source,
                   normalization=normalization)

    @property
    def fingerprint(self):
        """A short hash of the model's bytes and how it is fed (None for in-memory models).

        Caches of embeddings are keyed by it, so a changed file or normalization is recomputed.
        """
        if self._fingerprint is None and self.source is not None:
            digest = hashlib.sha256(_hash_path(self.source).encode())
            digest.update(repr((self._normalization, self.input_hw)).encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def embed(self, faces):
        """Embed aligned faces (N, 112, 112, 3), uint8 or float in 0..255 -> float32 (N, D)."""
        faces = np.asarray(faces)
        if faces.ndim != 4 or faces.shape[1:] != (ALIGNED_SIZE, ALIGNED_SIZE, 3):
            raise BadInputError(
                f"expected aligned faces of shape (N, {ALIGNED_SIZE}, {ALIGNED_SIZE}, 3), "
                f"received {faces.shape}", self.name)
        if len(faces) == 0:
            return np.zeros((0, self.embedding_size), np.float32)
        outputs = []
        for start in range(0, len(faces), self.batch_size):
            outputs.append(self._embed_chunk(faces[start:start + self.batch_size]))
        return np.concatenate(outputs).astype(np.float32, copy=False)

    def _embed_chunk(self, chunk):
        height, width = self.input_hw
        x = chunk.astype(np.float32)
        if width < ALIGNED_SIZE:
            left = (ALIGNED_SIZE - width) // 2
            x = x[:, :, left:left + width]
        if self._normalization is not None:
            mean, std = self._normalization
            x = (x - mean) / std
        n = len(x)
        if self._pad_to is not None and n % self._pad_to:
            pad = self._pad_to - n % self._pad_to
            x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], np.float32)])
        y = self._forward(np.ascontiguousarray(x))
        return y[:n]

    def __repr__(self):
        return (f"EmbeddingModel(name={self.name!r}, embedding_size={self.embedding_size}, "
                f"source={str(self.source) if self.source else None!r})")


def load_embedding_model(path, *, input_mean=None, input_std=None, normalization_inside=None,
                         num_threads=None, batch_size=DEFAULT_BATCH_SIZE, trust_saved_model=False):
    """Load a face embedding model from a `.keras` file, run folder, `.tflite` or trusted SavedModel.

    Args:
        path: the file or folder.
        input_mean, input_std: pixel normalization (x - mean) / std to apply before the model;
            override the metadata JSON. Giving them implies the model does not normalize itself.
        normalization_inside: True to feed raw 0..255 pixels (the model normalizes itself).
        num_threads: CPU threads for LiteRT (ignored by TensorFlow models).
        batch_size: images per forward pass (a fixed-batch `.tflite` uses its own batch).
        trust_saved_model: also load a SavedModel folder (see the module docstring: a
            SavedModel runs its own ops; without this it is refused).

    Returns:
        An `EmbeddingModel`.

    Raises:
        ModelLoadError: missing, unreadable or untrusted file, or not a face embedding model.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError("no such model file or folder", path)
    overrides = dict(input_mean=input_mean, input_std=input_std,
                     normalization_inside=normalization_inside)
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            if not trust_saved_model:
                raise ModelLoadError(SAVED_MODEL_REFUSED, path)
            return _load_saved_model(path, batch_size=batch_size, **overrides)
        if (path / "checkpoints").is_dir():
            return _load_run_folder(path, batch_size=batch_size, **overrides)
        raise ModelLoadError(
            "folder is not a training run (no checkpoints/); a model is a run folder, a .keras "
            "or a .tflite file", path)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return _load_keras(path, batch_size=batch_size, **overrides)
    if suffix == ".tflite":
        return _load_tflite(path, num_threads=num_threads, batch_size=batch_size, **overrides)
    raise ModelLoadError(
        f"unknown model format {suffix or '(no suffix)'!r}; expected a .keras or .tflite file or "
        "a training run folder", path)


def run_checkpoint(run_dir):
    """The `.keras` file a training run folder stands for: `best.keras` (best validation
    accuracy), else `final.keras`, the layout `mobiface_tf.train.trainer` writes."""
    run_dir = Path(run_dir)
    for name in ("best.keras", "final.keras"):
        if (run_dir / name).is_file():
            return run_dir / name
    raise ModelLoadError("run folder has no best.keras or final.keras yet (is training still "
                         "in its first evaluation interval?)", run_dir)


@dataclasses.dataclass
class KerasModelFile:
    """A Keras model read by `load_keras_model`.

    Attributes:
        model: the `keras.Model`.
        path: the `.keras` file it was read from.
        run_dir: the training run folder it stands for, or None for a bare `.keras` file.
        run_config: that run's `config.json` as a dict, or None.
    """

    model: object
    path: Path
    run_dir: Path | None = None
    run_config: dict | None = None


def load_keras_model(path, what="Keras model"):
    """The Keras model of a `.keras` file or of a training run folder (`run_checkpoint`).

    The one loader of Keras files: the archive is checked first (a zip holding `config.json`,
    sizes bounded before anything is decompressed), then read in Keras safe mode, so no Python
    code stored in it runs. Errors say what is wrong with the file.

    Args:
        path: a `.keras` file or a run folder.
        what: how error messages name the expected file ("FlippedMobiFace", ...).

    Returns:
        `KerasModelFile`.

    Raises:
        ModelLoadError: missing, not a `.keras` archive, unsafe, or unreadable.
    """
    import keras

    # Importing the registry registers every custom layer ("mobiface>...") for deserialization.
    import mobiface_tf.models.registry  # noqa: F401

    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"no such {what} (.keras file or training run folder)", path)
    run_dir, run_config = None, None
    if path.is_dir():
        run_dir, path = path, run_checkpoint(path)
        run_config = _read_run_config(run_dir)
    elif path.suffix.lower() != ".keras":
        raise ModelLoadError(f"expected a .keras file or a training run folder for the {what}", path)
    _check_keras_archive(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for corrupt, foreign or unsafe files.
        raise ModelLoadError(_keras_problem(error), path) from None
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"holds a {type(model).__name__}, not a Keras model", path)
    return KerasModelFile(model, path, run_dir, run_config)


def _check_keras_archive(path):
    """Refuse what is not a `.keras` zip (or would expand without bound) before Keras opens it."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            if "config.json" not in members:
                raise ModelLoadError(
                    "not a Keras model archive: the zip has no config.json (a .keras file holds "
                    "config.json, metadata.json and model.weights.h5)", path)
            declared = sum(info.file_size for info in members.values())
            limit = min(MAX_KERAS_BYTES, _MAX_EXPANSION * path.stat().st_size + (1 << 20))
            if declared > limit:
                raise ModelLoadError(f"its members declare {declared:,} bytes, more than a .keras file of this "
                                     f"size may expand to ({limit:,}); not read", path)
            config = archive.read("config.json")
    except zipfile.BadZipFile as error:
        raise ModelLoadError(f"not a Keras model archive: a .keras file is a zip archive, and this "
                             f"one is not or is truncated ({_one_line(error)})", path) from None
    except (OSError, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as error:
        raise ModelLoadError(f"unreadable .keras archive ({_one_line(error)})", path) from None
    try:
        parsed = json.loads(config)
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"config.json inside the .keras archive is not JSON ({_one_line(error)})",
                             path) from None
    if not isinstance(parsed, dict):
        raise ModelLoadError("config.json inside the .keras archive is not a model configuration", path)


def _keras_problem(error):
    text = _one_line(error)
    if "Lambda" in text and "arbitrary code" in text:
        return ("holds a Lambda layer with Python code, which Keras safe mode never runs; rebuild "
                "the model without Lambda layers")
    if "Could not locate" in text or "Could not deserialize" in text:
        return (f"uses a class that is neither Keras' nor one of this project's layers, so it is "
                f"not built ({text})")
    if "unsafe" in text.lower() or "safe_mode" in text:
        return f"refused by Keras safe mode ({text})"
    return f"cannot read Keras model ({type(error).__name__}: {text})"


def _read_run_config(run_dir):
    from mobiface_tf.train.config import read_config_json  # the one reader of config.json

    try:
        return read_config_json(run_dir)
    except BadInputError as error:
        raise ModelLoadError(str(error)) from None


def _load_run_folder(path, **kwargs):
    loaded = load_keras_model(path)
    model = EmbeddingModel.from_keras(loaded.model, name=path.name, source=loaded.path, **kwargs)
    if loaded.run_config is not None:
        model.metadata["run_config"] = loaded.run_config
    model.metadata["checkpoint"] = str(loaded.path)
    return model


def _load_keras(path, *, batch_size, input_mean, input_std, normalization_inside):
    loaded = load_keras_model(path)
    return EmbeddingModel.from_keras(
        loaded.model, name=path.stem, batch_size=batch_size, input_mean=input_mean,
        input_std=input_std, normalization_inside=normalization_inside, source=path)


def _embedding_submodel(model, label):
    """The model itself when it maps one image batch to (N, D), else a nested model that does."""
    if _is_embedding_model(model):
        return model
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "inputs") and hasattr(layer, "outputs") and _is_embedding_model(layer):
            return layer
    shapes = [tuple(t.shape) for t in getattr(model, "outputs", [])]
    raise ModelLoadError(f"not a face embedding model: output shape {shapes}", label)


def _is_embedding_model(model):
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    return (inputs is not None and outputs is not None and len(inputs) == 1
            and len(outputs) == 1 and len(inputs[0].shape) == 4 and len(outputs[0].shape) == 2)


def _load_saved_model(path, *, batch_size, input_mean, input_std, normalization_inside):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as error:  # TF raises several types for corrupt folders.
        raise ModelLoadError(f"cannot read SavedModel: {_one_line(error)}", path) from error
    signatures = getattr(loaded, "signatures", {})
    signature = signatures.get("serving_default") or signatures.get("serve")
    if signature is None:
        raise ModelLoadError(f"SavedModel has no serving signature (has {list(signatures)})", path)
    _, input_specs = signature.structured_input_signature
    if len(input_specs) != 1:
        raise ModelLoadError(f"expected one image input, found {list(input_specs)}", path)
    (input_name, spec), = input_specs.items()
    height, width = _check_input_shape(tuple(spec.shape), path)
    output_specs = signature.structured_outputs
    rank2 = [k for k, v in output_specs.items() if len(v.shape) == 2]
    if len(rank2) != 1:
        shapes = {k: tuple(v.shape) for k, v in output_specs.items()}
        raise ModelLoadError(f"not a face embedding model: output shape {shapes}", path)
    output_name = rank2[0]
    embedding_size = int(output_specs[output_name].shape[-1])
    normalization = _resolve_normalization(None, input_mean, input_std, normalization_inside,
                                           path, default_inside=True)

    def forward(batch):
        result = signature(**{input_name: tf.convert_to_tensor(batch)})
        return np.asarray(result[output_name], dtype=np.float32)

    metadata = default_metadata(path.name, embedding_size, height=height, width=width,
                                **_normalization_fields(normalization))
    model = EmbeddingModel(forward, name=path.name, embedding_size=embedding_size,
                           metadata=metadata, input_hw=(height, width), batch_size=batch_size,
                           source=path, normalization=normalization)
    model._keepalive = loaded  # the signature's variables live as long as `loaded`
    return model


def _load_tflite(path, *, num_threads, batch_size, input_mean, input_std, normalization_inside):
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    except Exception as error:  # LiteRT raises ValueError/RuntimeError for non-flatbuffers.
        raise ModelLoadError(f"cannot read TFLite model: {_one_line(error)}", path) from error
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1:
        raise ModelLoadError(f"expected one image input, found {len(inputs)}", path)
    input_detail = inputs[0]
    signature = tuple(int(d) for d in input_detail.get("shape_signature", input_detail["shape"]))
    height, width = _check_input_shape(signature, path)
    rank2 = [o for o in outputs if len(o["shape"]) == 2]
    named = [o for o in rank2 if "embedding" in o["name"].lower()]
    if len(rank2) == 1 or len(named) == 1:
        output_detail = rank2[0] if len(rank2) == 1 else named[0]
    else:
        shapes = [(o["name"], o["shape"].tolist()) for o in outputs]
        raise ModelLoadError(f"not a face embedding model: output shape {shapes}", path)
    embedding_size = int(output_detail["shape"][-1])

    metadata = _read_metadata(path)
    normalization = _resolve_normalization(metadata, input_mean, input_std, normalization_inside,
                                           path, default_inside=None)
    if metadata is None:
        metadata = default_metadata(path.stem, embedding_size, height=height, width=width,
                                    input_dtype=np.dtype(input_detail["dtype"]).name,
                                    **_normalization_fields(normalization))
    elif metadata.get("embedding_size") not in (None, embedding_size):
        raise ModelLoadError(
            f"metadata says embedding_size {metadata.get('embedding_size')} but the model "
            f"outputs {embedding_size}", path)

    fixed_batch = signature[0] if signature[0] > 0 else None
    input_index, output_index = input_detail["index"], output_detail["index"]
    input_dtype = np.dtype(input_detail["dtype"])
    in_scale, in_zero = input_detail["quantization"]
    out_scale, out_zero = output_detail["quantization"]
    state = {"batch": int(input_detail["shape"][0])}

    def quantize(x):
        if input_dtype == np.float32:
            return x
        if input_dtype.kind not in "iu" or not in_scale:
            raise ModelLoadError(f"unsupported input type {input_dtype.name}", path)
        info = np.iinfo(input_dtype)
        return np.clip(np.round(x / in_scale + in_zero), info.min, info.max).astype(input_dtype)

    def run_one(x):
        try:
            if len(x) != state["batch"]:
                interpreter.resize_tensor_input(input_index, [len(x), *signature[1:]], strict=True)
                interpreter.allocate_tensors()
                state["batch"] = len(x)
            interpreter.set_tensor(input_index, quantize(x))
            interpreter.invoke()
            y = interpreter.get_tensor(output_index)
        except (RuntimeError, ValueError) as error:  # LiteRT's errors for a graph it cannot run
            raise ModelLoadError(f"the TFLite model does not run: {_one_line(error)}", path) from None
        if out_scale:
            y = (y.astype(np.float32) - out_zero) * out_scale
        return np.array(y, dtype=np.float32)

    def forward(batch):
        if fixed_batch is None:
            return run_one(batch)
        return np.concatenate([run_one(batch[i:i + fixed_batch])
                               for i in range(0, len(batch), fixed_batch)])

    try:
        with native_stderr_silenced():  # LiteRT announces its XNNPACK delegate on fd 2
            interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as error:
        raise ModelLoadError(f"the TFLite model does not run: {_one_line(error)}", path) from None
    if fixed_batch is not None:
        # Chunks are a multiple of the fixed batch so only the very last one is padded.
        batch_size = max(fixed_batch, batch_size // fixed_batch * fixed_batch)
    model = EmbeddingModel(forward, name=path.stem, embedding_size=embedding_size,
                           metadata=metadata, input_hw=(height, width), batch_size=batch_size,
                           source=path, normalization=normalization, pad_to=fixed_batch)
    model.interpreter = interpreter
    # One forward pass now, so a file LiteRT can parse but not run fails here, in one line.
    model.embed(np.zeros((1, ALIGNED_SIZE, ALIGNED_SIZE, 3), np.uint8))
    return model


def metadata_path(model_path):
    """The metadata JSON next to a model: `<file>.tflite.json` if present, else `<stem>.json`."""
    model_path = Path(model_path)
    beside = model_path.with_name(model_path.name + ".json")
    return beside if beside.exists() else model_path.with_suffix(".json")


def _read_metadata(path):
    meta_path = metadata_path(path)
    if not meta_path.is_file():
        return None
    if meta_path.stat().st_size > _MAX_METADATA_BYTES:
        raise ModelLoadError(f"metadata JSON of {meta_path.stat().st_size:,} bytes is not a model's "
                             f"metadata (at most {_MAX_METADATA_BYTES:,})", meta_path)
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # RecursionError: absurdly nested JSON
        raise ModelLoadError(f"unreadable metadata JSON: {_one_line(error)}", meta_path) from None
    _check_metadata(metadata, meta_path)
    return metadata


def _check_metadata(metadata, meta_path):
    """Refuse metadata whose fields the loader and `FaceEmbedder` use are of the wrong kind."""

    def refuse(problem):
        raise ModelLoadError(f"metadata JSON: {problem}", meta_path)

    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    if not isinstance(metadata, dict) or not isinstance(metadata.get("input"), dict):
        refuse("no 'input' object")
    normalization = metadata["input"].get("normalization")
    if normalization is not None:
        if not isinstance(normalization, dict):
            refuse(f"input.normalization is {type(normalization).__name__}, expected an object")
        if not isinstance(normalization.get("inside_model", False), bool):
            refuse("input.normalization.inside_model is not true or false")
        for key in ("mean", "std"):
            if key in normalization and not number(normalization[key]):
                refuse(f"input.normalization.{key} is {normalization[key]!r}, expected a number")
        if "std" in normalization and not normalization["std"] > 0:
            refuse(f"input.normalization.std is {normalization['std']!r}, expected a positive number")
    size = metadata.get("embedding_size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        refuse(f"embedding_size is {size!r}, expected a positive integer")
    for key in ("model", "precision"):
        if metadata.get(key) is not None and not isinstance(metadata[key], str):
            refuse(f"{key} is {metadata[key]!r}, expected a string")
    threshold = metadata.get("threshold")
    if threshold is not None:
        if not isinstance(threshold, dict):
            refuse(f"threshold is {type(threshold).__name__}, expected an object or null")
        cosine, far = threshold.get("cosine"), threshold.get("far")
        if cosine is not None and not (number(cosine) and -1 <= cosine <= 1):
            refuse(f"threshold.cosine is {cosine!r}, expected a number in -1..1")
        if far is not None and not (number(far) and 0 <= far <= 1):
            refuse(f"threshold.far is {far!r}, expected a number in 0..1")
        if threshold.get("source") is not None and not isinstance(threshold["source"], str):
            refuse("threshold.source is not a string")


def _resolve_normalization(metadata, mean, std, inside, label, *, default_inside):
    """(mean, std) to apply outside the model, or None; overrides beat metadata beat default."""
    if (mean is None) != (std is None):
        raise ModelLoadError(f"give both input_mean and input_std (received mean={mean}, "
                             f"std={std})", label)
    if mean is not None:
        if inside:
            raise ModelLoadError("normalization_inside=True contradicts input_mean/input_std",
                                 label)
        if not float(std) > 0:
            raise ModelLoadError(f"input_std must be positive, received {std}", label)
        return float(mean), float(std)
    if inside is not None:
        if inside:
            return None
        raise ModelLoadError("normalization_inside=False needs input_mean and input_std", label)
    if metadata is not None:
        norm = metadata["input"].get("normalization") or {}
        if norm.get("inside_model", False):
            return None
        if "mean" in norm and "std" in norm:
            return float(norm["mean"]), float(norm["std"])
        raise ModelLoadError("metadata JSON gives no usable input.normalization", label)
    if default_inside:
        return None
    raise ModelLoadError(
        f"no metadata JSON ({metadata_path(label).name}) says how to normalize pixels; pass "
        "input_mean and input_std (e.g. 127.5 and 128) or normalization_inside", label)


def _normalization_fields(normalization):
    if normalization is None:
        return {"inside_model": True}
    mean, std = normalization
    return {"mean": mean, "std": std, "inside_model": False}


def _check_input_shape(shape, label):
    if len(shape) != 4 or shape[-1] != 3 or tuple(shape[1:3]) not in _SUPPORTED_INPUT_HW:
        raise ModelLoadError(
            f"not a face embedding model: input shape {list(shape)}, expected "
            "[batch, 112, 112, 3] (or [batch, 112, 96, 3])", label)
    return int(shape[1]), int(shape[2])


def _hash_path(path):
    """sha256 of a file, or of every file (relative name + bytes) under a folder."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        digest.update(os.fsencode(file.relative_to(path) if file != path else file.name))
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _one_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def l2_normalize(embeddings, eps=1e-12):
    """Rows scaled to unit L2 norm (float32); zero rows stay zero."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(embeddings, axis=-1, keepdims=True)
    return embeddings / np.maximum(norms, eps)


def cosine_scores(embeddings_a, embeddings_b):
    """Cosine similarity of matching rows of two (N, D) embedding arrays -> (N,) float32."""
    a, b = np.asarray(embeddings_a), np.asarray(embeddings_b)
    if a.shape != b.shape or a.ndim != 2:
        raise BadInputError(f"expected two (N, D) arrays of one shape, received {a.shape} "
                            f"and {b.shape}")
    return np.sum(l2_normalize(a) * l2_normalize(b), axis=1)
