"""InsightFace RecordIO datasets (`.rec` + `.idx` + `property`), read and written without mxnet.

The framing is dmlc-core's RecordIO, the format MXNet wrote and MS1M / Glint / WebFace are
distributed in. Every record on disk is

    uint32 magic 0xced7230a | uint32 lrec | payload | zero padding to a multiple of 4 bytes

all little-endian, where `lrec` holds a continuation flag in its upper 3 bits and the part's
length in the lower 29. The writer never lets the magic appear 4-byte aligned inside a payload:
it cuts the payload there (flags 1 = first part, 2 = middle, 3 = last; 0 = whole record) and
drops those 4 bytes, and the reader puts the magic back between the parts.

An MXNet image record's payload is an `IRHeader`, `struct.pack("IfQQ", flag, label, id, id2)`
(24 bytes), then, when `flag > 0`, `flag` float32 labels (which replace `label`), then the
encoded image (JPEG). `.idx` is a text file of `key<TAB>byte offset` lines.

InsightFace's layout: record 0 is a header with `flag = 2` and labels `(first_identity_key,
end_key)`; records 1 .. first_identity_key-1 are the images, labelled with their identity; the
records `first_identity_key .. end_key-1` are one per identity, labelled with the range
`(first image key, end image key)` of its images. `property` is the text `num_classes,h,w`.
"""

import dataclasses
import mmap
import os
import struct
import warnings
from pathlib import Path

import numpy as np

from mobiface_tf.errors import BadInputError, DataNotFoundError
from mobiface_tf.storage import atomic_path

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_FRAME = struct.Struct("<II")
_LENGTH_MASK = (1 << 29) - 1
IR_FORMAT = "<IfQQ"  # MXNet packs with native "IfQQ": the same 24 bytes on little-endian hosts
IR_SIZE = struct.calcsize(IR_FORMAT)


def _last_per_key(keys, offsets):
    """`(keys, offsets)` sorted by key, one entry per key: the last line of a repeated key wins."""
    if not len(keys) or (keys[1:] > keys[:-1]).all():  # already sorted and unique: the usual .idx
        return keys, offsets
    order = np.argsort(keys, kind="stable")
    keys, offsets = keys[order], offsets[order]
    last = np.append(keys[1:] != keys[:-1], True)
    return keys[last], offsets[last]


def encode_lrec(cflag, length):
    """Pack a continuation flag (0..3) and a part length (< 2**29) into the `lrec` word."""
    if not 0 <= cflag <= 3 or not 0 <= length <= _LENGTH_MASK:
        raise ValueError(f"cannot encode cflag={cflag}, length={length} in a RecordIO frame")
    return (cflag << 29) | length


def decode_lrec(lrec):
    """Split an `lrec` word into `(cflag, length)`."""
    return lrec >> 29, lrec & _LENGTH_MASK


def pack_ir_record(label, image_bytes, key=0, key2=0):
    """An MXNet image-record payload: IRHeader, optional float32 labels, then the image bytes.

    A scalar `label` is stored in the header (`flag = 0`); a sequence is stored as `flag`
    float32 values after it, as `mxnet.recordio.pack` does.
    """
    if np.ndim(label) == 0:
        header = struct.pack(IR_FORMAT, 0, float(label), int(key), int(key2))
        return header + bytes(image_bytes)
    labels = np.asarray(label, dtype="<f4").ravel()
    if labels.size == 0:
        raise ValueError("a label sequence must hold at least one value")
    header = struct.pack(IR_FORMAT, labels.size, 0.0, int(key), int(key2))
    return header + labels.tobytes() + bytes(image_bytes)


def unpack_ir_record(payload):
    """Split an image-record payload into `(flag, labels float32 array, key, key2, image_bytes)`.

    `labels` has one value when `flag == 0` (the header's label) and `flag` values otherwise.
    Raises ValueError when the payload is shorter than its header says.
    """
    if len(payload) < IR_SIZE:
        raise ValueError(f"record of {len(payload)} bytes is shorter than the {IR_SIZE}-byte IRHeader")
    flag, label, key, key2 = struct.unpack_from(IR_FORMAT, payload)
    if flag == 0:
        return flag, np.asarray([label], np.float32), key, key2, bytes(payload[IR_SIZE:])
    end = IR_SIZE + 4 * flag
    if len(payload) < end:
        raise ValueError(f"IRHeader announces {flag} labels but the record holds {len(payload)} bytes")
    labels = np.frombuffer(payload, dtype="<f4", count=flag, offset=IR_SIZE).astype(np.float32)
    return flag, labels, key, key2, bytes(payload[end:])


class RecordIOWriter:
    """Write dmlc RecordIO records, with an `.idx` file of `key<TAB>offset` lines when asked.

    Use as a context manager; `write(payload, key)` appends one record and, when an index is
    written, remembers its byte offset under `key`.
    """

    def __init__(self, rec_path, idx_path=None):
        self.rec_path = Path(rec_path)
        self.idx_path = None if idx_path is None else Path(idx_path)
        self._rec = open(self.rec_path, "wb")
        self._idx = None if self.idx_path is None else open(self.idx_path, "w", encoding="ascii")

    def write(self, payload, key=None):
        """Append `payload` (bytes) as one record; `key` (int) goes into the `.idx` file."""
        payload = bytes(payload)
        if len(payload) > _LENGTH_MASK:
            raise ValueError(f"record of {len(payload)} bytes exceeds RecordIO's 2**29 - 1 limit")
        if self._idx is not None:
            if key is None:
                raise ValueError("an indexed RecordIO writer needs a key for every record")
            self._idx.write(f"{int(key)}\t{self._rec.tell()}\n")
        start = 0
        # Cut at every aligned occurrence of the magic so a reader resynchronising on it cannot
        # mistake payload bytes for a frame.
        for position in range(0, len(payload) - 3, 4):
            if payload[position : position + 4] == _MAGIC_BYTES:
                cflag = 1 if start == 0 else 2
                self._rec.write(_FRAME.pack(MAGIC, encode_lrec(cflag, position - start)))
                self._rec.write(payload[start:position])
                start = position + 4
        tail = len(payload) - start
        self._rec.write(_FRAME.pack(MAGIC, encode_lrec(3 if start else 0, tail)))
        self._rec.write(payload[start:])
        self._rec.write(b"\0" * (-tail % 4))

    def close(self):
        """Flush and close the files."""
        self._rec.close()
        if self._idx is not None:
            self._idx.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class RecordIOReader:
    """Read dmlc RecordIO records by key (through the `.idx` file) or in file order.

    The `.rec` file is memory-mapped, so random access is cheap. Without an `.idx` file the
    offsets are found by one scan over the frame headers, and keys are 0, 1, 2, ... in file
    order. Use `close()` (or a `with` block) to release the mapping.
    """

    def __init__(self, rec_path, idx_path=None):
        self.rec_path = Path(rec_path)
        if not self.rec_path.is_file():
            raise DataNotFoundError("no such RecordIO file", path=self.rec_path)
        self._file = open(self.rec_path, "rb")
        size = os.fstat(self._file.fileno()).st_size
        if size == 0:
            self._file.close()
            raise BadInputError("empty RecordIO file", path=self.rec_path)
        self._data = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        if idx_path is None:
            candidate = self.rec_path.with_suffix(".idx")
            idx_path = candidate if candidate.is_file() else None
        self.idx_path = None if idx_path is None else Path(idx_path)
        # Sorted keys and their offsets as two int64 arrays: 16 bytes a record, where a dict of
        # MS1M's 5.8M records held ~1.3 GB in every process that reads the dataset.
        self._keys, self._starts = _last_per_key(*(self._read_index() if self.idx_path else self._scan_offsets()))
        self._dense = bool(len(self._keys)) and self._keys[0] == 0 and self._keys[-1] == len(self._keys) - 1

    @property
    def keys(self):
        """The record keys, sorted (a list)."""
        return self._keys.tolist()

    def _read_index(self):
        try:
            text = self.idx_path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise DataNotFoundError("no such RecordIO index file", path=self.idx_path) from None
        except UnicodeDecodeError:
            raise BadInputError("not a RecordIO index (non-ASCII bytes)", path=self.idx_path) from None
        # Fast path for the usual `key<TAB>offset<LF>` lines: every number at once (0.6 s for MS1M's
        # 5.8M lines); anything else goes through the line-by-line reading below, which names the
        # first bad line.
        lines = text.count("\n") + (not text.endswith("\n"))
        if text.count("\t") == lines and " " not in text and "\r" not in text:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # older NumPy: a bad token ends the parse
                    numbers = np.fromstring(text, dtype=np.int64, sep="\t")
            except ValueError:  # a token that is not an integer
                numbers = np.zeros(0, np.int64)
            if numbers.size == 2 * lines:
                keys, offsets = numbers[0::2], numbers[1::2]
                if ((offsets >= 0) & (offsets < len(self._data))).all():
                    return keys, offsets
        offsets = {}
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                key, offset = int(fields[0]), int(fields[1])
                if len(fields) != 2 or not 0 <= offset < len(self._data):
                    raise ValueError
            except (ValueError, IndexError):
                raise BadInputError(
                    f"line {line_number}: expected `key<TAB>offset` inside the "
                    f"{len(self._data)}-byte .rec, got {line.strip()!r}",
                    path=self.idx_path,
                ) from None
            offsets[key] = offset
        return np.fromiter(offsets, np.int64, len(offsets)), np.fromiter(offsets.values(), np.int64, len(offsets))

    def _scan_offsets(self):
        offsets, position = [], 0
        while position < len(self._data):
            offsets.append(position)
            _, position = self._read_at(position)
        return np.arange(len(offsets), dtype=np.int64), np.asarray(offsets, np.int64)

    def _read_at(self, position):
        """The record starting at byte `position` and the offset just after it."""
        return _read_record(self._data, position, self.rec_path)

    def read_idx(self, key):
        """The payload (bytes) of the record stored under `key`."""
        return self._read_at(self.offset(key))[0]

    def offset(self, key):
        """The byte offset in the `.rec` of the record stored under `key`."""
        row = self._row(key)
        if row is None:
            raise BadInputError(f"no record with key {key}", path=self.rec_path)
        return int(self._starts[row])

    def _row(self, key):
        if self._dense:
            return key if 0 <= key < len(self._keys) else None
        row = int(np.searchsorted(self._keys, key))
        return row if row < len(self._keys) and self._keys[row] == key else None

    def __contains__(self, key):
        return self._row(key) is not None

    def __iter__(self):
        """Yield every payload in file order (needs no index)."""
        position = 0
        while position < len(self._data):
            payload, position = self._read_at(position)
            yield payload

    def __len__(self):
        return len(self._keys)

    def close(self):
        """Release the memory map and the file."""
        self._data.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _read_record(data, position, path):
    """The record starting at byte `position` of `data` and the offset just after it."""
    parts = []
    while True:
        if position + _FRAME.size > len(data):
            raise BadInputError(f"record at byte {position}: file ends inside a frame header", path=path)
        magic, lrec = _FRAME.unpack_from(data, position)
        if magic != MAGIC:
            raise BadInputError(
                f"record at byte {position}: bad magic 0x{magic:08x} (expected 0x{MAGIC:08x}); "
                "not an MXNet RecordIO file or a corrupt one",
                path=path,
            )
        cflag, length = decode_lrec(lrec)
        start = position + _FRAME.size
        if start + length > len(data):
            raise BadInputError(
                f"record at byte {position}: {length}-byte payload runs past the end of the file", path=path
            )
        if cflag > 3 or (cflag in (0, 1)) != (not parts):
            raise BadInputError(f"record at byte {position}: continuation flag {cflag} out of sequence", path=path)
        parts.append(data[start : start + length])
        position = start + length + (-length % 4)
        if cflag in (0, 3):
            return _MAGIC_BYTES.join(parts), position


def _next_frame(data, start):
    """The first 4-byte-aligned offset >= `start` holding the RecordIO magic, or None."""
    position = start + (-start % 4)
    while True:
        found = data.find(_MAGIC_BYTES, position)
        if found < 0:
            return None
        if found % 4 == 0:
            return found
        position = found + (-found % 4)


def scan_records(rec_path, skipped):
    """Yield `(offset, payload)` of every readable record of a `.rec`, in file order, salvaging.

    For damaged files: a stretch that is not a record (a zeroed or overwritten region, a frame
    cut in two) is skipped up to the next frame, and a record running past the end (a truncated
    tail) ends the scan; each is appended to `skipped` as `(where, reason)`, and the records
    around it are still read. The writer never lets the magic appear aligned inside a payload,
    so the next aligned magic is the next frame.

    Raises:
        DataNotFoundError: the file is missing.
        BadInputError: the file is empty.
    """
    path = Path(rec_path)
    if not path.is_file():
        raise DataNotFoundError("no such RecordIO file", path=path)
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise BadInputError("empty RecordIO file", path=path)
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            position = 0
            while position < len(data):
                try:
                    payload, after = _read_record(data, position, path)
                except BadInputError as error:
                    resume = _next_frame(data, position + 1)
                    detail = str(error)[len(f"{path}: "):]
                    if resume is None:
                        skipped.append((f"{path} bytes {position}..{len(data)}",
                                        f"truncated or corrupt tail, not a complete record ({detail})"))
                        return
                    skipped.append((f"{path} bytes {position}..{resume}",
                                    f"not a readable record, zeroed or corrupt ({detail})"))
                    position = resume
                    continue
                yield position, payload
                position = after


@dataclasses.dataclass
class InsightFaceRecord:
    """An opened InsightFace `.rec` dataset: image keys, labels and random access to the images.

    Attributes:
        reader: the underlying `RecordIOReader`.
        image_keys: int64 array of the record keys holding images, in dataset order.
        num_classes: from the `property` file when present, else 1 + the largest label.
        image_size: (height, width) from `property`, or None without one.
    """

    reader: RecordIOReader
    image_keys: np.ndarray
    num_classes: int
    image_size: tuple | None

    def __len__(self):
        return len(self.image_keys)

    def read(self, index):
        """The `(image_bytes, label int)` of the `index`-th image (0-based, not a record key)."""
        return self.read_key(int(self.image_keys[index]))

    def read_key(self, key):
        """The `(image_bytes, label int)` of the record stored under `key`."""
        try:
            _, labels, _, _, image = unpack_ir_record(self.reader.read_idx(key))
        except ValueError as error:
            raise BadInputError(f"record {key}: {error}", path=self.reader.rec_path) from None
        return image, int(labels[0])

    def labels(self):
        """Every image's label, as int64, in `image_keys` order (reads every record)."""
        return np.asarray([self.read_key(int(key))[1] for key in self.image_keys], np.int64)

    def __iter__(self):
        for key in self.image_keys:
            yield self.read_key(int(key))

    def close(self):
        """Release the underlying file."""
        self.reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def read_insightface_rec(rec_path, idx_path=None):
    """Open an InsightFace `.rec` (with its `.idx` and `property` beside it) for reading.

    When record 0 is InsightFace's header (`flag > 0`), the images are keys 1 ..
    `label[0] - 1`; otherwise every record is an image.

    Raises:
        DataNotFoundError: the `.rec` (or a named `.idx`) is missing.
        BadInputError: the files are not RecordIO, or the header or `property` is inconsistent.
    """
    reader = RecordIOReader(rec_path, idx_path)
    try:
        if not len(reader):
            raise BadInputError("RecordIO file holds no records", path=reader.rec_path)
        first_key = int(reader._keys[0])
        try:
            flag, labels, _, _, _ = unpack_ir_record(reader.read_idx(first_key))
        except ValueError as error:
            raise BadInputError(f"record {first_key}: {error}", path=reader.rec_path) from None
        if first_key == 0 and flag > 0:
            end = int(labels[0])
            image_keys = np.arange(1, end, dtype=np.int64)
            missing = [key for key in (1, end - 1) if end > 1 and key not in reader]
            if end < 1 or missing:
                raise BadInputError(
                    f"header record says images are keys 1..{end - 1}, but the index lacks "
                    f"{missing or 'a valid range'}",
                    path=reader.rec_path,
                )
        else:
            image_keys = reader._keys.copy()
        property_path = Path(rec_path).with_name("property")
        if property_path.is_file():
            num_classes, image_size = read_property(property_path)
        else:
            image_size = None
            num_classes = int(labels[0]) + 1 if flag == 0 else 0
            if first_key == 0 and flag > 0:
                # The identity records follow the images, one per class.
                num_classes = int(labels[1]) - int(labels[0])
        return InsightFaceRecord(reader, image_keys, num_classes, image_size)
    except BaseException:
        reader.close()
        raise


def read_property(path):
    """`(num_classes, (height, width))` of an InsightFace `property` file (`num_classes,h,w`)."""
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        num_classes, height, width = (int(field) for field in text.split(","))
    except ValueError:
        raise BadInputError(f"expected `num_classes,height,width`, got {text[:60]!r}", path=path) from None
    return num_classes, (height, width)


def write_insightface_rec(rec_path, samples, image_size=(112, 112)):
    """Write an InsightFace dataset: `<rec_path>`, the `.idx` beside it and a `property` file.

    Args:
        rec_path: the `.rec` file to create; `<stem>.idx` and `property` go in the same folder.
        samples: iterable of `(image, label)` with labels 0..C-1 (every class present), `image`
            the encoded bytes or a path to read them from when written; the records are
            written grouped by label (stable order), as InsightFace expects.
        image_size: (height, width) recorded in `property`.

    Returns:
        The number of images written.

    Raises:
        BadInputError: no images, or labels with gaps.
        WriteError: a file cannot be written; then none of the three is replaced.
    """
    rec_path = Path(rec_path)
    samples = [(image, int(label)) for image, label in samples]
    if not samples:
        raise BadInputError("no images to write", path=rec_path)
    samples.sort(key=lambda sample: sample[1])
    labels = np.asarray([label for _, label in samples])
    num_classes = int(labels.max()) + 1
    present = np.unique(labels)
    if labels.min() < 0 or len(present) != num_classes:
        raise BadInputError(
            f"labels must cover 0..{num_classes - 1} without gaps; got {len(present)} distinct "
            f"labels in {labels.min()}..{labels.max()}",
            path=rec_path,
        )
    num_images = len(samples)
    first_identity_key = num_images + 1
    height, width = image_size
    # All three files are written under temporary names and take their names only once complete.
    with atomic_path(rec_path, mode=None) as rec_tmp, \
            atomic_path(rec_path.with_suffix(".idx"), mode=None) as idx_tmp, \
            atomic_path(rec_path.with_name("property"), mode=None) as property_tmp:
        with RecordIOWriter(rec_tmp, idx_tmp) as writer:
            writer.write(pack_ir_record([first_identity_key, first_identity_key + num_classes], b""), 0)
            for key, (image, label) in enumerate(samples, start=1):
                if isinstance(image, (str, os.PathLike)):
                    image = Path(image).read_bytes()
                writer.write(pack_ir_record(float(label), image, key=key), key)
            starts = np.searchsorted(labels, np.arange(num_classes + 1)) + 1
            for label in range(num_classes):
                key = first_identity_key + label
                writer.write(pack_ir_record([starts[label], starts[label + 1]], b"", key=key), key)
        property_tmp.write_text(f"{num_classes},{height},{width}\n", encoding="ascii")
    return num_images
