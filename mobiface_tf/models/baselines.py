"""The paper's baselines, MobileFaceNet and a MobileNetV1 face variant, built from the same blocks as MobiFace."""

from mobiface_tf.models import blocks
from mobiface_tf.models.blocks import BlockSpec
from mobiface_tf.models.contract import ALIGNED_SHAPE

# Chen et al. 2018, Table 1: bottleneck rows of expansion t (times the block's input channels),
# output channels c, repeats n and stride s of the first repeat; the shortcut wherever it fits.
MOBILEFACENET_BLOCKS = (
    BlockSpec("conv", 64, strides=2, name="conv1"),  # 112 -> 56
    BlockSpec("depthwise", name="conv2_dw"),
    BlockSpec("bottleneck", 64, strides=2, repeats=5, expand_ratio=2),  # 56 -> 28
    BlockSpec("bottleneck", 128, strides=2, expand_ratio=4),  # 28 -> 14
    BlockSpec("bottleneck", 128, repeats=6, expand_ratio=2),
    BlockSpec("bottleneck", 128, strides=2, expand_ratio=4),  # 14 -> 7
    BlockSpec("bottleneck", 128, repeats=2, expand_ratio=2),
    BlockSpec("conv", 512, kernel_size=1, name="conv_last"),
)

# MobileNetV1 (Howard et al. 2017, Table 1, alpha = 1): 3x3 conv /2 to 32, then depthwise-separable
# blocks. For 112x112 faces the last stride-2 block keeps stride 1, so the final map is 7x7x1024,
# the size the embedding heads expect, instead of 4x4.
MOBILENET_V1_BLOCKS = (
    BlockSpec("conv", 32, strides=2, name="conv1"),  # 112 -> 56
    BlockSpec("separable", 64),
    BlockSpec("separable", 128, strides=2),  # 56 -> 28
    BlockSpec("separable", 128),
    BlockSpec("separable", 256, strides=2),  # 28 -> 14
    BlockSpec("separable", 256),
    BlockSpec("separable", 512, strides=2),  # 14 -> 7
    BlockSpec("separable", 512, repeats=5),
    BlockSpec("separable", 1024),  # stride 2 in the ImageNet network; 1 here (see above)
    BlockSpec("separable", 1024),
)


def MobileFaceNet(input_shape=ALIGNED_SHAPE, embedding_size=128, head="gdc", activation="prelu", name="mobilefacenet"):
    """Build MobileFaceNet: 3x3 conv /2 64, 3x3 depthwise 64, bottlenecks, 1x1 conv 512, linear GDC, 128-d.

    Args:
        input_shape: (height, width, 3); (112, 112, 3) for aligned faces.
        embedding_size: length D of the embedding (128 in the paper).
        head: "gdc" (the paper's linear GDC + linear 1x1 conv, here dense: same weights), "gap" or "fc".
        activation: "prelu" (the paper's) or "relu".
        name: model name.

    Returns:
        A `FaceModel` from float32 RGB pixels 0..255 to the embedding (N, D), not L2-normalized;
        input layer "normalize" inside, output layer "embedding". ~0.99M weights + BN statistics,
        ~221M multiply-adds at 112x112.

    Reference:
        S. Chen, Y. Liu, X. Gao, Z. Han. "MobileFaceNets: Efficient CNNs for Accurate Real-Time
        Face Verification on Mobile Devices", CCBR 2018, arXiv:1804.07573.
    """
    return blocks.face_model(MOBILEFACENET_BLOCKS, model="mobilefacenet", input_shape=input_shape,
                             embedding_size=embedding_size, head=head, activation=activation, name=name)


def MobileNetV1(input_shape=ALIGNED_SHAPE, embedding_size=512, head="fc", activation="prelu", name="mobilenet_v1"):
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
        A `FaceModel` from float32 RGB pixels 0..255 to the embedding (N, D), not L2-normalized;
        input layer "normalize" inside, output layer "embedding".

    Reference:
        A. G. Howard et al. "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
        Applications", arXiv:1704.04861, 2017.
    """
    return blocks.face_model(MOBILENET_V1_BLOCKS, model="mobilenet_v1", input_shape=input_shape,
                             embedding_size=embedding_size, head=head, activation=activation, name=name)
