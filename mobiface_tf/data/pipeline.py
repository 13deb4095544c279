"""tf.data input pipelines for training and evaluation: decode, flip, shuffle, batch, shard.

Every dataset yields `(images float32 (B, 112, 112, 3) in 0..255, labels int32 (B,))`. The
model normalizes pixels itself, so nothing here scales them.

A record that cannot be read or decoded (missing file, truncated JPEG, corrupt `.rec` record)
is dropped, not fatal, and counted in a `SkipCounter` (`dataset.skip_counter` unless one is
passed in). The preprocessing ops are small functions of tensors, usable eagerly and inside
`Dataset.map`, and tested both ways.
"""

import numpy as np
import tensorflow as tf
from absl import logging

from mobiface_tf.errors import BadInputError

FACE_SIZE = 112
AUTOTUNE = tf.data.AUTOTUNE
# Records (encoded faces of ~5-10 KB) held by the shuffle buffer of a streamed TFRecord source.
RECORD_SHUFFLE_BUFFER = 10_000


# --- preprocessing ops -------------------------------------------------------------------------


def decode_face(image_bytes, size=FACE_SIZE):
    """Decode JPEG/PNG/GIF/BMP bytes to float32 (size, size, 3) RGB in 0..255.

    Grayscale and RGBA become 3-channel RGB. An image of another size is resized (bilinear,
    antialiased); an aligned crop of the right size passes through untouched.
    """
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    image = tf.cond(
        tf.logical_and(tf.equal(shape[0], size), tf.equal(shape[1], size)),
        lambda: image,
        lambda: tf.image.resize(image, (size, size), antialias=True),
    )
    image.set_shape((size, size, 3))
    return image


def random_flip(image, seed):
    """Flip `image` (H, W, C) left-right with probability 1/2, decided by `seed` (int64 [2]).

    Stateless, so the same seed always gives the same decision, eagerly or inside tf.data.
    """
    return tf.image.stateless_random_flip_left_right(image, seed=seed)


def as_label(label):
    """Cast an integer label to the int32 the training losses expect."""
    return tf.cast(label, tf.int32)


# --- corrupt-record accounting -----------------------------------------------------------------


class SkipCounter:
    """Counts records a pipeline dropped because they could not be read or decoded.

    `skipped()` is exact once the dataset has been iterated to the end; while an iterator is
    live, records being decoded at that moment count as skipped until they finish (at most the
    parallelism plus the prefetch depth).
    """

    def __init__(self):
        # Created outside any distribution strategy so it stays one plain host variable.
        with tf.init_scope(), tf.device("/cpu:0"):
            self._attempted = tf.Variable(0, dtype=tf.int64, trainable=False, name="records_attempted")
            self._decoded = tf.Variable(0, dtype=tf.int64, trainable=False, name="records_decoded")

    def attempted(self):
        """How many records decoding has started on."""
        return int(self._attempted.numpy())

    def skipped(self):
        """How many records were dropped as unreadable or corrupt."""
        return int(self._attempted.numpy() - self._decoded.numpy())

    def log(self, what="input pipeline"):
        """Log the count as a warning when anything was skipped; returns the count."""
        skipped = self.skipped()
        if skipped:
            logging.warning("%s: skipped %d of %d records (unreadable or corrupt)",
                            what, skipped, self.attempted())
        return skipped

    def counted(self, load):
        """Wrap `load(*element) -> (image, label)` so each call is counted; failures never
        reach the second increment and so remain counted as skipped."""

        def wrapped(*element):
            with tf.control_dependencies([self._attempted.assign_add(1)]):
                image, label = load(*element)
            with tf.control_dependencies([image, label]):
                done = self._decoded.assign_add(1)
            with tf.control_dependencies([done]):
                return tf.identity(image), tf.identity(label)

        return wrapped


# --- datasets ----------------------------------------------------------------------------------


def build_dataset(
    paths,
    labels,
    batch_size,
    *,
    training,
    seed=None,
    deterministic=False,
    drop_remainder=None,
    num_shards=1,
    shard_index=0,
    input_context=None,
    skip_counter=None,
):
    """A batched dataset of faces read from image files.

    Args:
        paths: image file paths (e.g. from `sources.list_identity_tree`).
        labels: one integer label per path.
        batch_size: images per batch; with `input_context` the GLOBAL batch, divided among the
            replicas by `input_context.get_per_replica_batch_size`.
        training: shuffle (the whole list, every epoch) and flip at random.
        seed: makes shuffling and flips reproducible (together with `deterministic=True`).
        deterministic: keep element order independent of thread timing (slower). Without it
            parallel decoding may reorder neighbouring samples (each image keeps its label);
            pass True where the output must follow the order of `paths`.
        drop_remainder: drop a last partial batch; defaults to `training`.
        num_shards, shard_index: read every `num_shards`-th sample starting at `shard_index`.
        input_context: a `tf.distribute.InputContext` (from
            `strategy.distribute_datasets_from_function`); it sets the shard and batch size.
        skip_counter: a `SkipCounter` to count corrupt files in; a new one otherwise. Either
            way it is available as `dataset.skip_counter`.

    Returns:
        A `tf.data.Dataset` of (float32 (B, 112, 112, 3) in 0..255, int32 (B,)).
    """
    paths = [str(path) for path in paths]
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(paths):
        raise BadInputError(f"need one label per path: {len(paths)} paths, labels of shape {labels.shape}")
    if not paths:
        raise BadInputError("no image paths to build a dataset from")
    if not np.issubdtype(labels.dtype, np.integer):
        raise BadInputError(f"labels must be integers, received dtype {labels.dtype}")
    path_table = tf.constant(paths)
    label_table = tf.constant(labels.astype(np.int64))

    def load(index):
        image = decode_face(tf.io.read_file(tf.gather(path_table, index)))
        return image, as_label(tf.gather(label_table, index))

    return _index_pipeline(len(paths), load, batch_size, training=training, seed=seed,
                           deterministic=deterministic, drop_remainder=drop_remainder,
                           num_shards=num_shards, shard_index=shard_index,
                           input_context=input_context, skip_counter=skip_counter)


def dataset_from_records(
    path,
    batch_size,
    *,
    training,
    seed=None,
    deterministic=False,
    drop_remainder=None,
    num_shards=1,
    shard_index=0,
    input_context=None,
    skip_counter=None,
    shuffle_buffer=RECORD_SHUFFLE_BUFFER,
):
    """A batched dataset of faces from an InsightFace `.rec` or from TFRecord file(s).

    `path` ending in `.rec` opens the RecordIO dataset (its `.idx` beside it) and reads records
    by key, shuffling the whole index each epoch; anything else names TFRecord files (a file,
    glob, folder or list, see `tfrecords.tfrecord_files`), streamed file-interleaved through a
    `shuffle_buffer`-record buffer. The other arguments are those of `build_dataset`.
    """
    if not isinstance(path, (list, tuple)) and str(path).endswith(".rec"):
        return _rec_dataset(path, batch_size, training=training, seed=seed,
                            deterministic=deterministic, drop_remainder=drop_remainder,
                            num_shards=num_shards, shard_index=shard_index,
                            input_context=input_context, skip_counter=skip_counter)
    return _tfrecord_dataset(path, batch_size, training=training, seed=seed,
                             deterministic=deterministic, drop_remainder=drop_remainder,
                             num_shards=num_shards, shard_index=shard_index,
                             input_context=input_context, skip_counter=skip_counter,
                             shuffle_buffer=shuffle_buffer)


def _rec_dataset(path, batch_size, **kwargs):
    from mobiface_tf.data.recordio import read_insightface_rec

    record = read_insightface_rec(path)

    def read(index):
        image, label = record.read(int(index))
        return image, np.int64(label)

    def load(index):
        image_bytes, label = tf.numpy_function(read, [index], (tf.string, tf.int64), stateful=False)
        return decode_face(image_bytes), as_label(tf.reshape(label, []))

    dataset = _index_pipeline(len(record), load, batch_size, **kwargs)
    dataset.record = record  # keeps the memory-mapped file open as long as the dataset lives
    return dataset


def _tfrecord_dataset(path, batch_size, *, training, seed, deterministic, drop_remainder,
                      num_shards, shard_index, input_context, skip_counter, shuffle_buffer):
    from mobiface_tf.data.tfrecords import parse_example, tfrecord_files

    files = tfrecord_files(path)
    num_shards, shard_index, batch_size = _resolve_sharding(
        num_shards, shard_index, input_context, batch_size)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    # Whole files per shard when there are enough of them; otherwise every shard reads every
    # file and keeps its share of the records.
    shard_files = len(files) >= num_shards
    if shard_files:
        dataset = dataset.shard(num_shards, shard_index)
    if training and shard_files:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=AUTOTUNE,
        # Record-level sharding needs every shard to see the records in the same order.
        deterministic=deterministic or not shard_files,
    )
    if not shard_files:
        dataset = dataset.shard(num_shards, shard_index)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def load(serialized):
        image_bytes, label, _ = parse_example(serialized)
        return decode_face(image_bytes), as_label(label)

    return _decode_batch(dataset, load, batch_size, training=training, seed=seed,
                         deterministic=deterministic, drop_remainder=drop_remainder,
                         skip_counter=skip_counter)


def _index_pipeline(size, load, batch_size, *, training, seed, deterministic, drop_remainder,
                    num_shards, shard_index, input_context, skip_counter):
    num_shards, shard_index, batch_size = _resolve_sharding(
        num_shards, shard_index, input_context, batch_size)
    dataset = tf.data.Dataset.range(size).shard(num_shards, shard_index)
    if training:
        # Shuffling int64 indices rather than decoded images makes a full shuffle cheap:
        # 8 bytes per sample even for millions of faces.
        shard_size = len(range(shard_index, size, num_shards))
        dataset = dataset.shuffle(max(shard_size, 1), seed=seed, reshuffle_each_iteration=True)
    return _decode_batch(dataset, load, batch_size, training=training, seed=seed,
                         deterministic=deterministic, drop_remainder=drop_remainder,
                         skip_counter=skip_counter)


def _resolve_sharding(num_shards, shard_index, input_context, batch_size):
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise BadInputError(f"batch_size must be a positive integer, received {batch_size!r}")
    if input_context is not None:
        if (num_shards, shard_index) != (1, 0):
            raise BadInputError(
                "pass either input_context or num_shards/shard_index, not both "
                f"(received num_shards={num_shards}, shard_index={shard_index})"
            )
        return (input_context.num_input_pipelines, input_context.input_pipeline_id,
                input_context.get_per_replica_batch_size(batch_size))
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise BadInputError(
            f"need 0 <= shard_index < num_shards, received num_shards={num_shards}, "
            f"shard_index={shard_index}"
        )
    return num_shards, shard_index, int(batch_size)


def _decode_batch(dataset, load, batch_size, *, training, seed, deterministic, drop_remainder,
                  skip_counter):
    skip_counter = skip_counter or SkipCounter()
    dataset = dataset.map(skip_counter.counted(load), num_parallel_calls=AUTOTUNE,
                          deterministic=deterministic)
    dataset = dataset.ignore_errors()
    if training:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda image_label, flip_seed: (random_flip(image_label[0], flip_seed), image_label[1]),
            num_parallel_calls=AUTOTUNE,
            deterministic=deterministic,
        )
    dataset = dataset.batch(batch_size, drop_remainder=training if drop_remainder is None else drop_remainder)
    dataset = dataset.prefetch(AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    # Sharding is done here explicitly; auto-sharding on top would read each sample less often.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    dataset = dataset.with_options(options)
    dataset.skip_counter = skip_counter
    return dataset

