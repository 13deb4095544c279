"""Margin heads: each loss against logits computed by hand with math.cos / math.acos."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobiface_tf.train import losses

# Two samples, three classes: sample 0 is class 1, sample 1 is class 2 (whose cosine, -0.9, is
# past the ArcFace threshold cos(pi - 0.5) = -0.8776).
COS = [[0.2, 0.6, -0.1], [0.3, 0.1, -0.9]]
LABELS = [1, 2]


def _logits(margin):
    return margin(tf.constant(COS, tf.float32), tf.constant(LABELS)).numpy()


def _expected(target_fn, scale=64.0):
    rows = []
    for row, label in zip(COS, LABELS):
        rows.append([scale * (target_fn(c) if j == label else c) for j, c in enumerate(row)])
    return np.array(rows)


def test_softmax_is_scaled_cosine():
    np.testing.assert_allclose(_logits(losses.softmax(scale=30.0)), 30.0 * np.array(COS), rtol=1e-6)


def test_arcface_adds_angle_and_falls_back_past_pi():
    def target(c):
        if math.acos(c) + 0.5 > math.pi:
            return c - 0.5 * math.sin(0.5)
        return math.cos(math.acos(c) + 0.5)

    got = _logits(losses.arcface())
    np.testing.assert_allclose(got, _expected(target), rtol=1e-5, atol=1e-4)
    # By hand: cos(acos(0.6) + 0.5) = 0.6 cos .5 - 0.8 sin .5 = 0.14302...
    assert got[0, 1] == pytest.approx(64 * (0.6 * math.cos(0.5) - 0.8 * math.sin(0.5)), rel=1e-5)
    assert got[1, 2] == pytest.approx(64 * (-0.9 - 0.5 * math.sin(0.5)), rel=1e-5)


def test_arcface_easy_margin_keeps_negative_cosines():
    got = _logits(losses.arcface(easy_margin=True))
    assert got[1, 2] == pytest.approx(64 * -0.9, rel=1e-6)
    assert got[0, 1] == pytest.approx(64 * math.cos(math.acos(0.6) + 0.5), rel=1e-5)


def test_cosface_subtracts_from_target_only():
    got = _logits(losses.cosface())
    np.testing.assert_allclose(got, _expected(lambda c: c - 0.35), rtol=1e-6)


def test_combined_margin_matches_insightface_formula():
    m1, m2, m3 = 1.5, 0.2, 0.1
    got = _logits(losses.combined(scale=10.0, m1=m1, m2=m2, m3=m3))

    def target(c):
        theta = math.acos(c)
        if m1 * theta + m2 > math.pi:
            return c - m3 - m2 * math.sin(m2)
        return math.cos(m1 * theta + m2) - m3

    np.testing.assert_allclose(got, _expected(target, scale=10.0), rtol=1e-5, atol=1e-4)
    # acos(0.6) = 0.9273, 1.5*0.9273 + 0.2 = 1.591: cos = -0.0202, minus 0.1.
    assert got[0, 1] == pytest.approx(10 * (math.cos(1.5 * math.acos(0.6) + 0.2) - 0.1), rel=1e-4)


def test_arcface_target_logit_is_monotonic_in_the_angle():
    cos = np.linspace(-1, 1, 401, dtype=np.float32)
    target = losses.arcface().target_logit(tf.constant(cos)).numpy()
    assert np.all(np.diff(target) > 0)


def test_registry_builds_every_loss_and_rejects_unknown_names():
    for name in losses.LOSSES:
        assert isinstance(losses.make_margin(name), losses.Margin)
    assert losses.make_margin("cosface", margin=0.2).m3 == pytest.approx(0.2)
    with pytest.raises(ValueError, match="sphereface"):
        losses.make_margin("sphereface")


def test_softmax_warmup_switches_at_the_given_step():
    warm = losses.SoftmaxWarmup(losses.arcface(), warmup_steps=5)
    cos, labels = tf.constant(COS), tf.constant(LABELS)
    np.testing.assert_allclose(warm(cos, labels, tf.constant(4)).numpy(), 64 * np.array(COS), rtol=1e-6)
    np.testing.assert_allclose(warm(cos, labels, tf.constant(5)).numpy(), _logits(losses.arcface()), rtol=1e-6)


def test_cosine_classifier_normalizes_embeddings_and_columns(tmp_path):
    layer = losses.CosineClassifier(3)
    x = np.array([[3.0, 4.0], [-1.0, 0.0]], np.float32)
    layer.build(x.shape)
    w = np.array([[2.0, 0.0, 1.0], [0.0, -5.0, 1.0]], np.float32)
    layer.kernel.assign(w)
    got = keras.ops.convert_to_numpy(layer(x))
    expected = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=0, keepdims=True))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[0, 0] == pytest.approx(0.6)

    inputs = keras.Input((2,))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "head.keras")
    again = keras.saving.load_model(tmp_path / "head.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(x)), got, rtol=1e-6)


def test_margin_rejects_bad_parameters():
    with pytest.raises(ValueError, match="scale=0"):
        losses.Margin(scale=0)
    with pytest.raises(ValueError, match="m1"):
        losses.Margin(m1=0.5)
