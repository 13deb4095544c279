"""Partial FC (train.partial_fc): the sample holds the batch's identities, only sampled centres move,
and with every centre sampled it is the plain classifier with Keras SGD."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobiface_tf.train import losses, partial_fc

NUM_CLASSES, DIM = 40, 8


def test_sample_keeps_every_label_and_maps_it_to_its_column():
    tf.random.set_seed(1)
    labels = tf.constant([3, 17, 3, 39, 0])
    rows, targets = partial_fc.sample_centres(labels, NUM_CLASSES, 10)
    rows, targets = rows.numpy(), targets.numpy()
    assert len(rows) == len(set(rows)) == 10 and (np.diff(rows) > 0).all()
    assert (rows[targets] == labels.numpy()).all()
    assert partial_fc.num_sampled(360_232, 0.1, 128) == 36_024
    assert partial_fc.num_sampled(100, 0.01, 16) == 16 and partial_fc.num_sampled(10, 0.5, 16) == 10


def _step(head, optimizer, embeddings, labels, num_sampled=None, l2=0.0):
    margin = losses.arcface()
    with tf.GradientTape() as tape:
        if num_sampled is None:
            cos_logits, targets = head(embeddings), labels
        else:
            cos_logits, targets, _ = head.sampled(embeddings, labels, num_sampled)
        loss = tf.reduce_mean(losses.margin_cross_entropy(margin(cos_logits, targets), targets))
        if l2:
            loss += 0.5 * l2 * tf.reduce_sum(tf.square(head.kernel))
    gradients = tape.gradient(loss, head.trainable_variables)
    optimizer.apply_gradients(zip(gradients, head.trainable_variables))
    return gradients[0]


def test_with_every_centre_sampled_it_is_the_plain_classifier_with_sgd():
    embeddings = tf.constant(np.random.default_rng(0).normal(size=(6, DIM)), tf.float32)
    labels = tf.constant([1, 5, 5, 9, 22, 39])
    plain = losses.CosineClassifier(NUM_CLASSES)
    plain.build((None, DIM))
    sampled = partial_fc.SampledCosineClassifier(NUM_CLASSES)
    sampled.build((None, DIM))
    sampled.kernel.assign(tf.transpose(plain.kernel))
    np.testing.assert_allclose(sampled(embeddings).numpy(), plain(embeddings).numpy(), atol=1e-6)
    sgd = keras.optimizers.SGD(0.5, momentum=0.9)
    sparse = partial_fc.SparseMomentumSGD(learning_rate=0.5, momentum=0.9, sparse_l2=5e-4)
    for _ in range(3):  # momentum carries over: every row is sampled every step, so lazy = dense
        _step(plain, sgd, embeddings, labels, l2=5e-4)
        gradient = _step(sampled, sparse, embeddings, labels, num_sampled=NUM_CLASSES)
        assert isinstance(gradient, tf.IndexedSlices)
    np.testing.assert_allclose(sampled.kernel.numpy(), plain.kernel.numpy().T, rtol=1e-4, atol=1e-6)


def test_only_the_sampled_centres_and_their_momentum_move():
    tf.random.set_seed(3)
    head = partial_fc.SampledCosineClassifier(NUM_CLASSES)
    head.build((None, DIM))
    optimizer = partial_fc.SparseMomentumSGD(learning_rate=0.5, momentum=0.9, sparse_l2=5e-4)
    optimizer.build(head.trainable_variables)
    before = head.kernel.numpy().copy()
    labels = tf.constant([2, 2, 30])
    gradient = _step(head, optimizer, tf.random.normal((3, DIM)), labels, num_sampled=5)
    moved = set(np.flatnonzero(np.abs(head.kernel.numpy() - before).sum(axis=1)))
    # Centres of far-off negatives may move by less than float32 resolves; their momentum shows them.
    updated = set(np.flatnonzero(np.abs(optimizer.momentums[0].numpy()).sum(axis=1)))
    assert {2, 30} <= moved <= updated and len(updated) == 5
    assert sorted(gradient.indices.numpy()) == sorted(set(gradient.indices.numpy()))
    with pytest.raises(ValueError, match="Nesterov"):
        partial_fc.SparseMomentumSGD(learning_rate=0.1, momentum=0.9, nesterov=True)


def test_sampled_classifier_round_trips_through_keras_files(tmp_path):
    inputs = keras.Input((DIM,))
    model = keras.Model(inputs, partial_fc.SampledCosineClassifier(NUM_CLASSES, name="head")(inputs))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(1).normal(size=(2, DIM)).astype(np.float32)
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-6)
