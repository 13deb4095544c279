"""TFRecord face datasets: `tf.train.Example` records of encoded image, label and identity name.

Each record holds `image/encoded` (JPEG or PNG bytes, stored as given), `image/label` (int64)
and, when known, `image/identity` (the identity's folder name).
"""

from pathlib import Path

import tensorflow as tf

from mobiface_tf.errors import BadInputError, DataNotFoundError

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/label": tf.io.FixedLenFeature([], tf.int64),
    "image/identity": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def make_example(image_bytes, label, identity=None):
    """A serialized `tf.train.Example` for one face."""
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[bytes(image_bytes)])),
        "image/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    if identity:
        feature["image/identity"] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[str(identity).encode("utf-8")])
        )
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_example(serialized):
    """Parse one serialized record into `(image_bytes, label int64, identity)` tensors."""
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    return parsed["image/encoded"], parsed["image/label"], parsed["image/identity"]


def write_tfrecord(path, samples):
    """Write `(image_bytes, label[, identity])` samples to one TFRecord file; returns the count."""
    count = 0
    with tf.io.TFRecordWriter(str(path)) as writer:
        for sample in samples:
            writer.write(make_example(*sample))
            count += 1
    return count


def tfrecord_files(path):
    """The TFRecord files named by `path`: a file, a glob pattern, a folder of `*.tfrecord*`
    files, or a list of any of these; sorted, so shards keep a stable order.

    Raises:
        DataNotFoundError: nothing matches.
    """
    if isinstance(path, (list, tuple)):
        files = [name for item in path for name in tfrecord_files(item)]
        return sorted(dict.fromkeys(files))
    path = str(path)
    if Path(path).is_dir():
        files = tf.io.gfile.glob(str(Path(path) / "*.tfrecord*"))
    else:
        files = tf.io.gfile.glob(path)
    if not files:
        raise DataNotFoundError("no TFRecord file matches", path=path)
    return sorted(files)


def read_tfrecord(path):
    """Yield `(image_bytes, label int, identity str)` from TFRecord file(s), eagerly, in order.

    Raises:
        BadInputError: a file is truncated or a record is not a face Example.
    """
    files = tfrecord_files(path)
    dataset = tf.data.TFRecordDataset(files).map(parse_example)
    iterator = iter(dataset)
    index = 0
    while True:
        try:
            image, label, identity = next(iterator)
        except StopIteration:
            return
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            raise BadInputError(
                f"record {index}: not a readable face Example ({error.message.splitlines()[0]})",
                path=files[0] if len(files) == 1 else str(path),
            ) from None
        index += 1
        yield image.numpy(), int(label.numpy()), identity.numpy().decode("utf-8")
