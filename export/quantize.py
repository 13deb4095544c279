"""Quantization helpers: the delegate-friendly PReLU rewrite and the calibration faces.

Why the rewrite: LiteRT's XNNPACK delegate has no int8 PRELU kernel, so a full-integer
MobiFace (31 PReLUs) falls apart into ~32 delegate partitions with slow reference PReLU
kernels between them, and runs ~4x slower than float32. The obvious exact forms do not help:
a RELU that cannot be fused into the conv before it (its input is used twice), MAXIMUM and
MINIMUM are not delegated in int8 either (measured with `export.litert.delegation`).
LEAKY_RELU with one scalar slope, MUL by a per-channel constant and ADD are. So PReLU with
per-channel slopes a_c is rewritten, for a per-layer scalar b != 1, as

    prelu(x) = leaky_relu(x, b) * (1 - a_c) / (1 - b) + x * (a_c - b) / (1 - b)

which is exact in real arithmetic (x > 0: x; x < 0: a_c x). b is the layer's median slope,
so the second term is small and quantizes finely. The rewritten model shares every other
layer (and so every weight) with the original; only the PReLU layers are replaced.
"""

import keras
import numpy as np

from mobiface_tf.errors import DataNotFoundError
from mobiface_tf.models.profile import iter_layers


@keras.saving.register_keras_serializable(package="mobiface_export")
class PReLUAsLeakyReLU(keras.layers.Layer):
    """PReLU with one slope per channel, computed from int8-delegated ops (see module docstring).

    Args:
        alpha: the per-channel slopes, shape (channels,), taken from a trained PReLU.
    """

    def __init__(self, alpha, **kwargs):
        super().__init__(**kwargs)
        self.alpha = [float(a) for a in np.asarray(alpha, dtype=np.float32).ravel()]
        if not self.alpha:
            raise ValueError(f"{self.name}: `alpha` is empty. Received `alpha={alpha!r}`")
        alpha = np.asarray(self.alpha, np.float64)
        # Any scalar slope other than 1 is exact; 0 would become a RELU (not delegated unfused).
        self.leak = float(np.clip(np.median(alpha), 0.01, 0.9))
        self._leaky_scale = ((1.0 - alpha) / (1.0 - self.leak)).astype(np.float32)
        self._linear_scale = ((alpha - self.leak) / (1.0 - self.leak)).astype(np.float32)
        # One shared slope (e.g. an untrained PReLU) needs no correction; an all-zero MUL
        # constant would also quantize with a zero scale, which XNNPACK refuses.
        self._pure_leaky = bool(np.all(np.abs(self._linear_scale) < 1e-6))

    def build(self, input_shape):
        if input_shape[-1] != len(self.alpha):
            raise ValueError(
                f"{self.name}: {len(self.alpha)} slopes for {input_shape[-1]} channels. "
                f"Received `input_shape={input_shape}`"
            )

    def call(self, x):
        # Constants, not weights: the converter folds them into the graph as MUL operands.
        leaky = keras.ops.leaky_relu(x, negative_slope=self.leak)
        if self._pure_leaky:
            return leaky
        return keras.ops.add(leaky * self._leaky_scale, x * self._linear_scale)

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha})
        return config


def prelu_alpha(layer):
    """The per-channel alphas of a `keras.layers.PReLU` shared over all but the channel axis.

    Raises ValueError when the layer learns alphas per position (shared_axes not covering H, W).
    """
    alpha = np.asarray(layer.get_weights()[0], np.float32)
    if alpha.ndim > 1 and any(dim != 1 for dim in alpha.shape[:-1]):
        raise ValueError(
            f"{layer.name}: only per-channel PReLU (shared_axes=[1, 2]) can be rewritten. "
            f"Received alpha of shape {alpha.shape}"
        )
    return alpha.reshape(-1)


def rewrite_prelu(model):
    """A model equal to `model` in float with every PReLU replaced by `PReLUAsLeakyReLU`.

    Layers other than PReLU are shared with `model` (same objects, same weights). Returns
    `model` itself when it has no PReLU.
    """
    if not any(isinstance(layer, keras.layers.PReLU) for layer in iter_layers(model)):
        return model

    def clone(layer):
        if isinstance(layer, keras.layers.PReLU):
            return PReLUAsLeakyReLU(prelu_alpha(layer), name=layer.name)
        return layer

    return keras.models.clone_model(model, clone_function=clone, recursive=True)


def count_prelu(model):
    """How many `keras.layers.PReLU` layers `model` holds (nested models included)."""
    return sum(isinstance(layer, keras.layers.PReLU) for layer in iter_layers(model))


def sample_aligned_faces(aligned_dir, num_faces, *, seed=0, exclude=()):
    """Read `num_faces` aligned crops from a `<identity>/<file>.jpg` tree, spread over identities.

    The choice is deterministic for a given tree and `seed`. Files in `exclude` are skipped, so
    parity faces can differ from calibration faces.

    Returns:
        (faces uint8 (num_faces, 112, 112, 3), paths list[str]).

    Raises:
        DataNotFoundError: the tree is missing or holds fewer than `num_faces` usable images.
    """
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.data.sources import list_identity_tree

    if num_faces < 1:
        raise ValueError(f"`num_faces` must be >= 1. Received `num_faces={num_faces}`")
    paths, labels, _ = list_identity_tree(aligned_dir)
    excluded = {str(p) for p in exclude}
    candidates = [(p, l) for p, l in zip(paths, labels) if p not in excluded]
    if len(candidates) < num_faces:
        raise DataNotFoundError(
            f"need {num_faces} aligned faces, found {len(candidates)} (align more with mobiface-align)",
            aligned_dir,
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(candidates))
    # Round-robin over identities so a few large identities do not dominate the sample.
    by_label = {}
    for i in order:
        by_label.setdefault(candidates[i][1], []).append(candidates[i][0])
    chosen, queues = [], list(by_label.values())
    while len(chosen) < num_faces:
        for queue in queues:
            if queue and len(chosen) < num_faces:
                chosen.append(queue.pop())
    faces = []
    for path in chosen:
        face = load_rgb(path)
        if face.shape != (112, 112, 3):
            raise DataNotFoundError(f"expected an aligned 112x112 RGB crop, found shape {face.shape}", path)
        faces.append(face)
    return np.stack(faces), chosen


def representative_dataset(faces):
    """A converter `representative_dataset`: one float32 (1, 112, 112, 3) face per step."""
    faces = np.asarray(faces, np.float32)

    def generate():
        for face in faces:
            yield [face[None]]

    return generate
