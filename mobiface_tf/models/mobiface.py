"""MobiFace (Duong et al. 2018): Table 1 of the paper as a spec table, and the builder that reads it."""

import collections

import keras

from mobiface_tf.models import blocks

# One row of Table 1's bottleneck part: `repeats` blocks of one kind. "Block" downsamples
# (stride 2, no shortcut); "RBlock" keeps the size and adds the shortcut.
BlockRow = collections.namedtuple("BlockRow", ["kind", "expand_filters", "filters", "strides", "repeats"])

STEM_FILTERS = 64
MOBIFACE_BLOCKS = (
    BlockRow("Block", 128, 64, 2, 1),  # 56x56x64 -> 28x28x64
    BlockRow("RBlock", 128, 64, 1, 2),
    BlockRow("Block", 256, 128, 2, 1),  # 28x28x64 -> 14x14x128
    BlockRow("RBlock", 256, 128, 1, 3),
    BlockRow("Block", 512, 256, 2, 1),  # 14x14x128 -> 7x7x256
    BlockRow("RBlock", 512, 256, 1, 6),
)
LAST_CONV_FILTERS = 512


def bottleneck_stack(x, rows, activation, first_block=1):
    """Turn spec rows into bottleneck layers named block1, block2, ...; returns (x, next block number)."""
    number = first_block
    for row in rows:
        for _ in range(row.repeats):
            x = blocks.bottleneck(
                x,
                row.expand_filters,
                row.filters,
                row.strides,
                residual=row.kind == "RBlock",
                activation=activation,
                name=f"block{number}",
            )
            number += 1
    return x, number


def MobiFace(input_shape=(112, 112, 3), embedding_size=512, head="gdc", activation="prelu", name="mobiface"):
    """Build MobiFace, the paper's face-embedding network.

    Layers follow Table 1: 3x3 conv /2 to 64, 3x3 depthwise 64, bottlenecks with expansion 2
    ([Block /2 + 2 RBlocks] 64, [Block /2 + 3 RBlocks] 128, [Block /2 + 6 RBlocks] 256),
    1x1 conv 512, then the embedding head. BatchNorm follows every conv; the activation
    follows every conv not marked "Linear" in the table.

    Args:
        input_shape: (height, width, 3); the paper's aligned faces are (112, 112, 3).
        embedding_size: length D of the embedding.
        head: "gdc" (default: global depthwise conv + dense, close to the paper's 9.3 MB),
            "gap" (global average pooling + dense) or "fc" (flatten + dense, the paper's
            literal FC: ~51 MB more). See `blocks.embedding_head`.
        activation: "prelu" (the paper's) or "relu" (runs fully on int8 XNNPACK).
        name: model name.

    Returns:
        A `keras.Model` from float32 RGB pixels 0..255 (N, H, W, 3) to the embedding (N, D),
        not L2-normalized. Normalization is the layer "normalize", the output layer is "embedding".

    Reference:
        C. N. Duong, K. G. Quach, I. Jalata, N. Le, K. Luu. "MobiFace: A Lightweight Deep
        Learning Face Recognition on Mobile Devices", arXiv:1811.11080, 2018.
    """
    blocks.check_common_args(input_shape, embedding_size, head, activation)
    inputs = blocks.image_input(input_shape)
    x = blocks.normalize(inputs)
    x = blocks.conv_bn_act(x, STEM_FILTERS, 3, 2, activation, "conv1")
    x = blocks.depthwise_bn_act(x, 3, 1, activation, "conv2_dw")
    x, _ = bottleneck_stack(x, MOBIFACE_BLOCKS, activation)
    x = blocks.conv_bn_act(x, LAST_CONV_FILTERS, 1, 1, activation, "conv_last")
    outputs = blocks.embedding_head(x, head, embedding_size)
    return keras.Model(inputs, outputs, name=name)
