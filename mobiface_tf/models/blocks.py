"""The block library every face model here is built from: input normalization, conv/BN/act, bottlenecks, heads."""

import keras

# Face-recognition convention (insightface): slower-moving BN statistics, tiny epsilon.
BN_MOMENTUM = 0.9
BN_EPSILON = 2e-5

ACTIVATIONS = ("prelu", "relu")
HEADS = ("gdc", "gap", "fc")
# The layer each head, and only that head, creates: how a built or loaded model tells its head.
HEAD_LAYERS = {"gdc": "gdc_dw", "gap": "gap", "fc": "fc_flatten"}

# The paper's pixel normalization, (x - 127.5) / 128.
PIXEL_MEAN = 127.5
PIXEL_STD = 128.0

# Models downsample by 16; below this the last feature map would be empty.
MIN_INPUT_SIZE = 16


def check_common_args(input_shape, embedding_size, head, activation):
    """Raise ValueError, naming the received value, for arguments every model shares."""
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in input_shape)
    ):
        raise ValueError(
            f"`input_shape` must be three integers (height, width, 3). Received `input_shape={input_shape!r}`"
        )
    height, width, channels = input_shape
    if channels != 3:
        raise ValueError(f"Models take RGB faces: `input_shape` needs 3 channels. Received `input_shape={input_shape!r}`")
    if height < MIN_INPUT_SIZE or width < MIN_INPUT_SIZE:
        raise ValueError(
            f"`input_shape` must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}. Received `input_shape={input_shape!r}`"
        )
    if not isinstance(embedding_size, int) or isinstance(embedding_size, bool) or embedding_size < 1:
        raise ValueError(f"`embedding_size` must be a positive integer. Received `embedding_size={embedding_size!r}`")
    if head not in HEADS:
        raise ValueError(f"`head` must be one of {HEADS}. Received `head={head!r}`")
    if activation not in ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {ACTIVATIONS}. Received `activation={activation!r}`")


def image_input(input_shape):
    """The model input: float32 RGB pixels in 0..255, named "image"."""
    return keras.Input(shape=tuple(input_shape), dtype="float32", name="image")


def normalize(x):
    """(x - 127.5) / 128 as a layer named "normalize", so the model carries its own preprocessing."""
    return keras.layers.Rescaling(scale=1.0 / PIXEL_STD, offset=-PIXEL_MEAN / PIXEL_STD, name="normalize")(x)


def batch_norm(x, name):
    """BatchNormalization with the face-model momentum and epsilon."""
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def activation_layer(x, activation, name):
    """PReLU with one alpha per channel, or ReLU (which int8 XNNPACK can run; int8 PReLU it cannot)."""
    if activation == "prelu":
        # The default PReLU learns one alpha per element (H*W*C): 4.9M instead of 2.6M parameters.
        return keras.layers.PReLU(
            alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1, 2], name=name
        )(x)
    if activation == "relu":
        return keras.layers.ReLU(name=name)(x)
    raise ValueError(f"`activation` must be one of {ACTIVATIONS}. Received `activation={activation!r}`")


def conv_bn_act(x, filters, kernel_size, strides, activation, name):
    """Conv (no bias) + BN + activation; `activation=None` means linear (no activation layer)."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = batch_norm(x, f"{name}_bn")
    return x if activation is None else activation_layer(x, activation, f"{name}_act")


def depthwise_bn_act(x, kernel_size, strides, activation, name):
    """Depthwise conv (no bias) + BN + activation; `activation=None` means linear."""
    x = keras.layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = batch_norm(x, f"{name}_bn")
    return x if activation is None else activation_layer(x, activation, f"{name}_act")


def bottleneck(x, expand_filters, filters, strides, residual, activation, name):
    """Inverted bottleneck: 1x1 expand, 3x3 depthwise with `strides`, 1x1 linear projection.

    Args:
        x: input tensor (N, H, W, C).
        expand_filters: channels of the expanded (inner) layers.
        filters: output channels.
        strides: stride of the depthwise conv.
        residual: add the shortcut from input to output (the paper's RBlock); only possible when
            `strides == 1` and `C == filters`.
        activation: "prelu" or "relu" after the expand and depthwise convs.
        name: layer-name prefix, e.g. "block3"; layers are "block3_expand", "block3_dw", ...

    Returns:
        The block's output tensor.
    """
    if residual and (strides != 1 or x.shape[-1] != filters):
        raise ValueError(
            f"{name}: a residual bottleneck needs stride 1 and equal in/out channels. "
            f"Received `strides={strides}`, input channels {x.shape[-1]}, `filters={filters}`"
        )
    shortcut = x
    x = conv_bn_act(x, expand_filters, 1, 1, activation, f"{name}_expand")
    x = depthwise_bn_act(x, 3, strides, activation, f"{name}_dw")
    # Linear projection: a non-linearity on the narrow output would destroy information (MobileNetV2).
    x = conv_bn_act(x, filters, 1, 1, None, f"{name}_project")
    if residual:
        x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return x


def embedding_head(x, head, embedding_size):
    """Map the last feature map (N, H, W, C) to the embedding (N, embedding_size).

    Heads:
        "gdc": global depthwise conv (kernel = the whole HxW map, linear) + BN, flatten,
            dense + BN. Weighs each position differently at the cost of H*W*C weights
            (MobileFaceNet's answer to GAP treating corners like the centre).
        "gap": global average pooling, dense + BN.
        "fc": flatten, dense + BN: the paper's literal "FC replaces GAP"; 12.8M weights at 7x7x512.

    The last layer is the BatchNormalization named "embedding"; the output is not L2-normalized.
    """
    if head == "gdc":
        # Kernel = full map, so the head is "global" at any input size, 7x7 at 112x112.
        x = keras.layers.DepthwiseConv2D(
            tuple(x.shape[1:3]), padding="valid", use_bias=False, name=HEAD_LAYERS["gdc"]
        )(x)
        x = batch_norm(x, "gdc_dw_bn")
        x = keras.layers.Flatten(name="gdc_flatten")(x)
    elif head == "gap":
        x = keras.layers.GlobalAveragePooling2D(name=HEAD_LAYERS["gap"])(x)
    elif head == "fc":
        x = keras.layers.Flatten(name=HEAD_LAYERS["fc"])(x)
    else:
        raise ValueError(f"`head` must be one of {HEADS}. Received `head={head!r}`")
    x = keras.layers.Dense(embedding_size, use_bias=False, name="embedding_dense")(x)
    return batch_norm(x, "embedding")


def head_of(model):
    """The embedding head ("gdc", "gap" or "fc") of a model built here, or None if it has none of them."""
    names = {layer.name for layer in model.layers}
    return next((head for head, layer_name in HEAD_LAYERS.items() if layer_name in names), None)
