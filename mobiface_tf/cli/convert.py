"""`mobiface-convert`: copy a face dataset between a folder tree, InsightFace `.rec` and TFRecord.

The format comes from the path: `*.rec` is InsightFace RecordIO (`.idx` and `property` beside
it), `*.tfrecord` / `*.tfrecords` is TFRecord, anything else is a folder-per-identity tree.
Encoded images are copied byte for byte, never re-encoded. A tree file that is not a JPEG/PNG/
BMP/WebP is skipped and listed; the rest of the conversion goes on.

    mobiface-convert --input=work/aligned/lfw --output=work/lfw.rec
    mobiface-convert --input=faces_emore/train.rec --output=work/emore.tfrecord
"""

import sys
import time
from pathlib import Path

from absl import flags

from mobiface_tf.cli.common import run_main

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "Dataset to read: a folder tree, a .rec or a .tfrecord.")
flags.DEFINE_string("output", None, "Dataset to write: a folder (tree), a .rec or a .tfrecord.")
flags.DEFINE_bool("overwrite", False, "Replace an existing output file, or write into an existing non-empty folder.")

_SIGNATURES = {
    b"\xff\xd8\xff": ".jpg",
    b"\x89PNG\r\n\x1a\n": ".png",
    b"BM": ".bmp",
    b"RIFF": ".webp",
}


def dataset_format(path):
    """The dataset format a path names: "rec", "tfrecord" or "tree"."""
    name = Path(path).name.lower()
    if name.endswith(".rec"):
        return "rec"
    if name.endswith((".tfrecord", ".tfrecords")) or ".tfrecord-" in name:
        return "tfrecord"
    return "tree"


def image_extension(image_bytes):
    """The file extension matching encoded image bytes, or None when they are no known image."""
    for signature, extension in _SIGNATURES.items():
        if image_bytes.startswith(signature):
            return extension
    return None


def convert(input_path, output_path, overwrite=False, log=print):
    """Copy every face of `input_path` into `output_path`, formats chosen by `dataset_format`.

    Returns:
        dict with `written` (images), `skipped` (list of `(source, reason)`), `classes`,
        `seconds`, and the two formats.

    Raises:
        DataNotFoundError: the input is missing or empty.
        BadInputError: input and output are the same format and place, or the output exists
            and `overwrite` is false.
    """
    from mobiface_tf.errors import BadInputError

    source_format, target_format = dataset_format(input_path), dataset_format(output_path)
    input_path, output_path = Path(input_path), Path(output_path)
    if input_path.resolve() == output_path.resolve():
        raise BadInputError("input and output are the same path", path=output_path)
    _check_output(output_path, target_format, overwrite)
    started = time.perf_counter()
    skipped = []
    samples, num_classes = _read(input_path, source_format, skipped)
    if target_format == "rec":
        written = _write_rec(output_path, samples)
    elif target_format == "tfrecord":
        from mobiface_tf.data.tfrecords import write_tfrecord

        output_path.parent.mkdir(parents=True, exist_ok=True)
        written = write_tfrecord(output_path, ((_bytes(image), label, identity)
                                               for image, label, identity in samples))
    else:
        written = _write_tree(output_path, samples, num_classes)
    summary = {
        "input_format": source_format,
        "output_format": target_format,
        "written": written,
        "classes": num_classes,
        "skipped": skipped,
        "seconds": time.perf_counter() - started,
    }
    log(f"{input_path} ({source_format}) -> {output_path} ({target_format}): {written} images "
        f"of {num_classes} identities in {summary['seconds']:.1f} s; {len(skipped)} skipped")
    return summary


def _check_output(path, target_format, overwrite):
    from mobiface_tf.errors import BadInputError

    if target_format == "tree":
        if path.exists() and not path.is_dir():
            raise BadInputError("output exists and is not a folder", path=path)
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise BadInputError("output folder is not empty (pass --overwrite to write into it)", path=path)
    elif path.exists() and not overwrite:
        raise BadInputError("output file exists (pass --overwrite to replace it)", path=path)


def _read(path, source_format, skipped):
    """`(samples, num_classes)`: samples yield `(bytes or path, label, identity or "")`."""
    if source_format == "tree":
        from mobiface_tf.data.sources import list_identity_tree

        paths, labels, class_names = list_identity_tree(path)

        def tree_samples():
            for image_path, label in zip(paths, labels):
                with open(image_path, "rb") as handle:
                    head = handle.read(16)
                if image_extension(head) is None:
                    skipped.append((image_path, "not a JPEG, PNG, BMP or WebP file"))
                    continue
                yield image_path, int(label), class_names[label]

        return tree_samples(), len(class_names)
    if source_format == "rec":
        from mobiface_tf.data.recordio import read_insightface_rec

        record = read_insightface_rec(path)

        def rec_samples():
            with record:
                for image, label in record:
                    yield image, label, ""

        return rec_samples(), record.num_classes
    from mobiface_tf.data.tfrecords import read_tfrecord

    samples = list(read_tfrecord(path))
    num_classes = max((label for _, label, _ in samples), default=-1) + 1
    return iter(samples), num_classes


def _bytes(image):
    return image if isinstance(image, bytes) else Path(image).read_bytes()


def _write_rec(path, samples):
    from mobiface_tf.data.recordio import write_insightface_rec
    from mobiface_tf.errors import DataNotFoundError

    path.parent.mkdir(parents=True, exist_ok=True)
    pairs = [(image, label) for image, label, _ in samples]
    if not pairs:
        raise DataNotFoundError("no usable image to write", path=path)
    size = _image_size(_bytes(pairs[0][0]))
    return write_insightface_rec(path, pairs, image_size=size)


def _image_size(image_bytes):
    import io

    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as image:
        return image.height, image.width


def _write_tree(root, samples, num_classes):
    width = len(str(max(num_classes - 1, 0)))
    written = 0
    for index, (image, label, identity) in enumerate(samples):
        data = _bytes(image)
        # Zero-padded label names keep a .rec's label order when the tree is listed again.
        folder = root / (identity or f"{label:0{width}d}")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index:08d}{image_extension(data) or '.jpg'}").write_bytes(data)
        written += 1
    return written


def main(argv):
    """Convert --input to --output and print a one-line summary (skipped files on stderr)."""
    from mobiface_tf.errors import BadInputError

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}; use --input=... --output=...")
    if not FLAGS.input or not FLAGS.output:
        raise BadInputError("both --input and --output are required")
    summary = convert(FLAGS.input, FLAGS.output, overwrite=FLAGS.overwrite)
    for source, reason in summary["skipped"]:
        print(f"skipped {source}: {reason}", file=sys.stderr)


def run():
    """Console-script entry point."""
    run_main(main)
