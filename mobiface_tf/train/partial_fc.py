"""Partial FC: each step's softmax over a sample of the class centres, for 100K+ identities.

After InsightFace's partial FC (An et al., "Partial FC: Training 10 Million Identities on a Single
Machine", ICCVW 2021; `recognition/arcface_torch/partial_fc.py`): the softmax of a step runs
over the centres of the batch's own identities plus random others, `num_sampled` in all, so the
logits, the margin and the classifier's gradient scale with the sample, not with the identity
count. The centres are the rows of a (num_classes, D) matrix (`SampledCosineClassifier`), so the
gradient of the rows a step gathers is sparse (`tf.IndexedSlices`), and `SparseMomentumSGD`
updates only those rows and their momentum, with their coupled L2 term (the "lazy" momentum of
partial FC v1): besides its weights and momentum the classifier needs memory for the sample only.

Each replica samples for its own share of the batch; the sparse gradients are summed across
replicas as usual, so every replica applies the same update.
"""

import math

import keras
import tensorflow as tf


def num_sampled(num_classes, sample_rate, replica_batch_size):
    """Centres in each replica's softmax: `sample_rate` of `num_classes`, at least the replica's
    batch (whose own identities are always in), at most `num_classes`."""
    return int(min(num_classes, max(math.ceil(sample_rate * num_classes), replica_batch_size)))


def sample_centres(labels, num_classes, num_sampled):
    """`(rows, targets)`: the sorted rows of `num_sampled` class centres, every identity of `labels`
    (int, (N,)) among them and random others filling the rest; `targets[i]` is the position of
    `labels[i]` in `rows`. `num_sampled` must be at least the number of distinct labels."""
    labels = tf.cast(labels, tf.int32)
    scores = tf.random.uniform([num_classes])
    # Positives score 2, above every uniform draw, so top_k always keeps them.
    scores = tf.tensor_scatter_nd_update(scores, labels[:, tf.newaxis], tf.fill(tf.shape(labels), 2.0))
    rows = tf.sort(tf.math.top_k(scores, num_sampled, sorted=False).indices)
    return rows, tf.searchsorted(rows, labels)


def gather_rows(variable, rows):
    """`variable[rows]` read as those rows only (ResourceGather): a Keras variable handed to `tf.gather`
    is first read whole, and a whole-matrix read still alive when the rows are then updated in place
    makes TensorFlow copy the matrix (copy-on-write) on every step."""
    return tf.gather(variable.value if isinstance(variable, keras.Variable) else variable, rows)


def _normalized_rows(matrix):
    return matrix / tf.sqrt(tf.reduce_sum(matrix * matrix, axis=1, keepdims=True) + 1e-12)


@keras.saving.register_keras_serializable(package="mobiface")
class SampledCosineClassifier(keras.layers.Layer):
    """Cosine logits against L2-normalized class centres stored as ROWS of `kernel`
    (num_classes, D), the layout whose gathered rows have a sparse gradient.

    Calling it gives every class's cosine (N, num_classes), as `losses.CosineClassifier` does
    (validation, the flip stage); `sampled(embeddings, labels, num_sampled)` gives the partial
    FC logits a training step uses.

    Args:
        num_classes: number of identities, >= 2.
        initializer: initializer of the centres.
    """

    def __init__(self, num_classes, initializer="glorot_normal", **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"SampledCosineClassifier needs at least 2 classes. Received `num_classes={num_classes}`")
        self.num_classes = int(num_classes)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(self.num_classes, int(input_shape[-1])),
                                      initializer=self.initializer, trainable=True)

    def call(self, embeddings):
        embeddings = tf.cast(embeddings, self.kernel.dtype)
        return tf.matmul(_normalized_rows(embeddings), _normalized_rows(tf.convert_to_tensor(self.kernel)),
                         transpose_b=True)

    def sampled(self, embeddings, labels, num_sampled):
        """`(cos_logits (N, num_sampled), targets (N,), centres (num_sampled, D))`: the cosines against
        the centres `sample_centres` picks, each label's column in them, and the un-normalized
        centres gathered (their coupled L2 term belongs to this step)."""
        rows, targets = sample_centres(labels, self.num_classes, num_sampled)
        centres = gather_rows(self.kernel, rows)
        embeddings = tf.cast(embeddings, centres.dtype)
        return tf.matmul(_normalized_rows(embeddings), _normalized_rows(centres), transpose_b=True), targets, centres

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "initializer": keras.initializers.serialize(self.initializer)})
        return config


class SparseMomentumSGD(keras.optimizers.SGD):
    """SGD with momentum that updates a variable with a sparse gradient (`tf.IndexedSlices`) only in
    the rows the gradient names: their momentum, then the rows, with the coupled L2 term
    `sparse_l2 * w` of those rows added to their gradient. Dense gradients get Keras' SGD.

    The momentum of a row that a step did not sample is left as it was (partial FC's lazy
    momentum) instead of being decayed by 0.9 on every step: a dense momentum update would read
    and write the whole (num_classes, D) matrix, and hold a copy of it, every step.
    """

    def __init__(self, *args, sparse_l2=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        if self.nesterov:
            raise ValueError("SparseMomentumSGD has no Nesterov form")
        self.sparse_l2 = float(sparse_l2)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        # Replicas' gradients arrive concatenated: a row sampled by two replicas appears twice.
        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
        learning_rate = tf.cast(learning_rate, variable.dtype)
        values = tf.cast(values, variable.dtype) + self.sparse_l2 * gather_rows(variable, rows)
        step = -learning_rate * values
        if self.momentum != 0:
            momentum = self.momentums[self._get_variable_index(variable)]
            step = self.momentum * gather_rows(momentum, rows) + step
            self.assign(momentum, tf.IndexedSlices(step, rows))
        self.assign_add(variable, tf.IndexedSlices(step, rows))

    def get_config(self):
        config = super().get_config()
        config["sparse_l2"] = self.sparse_l2
        return config
