"""What every face model here promises, spelled once: the aligned input, the contract layer names, and
`FaceModel`, the functional model that records its builder's arguments.

The contract: input an aligned RGB `ALIGNED_SIZE` x `ALIGNED_SIZE` face in pixel values 0..255
(the input tensor `INPUT_NAME`); the pixel normalization (x - `PIXEL_MEAN`) / `PIXEL_STD` is the
model's first layer (`NORMALIZE_LAYER`); the embedding, not L2-normalized, is the layer
`EMBEDDING_LAYER`. A Flipped-MobiFace adds the flip predictor (`FLIP_HIDDEN_LAYER`,
`FLIP_PREDICTION_LAYER`) and outputs their average (`FLIPPED_EMBEDDING_LAYER`). Training,
export and the loaders find these layers by these names.
"""

import keras

ALIGNED_SIZE = 112
ALIGNED_SHAPE = (ALIGNED_SIZE, ALIGNED_SIZE, 3)

INPUT_NAME = "image"
NORMALIZE_LAYER = "normalize"
EMBEDDING_LAYER = "embedding"
FLIP_HIDDEN_LAYER = "flip_hidden"
FLIP_PREDICTION_LAYER = "flip_prediction"
FLIP_RESIDUAL_LAYER = "flip_residual"
FLIPPED_EMBEDDING_LAYER = "flipped_embedding"

# The paper's pixel normalization, (x - 127.5) / 128.
PIXEL_MEAN = 127.5
PIXEL_STD = 128.0

# The embedding heads and the layer each of them, and only it, creates.
HEAD_LAYERS = {"gdc": "gdc_dw", "gap": "gap", "fc": "fc_flatten"}


@keras.saving.register_keras_serializable(package="mobiface")
class FaceModel(keras.Model):
    """A functional face model that keeps the arguments it was built with (`builder_args`).

    `builder_args` is a small JSON-able dict, e.g. `{"model": "mobiface", "input_shape": [112,
    112, 3], "embedding_size": 512, "head": "gdc", "activation": "prelu"}`: the registry name and
    the builder's keyword arguments. It travels in `get_config()`, so a saved `.keras` file
    carries it and export reads it rather than guessing the architecture from layer names.
    Layers, weights and checkpoints are those of a plain functional model.
    """

    # The functional constructor's signature, so Keras saves and revives the graph as usual.
    def __init__(self, inputs, outputs, name=None, **kwargs):
        builder_args = kwargs.pop("builder_args", None)
        super().__init__(inputs, outputs, name=name, **kwargs)
        self._builder_args = None if builder_args is None else dict(builder_args)

    @property
    def builder_args(self):
        """A copy of the recorded builder arguments (None when none were given)."""
        return None if self._builder_args is None else dict(self._builder_args)

    def get_config(self):
        """The functional graph's config plus `builder_args`."""
        config = super().get_config()
        config["builder_args"] = self.builder_args
        return config


def model_args(model):
    """The builder arguments of a face model: those it recorded, or for a model saved before
    models recorded them (a plain functional `.keras`), the same dict read from its layers.

    Returns:
        dict with "model" (the registry name; for an old file its model's name), "input_shape",
        "embedding_size", "head" (None when no known head), "activation", and for a
        Flipped-MobiFace "flip_hidden_units", "flip_residual" and the "backbone" dict.
    """
    recorded = getattr(model, "builder_args", None)
    if recorded:
        return recorded
    layers = {layer.name: layer for layer in model.layers}
    if FLIP_PREDICTION_LAYER in layers:
        backbone = keras.Model(model.inputs[0], model.get_layer(EMBEDDING_LAYER).output)
        # Which registered model the backbone was is not recorded in such a file.
        return {"model": "flipped_mobiface", "flip_hidden_units": int(layers[FLIP_HIDDEN_LAYER].units),
                "flip_residual": FLIP_RESIDUAL_LAYER in layers, "backbone": {**model_args(backbone), "model": None}}
    return {
        "model": model.name,
        "input_shape": [int(d) for d in model.inputs[0].shape[1:]],
        "embedding_size": int(model.outputs[0].shape[-1]),
        "head": next((head for head, name in HEAD_LAYERS.items() if name in layers), None),
        "activation": "prelu" if any(isinstance(layer, keras.layers.PReLU) for layer in model.layers) else "relu",
    }
