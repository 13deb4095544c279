"""The paper's baselines, MobileFaceNet and a MobileNetV1 face variant, built from the same blocks as MobiFace."""

import collections

import keras

from mobiface_tf.models import blocks

# Chen et al. 2018, Table 1: expansion t (times the block's input channels), output channels c,
# repeats n, stride s of the first repeat (the others have stride 1).
BottleneckRow = collections.namedtuple("BottleneckRow", ["t", "c", "n", "s"])

MOBILEFACENET_BLOCKS = (
    BottleneckRow(2, 64, 5, 2),  # 56 -> 28
    BottleneckRow(4, 128, 1, 2),  # 28 -> 14
    BottleneckRow(2, 128, 6, 1),
    BottleneckRow(4, 128, 1, 2),  # 14 -> 7
    BottleneckRow(2, 128, 2, 1),
)

# MobileNetV1 (Howard et al. 2017, Table 1, alpha = 1): 3x3 conv /2 to 32, then depthwise-separable
# blocks (filters, stride). For 112x112 faces the last stride-2 block keeps stride 1, so the final
# map is 7x7x1024, the size the embedding heads expect, instead of 4x4.
MOBILENET_V1_STEM_FILTERS = 32
MOBILENET_V1_BLOCKS = (
    (64, 1),
    (128, 2),  # 56 -> 28
    (128, 1),
    (256, 2),  # 28 -> 14
    (256, 1),
    (512, 2),  # 14 -> 7
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 1),  # stride 2 in the ImageNet network; 1 here (see above)
    (1024, 1),
)


def MobileFaceNet(input_shape=(112, 112, 3), embedding_size=128, head="gdc", activation="prelu", name="mobilefacenet"):
    """Build MobileFaceNet: 3x3 conv /2 64, 3x3 depthwise 64, bottlenecks, 1x1 conv 512, linear GDC, 128-d.

    Args:
        input_shape: (height, width, 3); (112, 112, 3) for aligned faces.
        embedding_size: length D of the embedding (128 in the paper).
        head: "gdc" (the paper's linear GDC + linear 1x1 conv, here dense: same weights), "gap" or "fc".
        activation: "prelu" (the paper's) or "relu".
        name: model name.

    Returns:
        A `keras.Model` from float32 RGB pixels 0..255 to the embedding (N, D), not L2-normalized;
        input layer "normalize" inside, output layer "embedding". ~0.99M weights + BN statistics,
        ~221M multiply-adds at 112x112.

    Reference:
        S. Chen, Y. Liu, X. Gao, Z. Han. "MobileFaceNets: Efficient CNNs for Accurate Real-Time
        Face Verification on Mobile Devices", CCBR 2018, arXiv:1804.07573.
    """
    blocks.check_common_args(input_shape, embedding_size, head, activation)
    inputs = blocks.image_input(input_shape)
    x = blocks.normalize(inputs)
    x = blocks.conv_bn_act(x, 64, 3, 2, activation, "conv1")
    x = blocks.depthwise_bn_act(x, 3, 1, activation, "conv2_dw")
    number = 1
    for row in MOBILEFACENET_BLOCKS:
        for repeat in range(row.n):
            strides = row.s if repeat == 0 else 1
            in_channels = x.shape[-1]
            x = blocks.bottleneck(
                x,
                in_channels * row.t,
                row.c,
                strides,
                residual=strides == 1 and in_channels == row.c,
                activation=activation,
                name=f"block{number}",
            )
            number += 1
    x = blocks.conv_bn_act(x, 512, 1, 1, activation, "conv_last")
    outputs = blocks.embedding_head(x, head, embedding_size)
    return keras.Model(inputs, outputs, name=name)


def MobileNetV1(input_shape=(112, 112, 3), embedding_size=512, head="fc", activation="prelu", name="mobilenet_v1"):
    """Build the MobileNetV1 face baseline of the paper's Table 2.

    MobileNetV1 with width multiplier 1, adapted to faces: 112x112 input, the last downsampling
    removed (final map 7x7x1024), BN + PReLU as in the face models, and an embedding head
    instead of the classifier. The default head is "fc" (flatten + dense 512): with it the model
    has ~28.9M weights, ~116 MB in float32, matching the paper's 112 MB for this baseline; a
    "gdc" or "gap" head gives a ~4M-weight model instead.

    Args:
        input_shape: (height, width, 3); (112, 112, 3) for aligned faces.
        embedding_size: length D of the embedding.
        head: "fc" (default, the paper's size), "gdc" or "gap".
        activation: "prelu" or "relu".
        name: model name.

    Returns:
        A `keras.Model` from float32 RGB pixels 0..255 to the embedding (N, D), not L2-normalized;
        input layer "normalize" inside, output layer "embedding".

    Reference:
        A. G. Howard et al. "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
        Applications", arXiv:1704.04861, 2017.
    """
    blocks.check_common_args(input_shape, embedding_size, head, activation)
    inputs = blocks.image_input(input_shape)
    x = blocks.normalize(inputs)
    x = blocks.conv_bn_act(x, MOBILENET_V1_STEM_FILTERS, 3, 2, activation, "conv1")
    for number, (filters, strides) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        x = blocks.depthwise_bn_act(x, 3, strides, activation, f"block{number}_dw")
        x = blocks.conv_bn_act(x, filters, 1, 1, activation, f"block{number}_pw")
    outputs = blocks.embedding_head(x, head, embedding_size)
    return keras.Model(inputs, outputs, name=name)
