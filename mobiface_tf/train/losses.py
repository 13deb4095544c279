"""Margin heads on cosine logits: the cosine classifier and ArcFace, CosFace, combined, softmax.

The classifier (`CosineClassifier`) only turns embeddings into cosine logits
`cos(theta_j) = <x / |x|, w_j / |w_j|>`; the margins are plain functions of those cosines and the
labels, so the same weights serve every loss (and the softmax warm-up switches loss without
touching them). Every margin returns logits ready for softmax cross-entropy, already multiplied
by the scale `s`.

Reference: Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition"
(CVPR 2019); InsightFace `recognition/arcface_torch/losses.py`.
"""

import math

import keras
import tensorflow as tf

# Cosines are clipped away from +-1 before `acos`, whose gradient is infinite there.
_COS_EPS = 1e-7


@keras.saving.register_keras_serializable(package="mobiface")
class CosineClassifier(keras.layers.Layer):
    """Cosine logits of L2-normalized embeddings against L2-normalized class centres.

    Holds one weight matrix `W` of shape (embedding_size, num_classes); column j is the centre of
    identity j. Returns `cos_logits` (N, num_classes) in [-1, 1], always computed in float32
    (build it with `dtype="float32"` under a mixed-precision policy).

    Args:
        num_classes: number of identities, >= 2.
        initializer: initializer of `W` (InsightFace uses a normal with std 0.01).
    """

    def __init__(self, num_classes, initializer="glorot_normal", **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"CosineClassifier needs at least 2 classes. Received `num_classes={num_classes}`")
        self.num_classes = int(num_classes)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(input_shape[-1]), self.num_classes),
            initializer=self.initializer,
            trainable=True,
        )

    def call(self, embeddings):
        embeddings = keras.ops.cast(embeddings, self.kernel.dtype)
        x = embeddings / keras.ops.sqrt(keras.ops.sum(embeddings * embeddings, axis=1, keepdims=True) + 1e-12)
        w = self.kernel / keras.ops.sqrt(keras.ops.sum(self.kernel * self.kernel, axis=0, keepdims=True) + 1e-12)
        return keras.ops.matmul(x, w)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_classes": self.num_classes, "initializer": keras.initializers.serialize(self.initializer)}
        )
        return config


class Margin:
    """Combined margin of InsightFace: the target logit becomes `s * (cos(m1*theta + m2) - m3)`.

    Non-target logits stay `s * cos(theta_j)`. ArcFace is (m1, m2, m3) = (1, 0.5, 0), CosFace
    (1, 0, 0.35), SphereFace-like m1 > 1, plain normalized softmax (1, 0, 0).

    `cos(m1*theta + m2)` stops decreasing once `m1*theta + m2 > pi`, which would reward moving a
    sample away from its class. As in InsightFace's ArcFace, past that threshold the target logit
    becomes `cos(theta) - m3 - m2 * sin(m2)` instead, which keeps it increasing in cos(theta).
    With `easy_margin=True` the margin applies only where cos(theta) > 0 and the raw cosine is
    kept elsewhere (the ArcFace paper's "easy margin" variant).

    Calling it: `margin(cos_logits, labels)` with cos_logits (N, C) float and integer labels (N,)
    returns scaled logits (N, C) float32.
    """

    def __init__(self, scale=64.0, m1=1.0, m2=0.0, m3=0.0, easy_margin=False):
        if scale <= 0:
            raise ValueError(f"The logit scale must be positive. Received `scale={scale}`")
        if m1 < 1 or m2 < 0 or m3 < 0 or m2 >= math.pi:
            raise ValueError(f"Margins need m1 >= 1, 0 <= m2 < pi, m3 >= 0. Received `(m1, m2, m3)={(m1, m2, m3)}`")
        self.scale = float(scale)
        self.m1, self.m2, self.m3 = float(m1), float(m2), float(m3)
        self.easy_margin = bool(easy_margin)

    def target_logit(self, cos_theta):
        """The margin-transformed target cosine (before scaling), elementwise on float32 input."""
        if self.m1 == 1.0 and self.m2 == 0.0:
            return cos_theta - self.m3
        if self.m1 == 1.0:
            # cos(theta + m2) by the sum formula: no acos, so no infinite gradient at cos = +-1.
            sin_theta = tf.sqrt(tf.clip_by_value(1.0 - cos_theta * cos_theta, 0.0, 1.0) + 1e-12)
            with_margin = cos_theta * math.cos(self.m2) - sin_theta * math.sin(self.m2)
            past_pi = cos_theta < math.cos(math.pi - self.m2)
        else:
            theta = tf.acos(tf.clip_by_value(cos_theta, -1.0 + _COS_EPS, 1.0 - _COS_EPS))
            with_margin = tf.cos(self.m1 * theta + self.m2)
            past_pi = self.m1 * theta + self.m2 > math.pi
        with_margin = with_margin - self.m3
        if self.easy_margin:
            return tf.where(cos_theta > 0.0, with_margin, cos_theta)
        fallback = cos_theta - self.m3 - self.m2 * math.sin(self.m2)
        return tf.where(past_pi, fallback, with_margin)

    def __call__(self, cos_logits, labels):
        cos_logits = tf.cast(cos_logits, tf.float32)
        is_target = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(cos_logits)[-1], on_value=True, off_value=False)
        logits = tf.where(is_target, self.target_logit(cos_logits), cos_logits)
        return self.scale * logits

    def __repr__(self):
        return f"Margin(scale={self.scale}, m1={self.m1}, m2={self.m2}, m3={self.m3}, easy_margin={self.easy_margin})"


def softmax(scale=64.0):
    """Normalized softmax (NormFace): `s * cos(theta)` for every class, no margin.

    "Plain softmax" here always means softmax over scaled cosines of the same `CosineClassifier`,
    not over unnormalized `W x + b` logits: that keeps one classifier for every loss and lets the
    softmax warm-up hand over to a margin without changing weights.
    """
    return Margin(scale=scale)


def arcface(scale=64.0, margin=0.5, easy_margin=False):
    """ArcFace, additive angular margin: target logit `s * cos(theta + m)` (s=64, m=0.5)."""
    return Margin(scale=scale, m2=margin, easy_margin=easy_margin)


def cosface(scale=64.0, margin=0.35):
    """CosFace, additive cosine margin: target logit `s * (cos(theta) - m)` (s=64, m=0.35)."""
    return Margin(scale=scale, m3=margin)


def combined(scale=64.0, m1=1.0, m2=0.3, m3=0.2, easy_margin=False):
    """InsightFace's combined margin `s * (cos(m1*theta + m2) - m3)` (default: its (1, 0.3, 0.2))."""
    return Margin(scale=scale, m1=m1, m2=m2, m3=m3, easy_margin=easy_margin)


# Loss name -> builder of a `Margin`; the only place the names are spelled.
LOSSES = {"softmax": softmax, "arcface": arcface, "cosface": cosface, "combined": combined}


def make_margin(name, scale=64.0, margin=None, m1=1.0, m2=0.3, m3=0.2, easy_margin=False):
    """Build the margin registered as `name` from the training configuration's fields.

    `margin` (None: the loss's default) applies to arcface and cosface; `m1, m2, m3` to combined.
    """
    if name not in LOSSES:
        raise ValueError(f"Unknown loss. Received `loss={name!r}`; choose one of {sorted(LOSSES)}")
    if name == "softmax":
        return softmax(scale)
    if name == "combined":
        return combined(scale, m1, m2, m3, easy_margin)
    kwargs = {} if margin is None else {"margin": margin}
    if name == "arcface":
        kwargs["easy_margin"] = easy_margin
    return LOSSES[name](scale, **kwargs)


class SoftmaxWarmup:
    """Plain normalized softmax for the first `warmup_steps` steps, then `margin`.

    ArcFace on small networks often diverges from a random start (every target angle is near
    pi/2, so the margin pushes logits below the others); a short softmax phase on the same
    classifier avoids it. Calling it: `warmup(cos_logits, labels, step)`, `step` a scalar tensor.
    """

    def __init__(self, margin, warmup_steps):
        if warmup_steps < 0:
            raise ValueError(f"Warm-up steps cannot be negative. Received `warmup_steps={warmup_steps}`")
        self.margin = margin
        self.warmup_steps = int(warmup_steps)
        self.plain = softmax(margin.scale)

    def __call__(self, cos_logits, labels, step):
        if self.warmup_steps == 0:
            return self.margin(cos_logits, labels)
        in_warmup = tf.cast(step, tf.int64) < self.warmup_steps
        return tf.where(in_warmup, self.plain(cos_logits, labels), self.margin(cos_logits, labels))


def margin_cross_entropy(logits, labels):
    """Per-example softmax cross-entropy of margin logits (N, C) against integer labels (N,)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)
