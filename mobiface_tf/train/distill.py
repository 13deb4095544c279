"""Teacher distillation: the teacher in the input pipeline, the student's projection and the cosine loss.

The student learns to reproduce a teacher's embedding of every face it sees ("mimic networks"):
for each training batch the teacher embeds the same augmented view the student receives, and the
loss is `1 - cos(P s, t)` where `s` is the student's embedding (D), `t` the teacher's (D') and
`P` a learned linear projection D -> D' (`make_projection`). `P` is trained with the student and
saved in the run's checkpoints, but it is not part of the student: the exported embedding model
(`best.keras`, `final.keras`, `.tflite`) is the student alone, so teacher and student may differ
in embedding size.

The teacher is any model `mobiface_tf.embedding.load_embedding_model` opens (`.tflite` through
LiteRT on the CPU, `.keras`, a run folder), with its own pixel normalization and batch
constraints (a fixed-batch `.tflite` is padded). It runs inside `tf.data` (`attach_teacher`,
through `tf.numpy_function`), so on a CPU the teacher's forward pass of batch k+1 overlaps the
student's training step on batch k, and on a GPU the teacher never occupies the accelerator.
"""

import threading
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mobiface_tf.data.sources import list_image_files

PROJECTION_NAME = "distill_projection"
_COS_EPS = 1e-12


def load_teacher(path, *, input_mean=None, input_std=None, num_threads=1):
    """Open a teacher model: a `.tflite`, `.keras` or training run folder (a SavedModel is refused:
    it would run its own TensorFlow ops).

    A run folder is opened through `embedding.run_checkpoint` (`best.keras`, else
    `final.keras`). `input_mean` / `input_std` override the normalization
    given by the teacher's metadata JSON (a `.tflite` without one needs them).

    Returns:
        An `EmbeddingModel` (`.embed(faces 0..255) -> (N, D')`, `.embedding_size`).

    Raises:
        ModelLoadError: the teacher cannot be read, or its normalization is unknown.
    """
    from mobiface_tf.embedding import load_embedding_model

    return load_embedding_model(Path(path).expanduser(), input_mean=input_mean, input_std=input_std,
                                num_threads=num_threads)


def teacher_of(config):
    """The teacher a `TrainConfig` names (`config.teacher`), or None when it names none."""
    if not config.teacher:
        return None
    return load_teacher(config.teacher, input_mean=config.teacher_input_mean,
                        input_std=config.teacher_input_std, num_threads=config.teacher_threads)


def attach_teacher(dataset, teacher):
    """Map a dataset of batches `(images, labels)` to `(images, labels, teacher_embeddings)`.

    `images` are float32 (B, 112, 112, 3) in 0..255 (after augmentation, so the teacher sees
    exactly the student's view); `teacher_embeddings` are float32 (B, D'). The teacher runs
    sequentially (one batch at a time: an interpreter is not thread-safe) and is followed by a
    prefetch, so it works ahead of the training step.
    """
    size = teacher.embedding_size
    lock = threading.Lock()

    def embed(images):
        with lock:  # one interpreter, however many pipelines (one per replica input) call it
            return teacher.embed(images).astype(np.float32, copy=False)

    def add_teacher(images, labels):
        # stateful=True: otherwise tf.data's map_parallelization runs calls concurrently.
        embeddings = tf.numpy_function(embed, [images], tf.float32, stateful=True)
        embeddings = tf.ensure_shape(embeddings, [images.shape[0], size])
        return images, labels, embeddings

    return dataset.map(add_teacher).prefetch(tf.data.AUTOTUNE)


def make_projection(student_size, teacher_size):
    """The learned linear map student embedding (D) -> teacher space (D'), built, float32."""
    projection = keras.layers.Dense(int(teacher_size), use_bias=False, dtype="float32", name=PROJECTION_NAME)
    projection.build((None, int(student_size)))
    return projection


def cosine_distillation_loss(projected, teacher_embeddings):
    """Per-example `1 - cos(projected, teacher)`, float32 (B,), in [0, 2]."""
    projected = tf.cast(projected, tf.float32)
    teacher_embeddings = tf.cast(teacher_embeddings, tf.float32)
    a = tf.math.l2_normalize(projected, axis=-1, epsilon=_COS_EPS)
    b = tf.math.l2_normalize(teacher_embeddings, axis=-1, epsilon=_COS_EPS)
    return 1.0 - tf.reduce_sum(a * b, axis=-1)


def relational_loss(student_embeddings, teacher_embeddings):
    """Mean squared difference between the student's and the teacher's pairwise cosine
    similarities within a batch (off-diagonal pairs), float32 scalar.

    Verification compares faces by cosine, so this matches what is used, not only each
    embedding's direction: it is computed on the student's own embedding (not its projection),
    the geometry the exported model ships ("relational knowledge distillation", Park et al. 2019,
    in its angle-free, cosine form).
    """
    s = tf.math.l2_normalize(tf.cast(student_embeddings, tf.float32), axis=-1, epsilon=_COS_EPS)
    t = tf.math.l2_normalize(tf.cast(teacher_embeddings, tf.float32), axis=-1, epsilon=_COS_EPS)
    difference = tf.matmul(s, s, transpose_b=True) - tf.matmul(t, t, transpose_b=True)
    batch = tf.cast(tf.shape(s)[0], tf.float32)
    # The diagonal is 1 - 1 = 0 for both; divide by the off-diagonal count only.
    return tf.reduce_sum(tf.square(difference)) / tf.maximum(batch * (batch - 1.0), 1.0)


def list_face_files(root):
    """Every face image under `root` (any nesting, hidden entries skipped), sorted: the one walker
    and image rule of `sources.list_image_files`.

    Raises:
        DataNotFoundError: `root` is not a folder or holds no image.
    """
    return list_image_files(root).paths
