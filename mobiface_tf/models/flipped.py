"""Flipped-MobiFace (paper section 3.3): a backbone plus the flip predictor g, averaged into one feature."""

import keras

from mobiface_tf.models.contract import (
    EMBEDDING_LAYER,
    FLIP_HIDDEN_LAYER,
    FLIP_PREDICTION_LAYER,
    FLIP_RESIDUAL_LAYER,
    FLIPPED_EMBEDDING_LAYER,
    FaceModel,
    model_args,
)
from mobiface_tf.models.mobiface import MobiFace

# Section 4.2: "two 512-dim fully-connected layers with ReLU".
FLIP_HIDDEN_UNITS = 512


def FlippedMobiFace(backbone=None, name="flipped_mobiface", flip_hidden_units=FLIP_HIDDEN_UNITS, flip_residual=False,
                    **mobiface_kwargs):
    """Build Flipped-MobiFace: output (f_I + g(f_I)) / 2, where g predicts the mirrored face's feature.

    Args:
        backbone: an existing embedding model (e.g. a trained MobiFace) whose layer "embedding"
            gives f_I. Its layers, and so its weights, are shared with the returned model, not
            copied. When None, a fresh `MobiFace(**mobiface_kwargs)` is built.
        name: model name.
        flip_hidden_units: width of g's first fully-connected layer.
        flip_residual: g(f) = f + h(f) instead of the paper's g(f) = h(f), with h's last layer
            ("flip_residual") starting at zero: g starts as the identity, so g(f_I) starts as
            close to f_Ī as f_I itself and training can only bring it closer. A backbone that
            is already nearly mirror-invariant (a distilled one: cosine(f_I, f_Ī) ~0.95) leaves
            the paper's form, which must first learn the identity, behind f_I for 1,000s of steps.
        **mobiface_kwargs: `MobiFace` arguments (input_shape, embedding_size, head, activation);
            only allowed without `backbone`.

    Returns:
        A flat `FaceModel` from pixels 0..255 to the averaged feature (N, D), output layer
        "flipped_embedding". f_I is the layer "embedding", g(f_I) the layer "flip_prediction";
        `flip_outputs_model` exposes both for training g. Its `builder_args` are
        {"model": "flipped_mobiface", "flip_hidden_units", "flip_residual", "backbone": the backbone's}.

    Reference:
        C. N. Duong et al. "MobiFace: A Lightweight Deep Learning Face Recognition on Mobile
        Devices", arXiv:1811.11080, 2018, sections 3.3 and 4.2.
    """
    if not isinstance(flip_hidden_units, int) or isinstance(flip_hidden_units, bool) or flip_hidden_units < 1:
        raise ValueError(
            f"`flip_hidden_units` must be a positive integer. Received `flip_hidden_units={flip_hidden_units!r}`"
        )
    if backbone is None:
        backbone = MobiFace(**mobiface_kwargs)
    elif mobiface_kwargs:
        raise ValueError(
            f"Pass either `backbone` or MobiFace arguments, not both. Received `backbone={backbone.name!r}` "
            f"and {sorted(mobiface_kwargs)}"
        )
    f_i = _embedding_output(backbone)
    if FLIP_PREDICTION_LAYER in {layer.name for layer in backbone.layers}:
        raise ValueError(f"`backbone` already has a flip predictor. Received `backbone={backbone.name!r}`")
    layers = {FLIP_HIDDEN_LAYER: keras.layers.Dense(flip_hidden_units, activation="relu", name=FLIP_HIDDEN_LAYER)}
    # The second layer is linear: it predicts f_Ī, a BatchNorm output with negative components.
    # A ReLU there could only reach the non-negative part of the target, so g stays linear at the end.
    if flip_residual:
        layers[FLIP_RESIDUAL_LAYER] = keras.layers.Dense(f_i.shape[-1], kernel_initializer="zeros",
                                                         name=FLIP_RESIDUAL_LAYER)
        layers[FLIP_PREDICTION_LAYER] = keras.layers.Add(name=FLIP_PREDICTION_LAYER)
    else:
        layers[FLIP_PREDICTION_LAYER] = keras.layers.Dense(f_i.shape[-1], name=FLIP_PREDICTION_LAYER)
    g = _apply_flip_predictor(layers, f_i)
    averaged = keras.layers.Average(name=FLIPPED_EMBEDDING_LAYER)([f_i, g])
    builder_args = {"model": "flipped_mobiface", "flip_hidden_units": flip_hidden_units,
                    "flip_residual": bool(flip_residual), "backbone": model_args(backbone)}
    # Flat graph on the backbone's own tensors, so get_layer("embedding") works on the result.
    return FaceModel(_single_input(backbone), averaged, name=name, builder_args=builder_args)


def flip_outputs_model(model):
    """A model sharing `model`'s layers with outputs [f_I, g(f_I)], for training the flip predictor."""
    _check_flipped(model)
    return keras.Model(
        _single_input(model),
        [_embedding_output(model), model.get_layer(FLIP_PREDICTION_LAYER).output],
        name=f"{model.name}_flip_outputs",
    )


def flip_predictor(model):
    """g alone: a model from a feature f (N, D) to g(f), sharing `model`'s flip layers, so that
    the flip stage trains g on features the frozen backbone computed outside the tape."""
    _check_flipped(model)
    feature = keras.Input((model.output.shape[-1],), name="feature")
    predicted = _apply_flip_predictor({layer.name: layer for layer in model.layers}, feature)
    return keras.Model(feature, predicted, name=f"{model.name}_flip_predictor")


def _apply_flip_predictor(layers, f):
    """g(f) from g's layers (by name): h(f), or f + h(f) when there is a residual layer."""
    hidden = layers[FLIP_HIDDEN_LAYER](f)
    if FLIP_RESIDUAL_LAYER in layers:
        return layers[FLIP_PREDICTION_LAYER]([f, layers[FLIP_RESIDUAL_LAYER](hidden)])
    return layers[FLIP_PREDICTION_LAYER](hidden)


def backbone_model(model):
    """The plain embedding model inside a Flipped-MobiFace (output f_I), sharing its layers."""
    _check_flipped(model)
    return keras.Model(_single_input(model), _embedding_output(model), name=f"{model.name}_backbone")


def _single_input(model):
    # One tensor, not a one-element list, so `model.input` stays a tensor like the plain models'.
    if len(model.inputs) != 1:
        raise ValueError(f"Model {model.name!r} must have one image input. Received {len(model.inputs)} inputs")
    return model.inputs[0]


def _embedding_output(model):
    try:
        return model.get_layer(EMBEDDING_LAYER).output
    except ValueError as error:
        raise ValueError(
            f"Model {model.name!r} has no layer named {EMBEDDING_LAYER!r} to use as f_I"
        ) from error


def _check_flipped(model):
    if FLIP_PREDICTION_LAYER not in {layer.name for layer in model.layers}:
        raise ValueError(
            f"Model {model.name!r} is not a Flipped-MobiFace: no layer named {FLIP_PREDICTION_LAYER!r}"
        )
