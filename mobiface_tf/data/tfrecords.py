"""TFRecord face datasets: `tf.train.Example` records of encoded image, label and identity name.

Each record holds `image/encoded` (JPEG or PNG bytes, stored as given), `image/label` (int64)
and, when known, `image/identity` (the identity's folder name).
"""

import mmap
import os
import re
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


def read_tfrecord(path, skipped=None):
    """Yield `(image_bytes, label int, identity str)` from TFRecord file(s), in order.

    Every record is checked (both CRCs of its framing, then its Example fields). With `skipped`
    None the first damaged record raises; with a list, reading salvages: a damaged record, a
    zeroed or overwritten stretch (skipped up to the next valid frame) and a truncated tail are
    appended to it as `(where, reason)` and the readable records around them still come out.

    Raises:
        DataNotFoundError: no file matches `path`.
        BadInputError: (strict mode) a file is truncated or a record is not a face Example.
    """
    for file in tfrecord_files(path):
        yield from _read_file(file, skipped)


def _read_file(file, skipped):
    # TensorFlow's own record reader checks the length and data CRCs; tf.data cannot resume
    # after a damaged record, this one can (offsets are ours).
    with open(file, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield from _read_records(file, data, skipped)


def _read_records(file, data, skipped):
    from tensorflow.python.lib.io import _pywrap_record_io

    reader = _pywrap_record_io.RandomRecordReader(file)
    offset, index = 0, 0
    try:
        while offset < len(data):
            try:
                record, after = reader.read(offset)
            except (tf.errors.DataLossError, IndexError) as error:
                resume = _next_header(data, offset + 1)
                where = f"{file} bytes {offset}..{resume if resume is not None else len(data)}"
                reason = (f"truncated or corrupt tail ({_first_line(error)})" if resume is None
                          else f"zeroed or corrupt bytes, not a record ({_first_line(error)})")
                if skipped is None:
                    raise BadInputError(f"record {index}: not a readable face Example ({_first_line(error)})",
                                        path=file) from None
                skipped.append((where, reason))
                if resume is None:
                    return
                offset = resume
                continue
            sample = _parse(record)
            if isinstance(sample, str):
                if skipped is None:
                    raise BadInputError(f"record {index}: not a face Example ({sample})", path=file)
                skipped.append((f"{file} record at byte {offset}", f"not a face Example ({sample})"))
            else:
                yield sample
            offset, index = after, index + 1
    finally:
        reader.close()


def _parse(record):
    """`(image_bytes, label, identity)` of a serialized Example, or a string saying what is wrong."""
    from google.protobuf.message import DecodeError

    try:
        feature = tf.train.Example.FromString(record).features.feature
    except (DecodeError, ValueError, RuntimeError) as error:
        return f"undecodable ({_first_line(error)})"
    encoded, label = feature.get("image/encoded"), feature.get("image/label")
    if encoded is None or len(encoded.bytes_list.value) != 1:
        return "no single image/encoded bytes"
    if label is None or len(label.int64_list.value) != 1:
        return "no single image/label integer"
    identity = feature.get("image/identity")
    try:
        name = identity.bytes_list.value[0].decode("utf-8") if identity and identity.bytes_list.value else ""
    except UnicodeDecodeError:
        return "image/identity is not UTF-8"
    return bytes(encoded.bytes_list.value[0]), int(label.int64_list.value[0]), name


def _next_header(data, start):
    """The first offset >= `start` where a TFRecord frame header (length + its masked CRC32C) is valid."""
    position = start
    end = len(data) - 16  # length (8) + its CRC (4) + the data CRC (4) at least
    while position <= end:
        if not any(data[position:position + 12]):
            # An all-zero header is never valid (the CRC of a zero length is not 0): jump the zeros.
            nonzero = _NONZERO.search(data, position + 12)
            if nonzero is None:
                return None
            position = max(position + 1, nonzero.start() - 11)
            continue
        length = int.from_bytes(data[position:position + 8], "little")
        if length <= end - position and _masked_crc32c(data[position:position + 8]) == \
                int.from_bytes(data[position + 8:position + 12], "little"):
            return position
        position += 1
    return None


_NONZERO = re.compile(rb"[^\x00]")


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def _masked_crc32c(data):
    """TFRecord's masked CRC32C (Castagnoli) of a few bytes (frame headers only: pure Python)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _first_line(error):
    text = getattr(error, "message", None) or str(error)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(error).__name__
