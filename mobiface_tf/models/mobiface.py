"""MobiFace (Duong et al. 2018): Table 1 of the paper as a block-spec table, and the builder that reads it."""

from mobiface_tf.models import blocks
from mobiface_tf.models.blocks import BlockSpec
from mobiface_tf.models.contract import ALIGNED_SHAPE

# Table 1, top to bottom. Bottlenecks have expansion 2 (of their output channels, as the table
# lists them); a "Block" downsamples (stride 2, no shortcut), an "RBlock" keeps the size and
# adds the shortcut.
MOBIFACE_BLOCKS = (
    BlockSpec("conv", 64, strides=2, name="conv1"),  # 112 -> 56
    BlockSpec("depthwise", name="conv2_dw"),
    BlockSpec("bottleneck", 64, strides=2, expand_filters=128, residual=False),  # Block, 56 -> 28
    BlockSpec("bottleneck", 64, repeats=2, expand_filters=128, residual=True),  # RBlocks
    BlockSpec("bottleneck", 128, strides=2, expand_filters=256, residual=False),  # Block, 28 -> 14
    BlockSpec("bottleneck", 128, repeats=3, expand_filters=256, residual=True),
    BlockSpec("bottleneck", 256, strides=2, expand_filters=512, residual=False),  # Block, 14 -> 7
    BlockSpec("bottleneck", 256, repeats=6, expand_filters=512, residual=True),
    BlockSpec("conv", 512, kernel_size=1, name="conv_last"),
)


def MobiFace(input_shape=ALIGNED_SHAPE, embedding_size=512, head="gdc", activation="prelu", name="mobiface"):
    """Build MobiFace, the paper's face-embedding network.

    Layers follow Table 1 (`MOBIFACE_BLOCKS`): 3x3 conv /2 to 64, 3x3 depthwise 64, bottlenecks
    with expansion 2 ([Block /2 + 2 RBlocks] 64, [Block /2 + 3 RBlocks] 128, [Block /2 + 6
    RBlocks] 256), 1x1 conv 512, then the embedding head. BatchNorm follows every conv; the
    activation follows every conv not marked "Linear" in the table.

    Args:
        input_shape: (height, width, 3); the paper's aligned faces are (112, 112, 3).
        embedding_size: length D of the embedding.
        head: "gdc" (default: global depthwise conv + dense, close to the paper's 9.3 MB),
            "gap" (global average pooling + dense) or "fc" (flatten + dense, the paper's
            literal FC: ~51 MB more). See `blocks.embedding_head`.
        activation: "prelu" (the paper's) or "relu" (runs fully on int8 XNNPACK).
        name: model name.

    Returns:
        A `FaceModel` from float32 RGB pixels 0..255 (N, H, W, 3) to the embedding (N, D), not
        L2-normalized. Normalization is the layer "normalize", the output layer is "embedding".

    Reference:
        C. N. Duong, K. G. Quach, I. Jalata, N. Le, K. Luu. "MobiFace: A Lightweight Deep
        Learning Face Recognition on Mobile Devices", arXiv:1811.11080, 2018.
    """
    return blocks.face_model(MOBIFACE_BLOCKS, model="mobiface", input_shape=input_shape,
                             embedding_size=embedding_size, head=head, activation=activation, name=name)
