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
    """Decode image bytes to float32 (size, size, 3) RGB in 0..255.

    Every image the project's image rule accepts (`mobiface_tf.data.images.IMAGE_FORMATS`):
    JPEG, PNG, GIF, BMP and WebP with TensorFlow's decoders, the others (TIFF, JPEG 2000, ...)
    through Pillow's `load_rgb`, so a tree that the walker lists trains as it is listed.
    Grayscale and RGBA become 3-channel RGB. An image of another size is resized (bilinear,
    antialiased); an aligned crop of the right size passes through untouched.
    """
    image = tf.cond(
        _tensorflow_decodes(image_bytes),
        lambda: tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
        lambda: _pillow_decode(image_bytes),
    )
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    image = tf.cond(
        tf.logical_and(tf.equal(shape[0], size), tf.equal(shape[1], size)),
        lambda: image,
        lambda: tf.image.resize(image, (size, size), antialias=True),
    )
    image.set_shape((size, size, 3))
    return image


# Signatures of the formats tf.io.decode_image reads (WebP: "RIFF" then "WEBP" at byte 8).
_TENSORFLOW_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


def _tensorflow_decodes(image_bytes):
    head = tf.strings.substr(image_bytes, 0, 4)
    known = tf.reduce_any([tf.strings.substr(head, 0, len(sig)) == sig for sig in _TENSORFLOW_SIGNATURES])
    webp = tf.logical_and(head == b"RIFF", tf.strings.substr(image_bytes, 8, 4) == b"WEBP")
    return tf.logical_or(known, webp)


def _pillow_decode(image_bytes):
    def decode(data):
        from mobiface_tf.data.images import load_rgb

        return load_rgb(data.item() if isinstance(data, np.ndarray) else bytes(data))

    image = tf.numpy_function(decode, [image_bytes], tf.uint8, stateful=False)
    image.set_shape((None, None, 3))
    return image


def random_flip(image, seed):
    """Flip `image` (H, W, C) left-right with probability 1/2, decided by `seed` (int64 [2]).

    Stateless, so the same seed always gives the same decision, eagerly or inside tf.data.
    """
    return tf.image.stateless_random_flip_left_right(image, seed=seed)


def _split_seed(seed, count):
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), count))


def random_crop_jitter(image, seed, max_shift=0.05, max_scale=0.08):
    """Shift `image` (H, W, 3) by up to `max_shift` of its side and zoom it by a factor in
    [1 - max_scale, 1 + max_scale], resampled (bilinear) to the same size; decided by `seed`.

    Zooming out leaves a thin black border, as a looser detector crop would show background.
    """
    shape = tf.shape(image)
    scale_seed, shift_seed = _split_seed(seed, 2)
    zoom = tf.random.stateless_uniform([], scale_seed, 1.0 - max_scale, 1.0 + max_scale)
    shift = tf.random.stateless_uniform([2], shift_seed, -max_shift, max_shift)
    half = 0.5 / zoom
    centre = 0.5 + shift
    box = tf.stack([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])
    out = tf.image.crop_and_resize(image[tf.newaxis], box[tf.newaxis], [0], shape[:2])[0]
    return tf.ensure_shape(out, image.shape)


def random_color(image, seed, brightness=0.15, contrast=0.25, saturation=0.3):
    """Random brightness (+-`brightness` of full scale), contrast and saturation (factors in
    1 +- the value) of a 0..255 RGB `image`, clipped back to 0..255; decided by `seed`."""
    b_seed, c_seed, s_seed = _split_seed(seed, 3)
    delta = tf.random.stateless_uniform([], b_seed, -brightness, brightness) * 255.0
    c = tf.random.stateless_uniform([], c_seed, 1.0 - contrast, 1.0 + contrast)
    s = tf.random.stateless_uniform([], s_seed, 1.0 - saturation, 1.0 + saturation)
    gray = tf.reduce_sum(image * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    image = gray + s * (image - gray)
    mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
    image = mean + c * (image - mean) + delta
    return tf.clip_by_value(image, 0.0, 255.0)


def random_blur(image, seed, probability=0.2, max_sigma=1.5, radius=3):
    """With `probability`, a Gaussian blur of sigma in [0.3, `max_sigma`] (separable, reflected
    edges) of `image` (H, W, C); decided by `seed`. Mimics out-of-focus and low-resolution faces."""
    apply_seed, sigma_seed = _split_seed(seed, 2)
    sigma = tf.random.stateless_uniform([], sigma_seed, 0.3, max_sigma)
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / sigma))
    kernel /= tf.reduce_sum(kernel)
    channels = image.shape[-1]
    x = tf.pad(image[tf.newaxis], [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    x = tf.nn.depthwise_conv2d(x, tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1]),
                               [1, 1, 1, 1], "VALID")
    x = tf.nn.depthwise_conv2d(x, tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1]),
                               [1, 1, 1, 1], "VALID")[0]
    apply = tf.random.stateless_uniform([], apply_seed) < probability
    return tf.ensure_shape(tf.where(apply, x, image), image.shape)


def augment_face(image, seed):
    """The "full" training augmentation of an aligned face: flip, crop jitter, colour, blur."""
    seeds = _split_seed(seed, 4)
    image = random_flip(image, seeds[0])
    image = random_crop_jitter(image, seeds[1])
    image = random_color(image, seeds[2])
    return random_blur(image, seeds[3])


def random_erase(image, seed, probability=0.5, min_area=0.05, max_area=0.25):
    """With `probability`, fill a random rectangle of `min_area`..`max_area` of the face (aspect
    ratio 1/2..2) with its mean colour; decided by `seed`. Mimics occlusion (hands, glasses,
    hair) and makes the network use the whole face rather than one part of it."""
    apply_seed, area_seed, aspect_seed, position_seed = _split_seed(seed, 4)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    area = tf.random.stateless_uniform([], area_seed, min_area, max_area) * shape[0] * shape[1]
    aspect = tf.exp(tf.random.stateless_uniform([], aspect_seed, -0.6931, 0.6931))
    height = tf.minimum(tf.sqrt(area * aspect), shape[0])
    width = tf.minimum(tf.sqrt(area / aspect), shape[1])
    corner = tf.random.stateless_uniform([2], position_seed) * (shape - tf.stack([height, width]))
    rows = tf.range(shape[0])[:, tf.newaxis]
    cols = tf.range(shape[1])[tf.newaxis, :]
    inside = ((rows >= corner[0]) & (rows < corner[0] + height) & (cols >= corner[1]) & (cols < corner[1] + width))
    inside &= tf.random.stateless_uniform([], apply_seed) < probability
    fill = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
    return tf.ensure_shape(tf.where(inside[..., tf.newaxis], fill, image), image.shape)


def random_grayscale(image, seed, probability=0.1):
    """With `probability`, the luma of `image` in all three channels; decided by `seed`."""
    gray = tf.reduce_sum(image * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    apply = tf.random.stateless_uniform([], seed) < probability
    return tf.where(apply, tf.broadcast_to(gray, tf.shape(image)), image)


def augment_face_strong(image, seed):
    """The "strong" training augmentation: `augment_face` with twice the crop jitter, plus
    occlusion (`random_erase`) and occasional grayscale. Meant for distillation, where the
    teacher labels whatever view the student sees, so a harder view costs no label noise."""
    seeds = _split_seed(seed, 6)
    image = random_flip(image, seeds[0])
    image = random_crop_jitter(image, seeds[1], max_shift=0.08, max_scale=0.15)
    image = random_color(image, seeds[2])
    image = random_blur(image, seeds[3])
    image = random_grayscale(image, seeds[4])
    return random_erase(image, seeds[5])


def mix_views(images, labels, seed, fraction):
    """Replace the first `fraction` of a batch by mixtures of two faces, labelled -1.

    Example i (i < round(fraction * B)) becomes `lam * x_i + (1 - lam) * x_{i+1}` with `lam`
    uniform in [0, 1] per example (the batch is already shuffled, so neighbours are random
    pairs). For distillation only: the teacher embeds the mixed view too, so the student learns
    the teacher's function on inputs between faces, many more distinct inputs than the
    training set holds ("function matching", Beyer et al. 2022). A margin loss must skip the
    -1 labels (the trainer masks them).

    Args:
        images: float32 (B, H, W, C) batch.
        labels: int (B,) labels.
        seed: int64 [2] stateless seed.
        fraction: share of the batch to mix, 0..1.
    """
    batch = tf.shape(images)[0]
    count = tf.cast(tf.round(fraction * tf.cast(batch, tf.float32)), tf.int32)
    lam = tf.random.stateless_uniform([batch, 1, 1, 1], seed)
    partner = tf.roll(images, shift=-1, axis=0)
    mixed = lam * images + (1.0 - lam) * partner
    is_mixed = tf.range(batch) < count
    images = tf.where(is_mixed[:, tf.newaxis, tf.newaxis, tf.newaxis], mixed, images)
    labels = tf.where(is_mixed, tf.constant(-1, labels.dtype), labels)
    return images, labels


def add_mixed_views(dataset, fraction, seed):
    """Map a dataset of batches `(images, labels)` through `mix_views` with per-batch seeds
    drawn from `seed` (a resumed run passes seed + step, like the shuffle)."""
    seeds = tf.data.Dataset.random(seed=seed).batch(2)

    def mix(batch, batch_seed):
        images, labels = batch
        return mix_views(images, labels, batch_seed, fraction)

    return tf.data.Dataset.zip((dataset, seeds)).map(mix, num_parallel_calls=AUTOTUNE)


# Training augmentations by name: (image, seed int64 [2]) -> image. "flip" is the default.
AUGMENTATIONS = {
    "none": lambda image, seed: image,
    "flip": random_flip,
    "full": augment_face,
    "strong": augment_face_strong,
}


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
    augment="flip",
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
        augment: a name of `AUGMENTATIONS` applied to each training image ("flip": random
            horizontal flips; "full": `augment_face`); ignored when not training.

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
                           input_context=input_context, skip_counter=skip_counter, augment=augment)


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
    augment="flip",
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
                            input_context=input_context, skip_counter=skip_counter, augment=augment)
    return _tfrecord_dataset(path, batch_size, training=training, seed=seed,
                             deterministic=deterministic, drop_remainder=drop_remainder,
                             num_shards=num_shards, shard_index=shard_index,
                             input_context=input_context, skip_counter=skip_counter,
                             shuffle_buffer=shuffle_buffer, augment=augment)


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
                      num_shards, shard_index, input_context, skip_counter, shuffle_buffer, augment):
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
                         skip_counter=skip_counter, augment=augment)


def _index_pipeline(size, load, batch_size, *, training, seed, deterministic, drop_remainder,
                    num_shards, shard_index, input_context, skip_counter, augment):
    num_shards, shard_index, batch_size = _resolve_sharding(
        num_shards, shard_index, input_context, batch_size)
    if training:
        dataset = _shuffled_indices(size, num_shards, shard_index, seed)
    else:
        dataset = tf.data.Dataset.range(size).shard(num_shards, shard_index)
    return _decode_batch(dataset, load, batch_size, training=training, seed=seed,
                         deterministic=deterministic, drop_remainder=drop_remainder,
                         skip_counter=skip_counter, augment=augment)


def _shuffled_indices(size, num_shards, shard_index, seed):
    """This shard's sample indices (`shard_index`, `shard_index + num_shards`, ...) in a fresh random
    order on every pass over the dataset, each exactly once per pass.

    The order is one int64 permutation tensor per pass: 8 bytes per sample (46 MB for MS1M's
    5.8M faces), where a `shuffle` buffer of the same indices holds each as a tensor of its own
    (measured ~190 bytes each: 1.1 GB for 5.8M) and must fill before the first batch.
    """
    indices = tf.range(shard_index, size, num_shards, dtype=tf.int64)
    # One seed per pass, different on every repetition of the dataset.
    pass_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    return pass_seeds.flat_map(lambda pass_seed: tf.data.Dataset.from_tensor_slices(
        tf.random.experimental.stateless_shuffle(indices, seed=tf.stack([pass_seed, tf.constant(0, tf.int64)]))))


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
                  skip_counter, augment):
    if augment not in AUGMENTATIONS:
        raise BadInputError(f"unknown augmentation. Received `augment={augment!r}`; choose one of "
                            f"{sorted(AUGMENTATIONS)}")
    augment_fn = AUGMENTATIONS[augment]
    skip_counter = skip_counter or SkipCounter()
    dataset = dataset.map(skip_counter.counted(load), num_parallel_calls=AUTOTUNE,
                          deterministic=deterministic)
    dataset = dataset.ignore_errors()
    if training:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda image_label, seed_pair: (augment_fn(image_label[0], seed_pair), image_label[1]),
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

