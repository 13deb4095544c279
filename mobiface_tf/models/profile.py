"""Model size and cost: parameter counts, multiply-adds and float32 size, for the paper's Table 2."""

import math

import keras

FLOAT32_BYTES = 4

# The paper's Table 2, "Model Size" column (MB), by registry name.
PAPER_MODEL_SIZE_MB = {
    "mobiface": 9.3,
    "flipped_mobiface": 11.3,
    "mobilefacenet": 4.0,
    "mobilenet_v1": 112.0,
}

# Layers whose multiply-adds count: one multiply-add per kernel weight per output position.
_MAC_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


def count_params(model):
    """All weights of `model`, trainable or not (BatchNorm moving statistics included)."""
    return int(sum(math.prod(weight.shape) for weight in model.weights))


def float32_size_bytes(model):
    """Bytes to store every weight of `model` as float32 (before BatchNorm folding)."""
    return FLOAT32_BYTES * count_params(model)


def count_macs(model):
    """Multiply-adds of one forward pass at batch 1: Conv2D, DepthwiseConv2D and Dense layers.

    Each such layer costs (kernel weights) x (output positions): for a conv
    kh*kw*(Cin/groups)*Cout per output pixel, for a depthwise conv kh*kw*Cin*multiplier per pixel,
    for a dense layer Cin*Cout per row. Biases, BatchNorm, activations and additions are not
    counted (the usual convention, as in the MobileFaceNet paper's 221M). Nested models are
    walked; each layer must be called once.
    """
    total = 0
    for layer in iter_layers(model):
        if isinstance(layer, _MAC_LAYERS):
            output_shape = layer.output.shape
            if any(dim is None for dim in output_shape[1:-1]):
                raise ValueError(
                    f"Layer {layer.name!r} of model {model.name!r} has an unknown output size "
                    f"{tuple(output_shape)}; multiply-adds need a fixed input shape"
                )
            total += math.prod(layer.kernel.shape) * math.prod(output_shape[1:-1])
    return int(total)


def profile_model(model):
    """A dict: params, macs, float32_bytes and float32_mb (10^6 bytes) of `model`."""
    size = float32_size_bytes(model)
    return {
        "params": count_params(model),
        "macs": count_macs(model),
        "float32_bytes": size,
        "float32_mb": size / 1e6,
    }


def iter_layers(model):
    """Every layer of `model`, nested models walked."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer)
        else:
            yield layer
