"""The block library every face model here is built from: input normalization, conv/BN/act, bottlenecks,
heads, the block-spec format of the architecture tables and the one stack builder that reads them."""

import dataclasses
from typing import Optional

import keras

from mobiface_tf.models.contract import (
    EMBEDDING_LAYER,
    HEAD_LAYERS,
    INPUT_NAME,
    NORMALIZE_LAYER,
    PIXEL_MEAN,
    PIXEL_STD,
    FaceModel,
    model_args,
)

# Face-recognition convention (insightface): slower-moving BN statistics, tiny epsilon.
BN_MOMENTUM = 0.9
BN_EPSILON = 2e-5

ACTIVATIONS = ("prelu", "relu")
HEADS = tuple(HEAD_LAYERS)

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
    return keras.Input(shape=tuple(input_shape), dtype="float32", name=INPUT_NAME)


def normalize(x):
    """(x - 127.5) / 128 as a layer named "normalize", so the model carries its own preprocessing."""
    return keras.layers.Rescaling(scale=1.0 / PIXEL_STD, offset=-PIXEL_MEAN / PIXEL_STD, name=NORMALIZE_LAYER)(x)


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
    return batch_norm(x, EMBEDDING_LAYER)


def head_of(model):
    """The embedding head ("gdc", "gap" or "fc") of a model built here, or None if it has none of them."""
    args = model_args(model)
    return args.get("backbone", args).get("head")


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One row of an architecture table: `repeats` blocks of one kind (tf-models' `BlockSpec`).

    Fields:
        block: a name of `BLOCKS`: "conv" (conv + BN + act), "depthwise" (depthwise conv + BN +
            act), "separable" (MobileNetV1's depthwise then 1x1 pointwise, `<name>_dw`,
            `<name>_pw`), "bottleneck" (inverted bottleneck, see `bottleneck`).
        filters: output channels (ignored by "depthwise", which keeps them).
        strides: stride of the first repeat; the others have stride 1.
        repeats: how many blocks this row stands for.
        kernel_size: of "conv" and "depthwise" blocks (3x3 depthwise inside the others).
        expand_filters: "bottleneck" only: channels of the expanded layers, as MobiFace's table
            gives them ...
        expand_ratio: ... or that many times the block's input channels (MobileFaceNet's t).
        residual: "bottleneck" only: True adds the shortcut (every repeat must allow it), False
            never; None adds it wherever it fits (stride 1, equal in/out channels).
        name: layer-name prefix of a single block (e.g. "conv1"); None numbers the block
            ("block1", "block2", ... in table order).
    """

    block: str
    filters: Optional[int] = None
    strides: int = 1
    repeats: int = 1
    kernel_size: int = 3
    expand_filters: Optional[int] = None
    expand_ratio: Optional[int] = None
    residual: Optional[bool] = None
    name: Optional[str] = None

    def __post_init__(self):
        if self.block not in BLOCKS:
            raise ValueError(f"`block` must be one of {tuple(BLOCKS)}. Received `block={self.block!r}`")
        if self.block != "depthwise" and not (isinstance(self.filters, int) and self.filters > 0):
            raise ValueError(f"A {self.block} block needs positive `filters`. Received `filters={self.filters!r}`")
        if self.name is not None and self.repeats != 1:
            raise ValueError(f"A named block is one block. Received `name={self.name!r}`, `repeats={self.repeats}`")
        is_bottleneck = self.block == "bottleneck"
        expansions = (self.expand_filters is not None) + (self.expand_ratio is not None)
        if is_bottleneck != (expansions == 1):
            raise ValueError(
                "A bottleneck needs exactly one of `expand_filters` and `expand_ratio`, other blocks neither. "
                f"Received `block={self.block!r}`, `expand_filters={self.expand_filters!r}`, "
                f"`expand_ratio={self.expand_ratio!r}`")


def _conv_block(x, spec, strides, activation, name):
    return conv_bn_act(x, spec.filters, spec.kernel_size, strides, activation, name)


def _depthwise_block(x, spec, strides, activation, name):
    return depthwise_bn_act(x, spec.kernel_size, strides, activation, name)


def _separable_block(x, spec, strides, activation, name):
    x = depthwise_bn_act(x, 3, strides, activation, f"{name}_dw")
    return conv_bn_act(x, spec.filters, 1, 1, activation, f"{name}_pw")


def _bottleneck_block(x, spec, strides, activation, name):
    in_channels = x.shape[-1]
    expand = spec.expand_filters if spec.expand_filters is not None else in_channels * spec.expand_ratio
    fits = strides == 1 and in_channels == spec.filters
    residual = fits if spec.residual is None else spec.residual
    return bottleneck(x, expand, spec.filters, strides, residual=residual, activation=activation, name=name)


# Block kind -> fn(x, spec, strides, activation, name) -> x: the one table `stack` reads.
BLOCKS = {
    "conv": _conv_block,
    "depthwise": _depthwise_block,
    "separable": _separable_block,
    "bottleneck": _bottleneck_block,
}


def stack(x, specs, activation):
    """Build the blocks of `specs` (a table of `BlockSpec`) on `x`, in order.

    Unnamed blocks are numbered block1, block2, ... across the whole table, so layer names (and
    so weights in `.keras` files and checkpoints) follow the table's order.
    """
    number = 1
    for spec in specs:
        for repeat in range(spec.repeats):
            name = spec.name
            if name is None:
                name, number = f"block{number}", number + 1
            x = BLOCKS[spec.block](x, spec, spec.strides if repeat == 0 else 1, activation, name)
    return x


def face_model(specs, *, model, input_shape, embedding_size, head, activation, name):
    """An embedding network: input, normalization, the `specs` stack, the embedding head.

    Args:
        specs: the architecture table, a sequence of `BlockSpec`.
        model: the registry name, recorded in `builder_args`.
        input_shape, embedding_size, head, activation, name: as the public builders take them
            (checked here before any layer is built).

    Returns:
        A `FaceModel` from float32 RGB pixels 0..255 to the embedding (N, embedding_size), with
        `builder_args` = {model, input_shape, embedding_size, head, activation}.
    """
    check_common_args(input_shape, embedding_size, head, activation)
    inputs = image_input(input_shape)
    x = stack(normalize(inputs), specs, activation)
    outputs = embedding_head(x, head, embedding_size)
    builder_args = {"model": model, "input_shape": list(input_shape), "embedding_size": embedding_size,
                    "head": head, "activation": activation}
    return FaceModel(inputs, outputs, name=name, builder_args=builder_args)
