"""`mobiface-convert`: copy a face dataset between a folder tree, InsightFace `.rec` and TFRecord.

The format comes from the path: `*.rec` is InsightFace RecordIO (`.idx` and `property` beside
it), `*.tfrecord` / `*.tfrecords` is TFRecord, anything else is a folder-per-identity tree.
Encoded images are copied byte for byte, never re-encoded, and every one is decoded first to
prove it whole. What cannot be used is skipped, counted and listed, and the rest converted:
files of a tree that are not images (the one image rule, by content), records whose bytes are
not a decodable image, damaged stretches of a `.rec` or `.tfrecord` (zeroed or overwritten
regions, a truncated tail). Outputs are written under temporary names and take their names only
when complete, so a failed run leaves nothing half-written.

    mobiface-convert --input=work/aligned/lfw --output=work/lfw.rec
    mobiface-convert --input=faces_emore/train.rec --output=work/emore.tfrecord
"""

import math
import os
import shutil
import sys
import time
from pathlib import Path

from absl import flags

from mobiface_tf.cli.common import run_main
from mobiface_tf.data.formats import dataset_format, rec_file

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "Dataset to read: a folder tree, a .rec (or an InsightFace folder holding "
                    "train.rec) or TFRecord file(s).")
flags.DEFINE_string("output", None, "Dataset to write: a folder (tree), a .rec or a .tfrecord.")
flags.DEFINE_bool("overwrite", False, "Replace an existing output file, or write into an existing non-empty folder.")


def image_extension(image_bytes):
    """The file extension for encoded image bytes (by content), or None when they are no image."""
    from mobiface_tf.data.images import FORMAT_EXTENSIONS, image_format
    from mobiface_tf.errors import ImageReadError

    try:
        return FORMAT_EXTENSIONS[image_format(image_bytes)]
    except ImageReadError:
        return None


def convert(input_path, output_path, overwrite=False, log=print):
    """Copy every usable face of `input_path` into `output_path`, formats chosen by `dataset_format`.

    Returns:
        dict with `written` (images), `skipped` (list of `(source, reason)`), `classes`,
        `seconds`, and the two formats.

    Raises:
        DataNotFoundError: the input is missing, or holds no usable image (nothing is written).
        BadInputError: input and output are the same path, or the output exists and
            `overwrite` is false, or cannot be written.
        WriteError: writing failed; the output is left as it was.
    """
    from mobiface_tf.errors import BadInputError, DataNotFoundError
    from mobiface_tf.storage import check_output_file, check_output_folder

    source_format, target_format = dataset_format(input_path), dataset_format(output_path)
    input_path, output_path = Path(input_path), Path(output_path)
    if input_path.resolve() == output_path.resolve():
        raise BadInputError("input and output are the same path", path=output_path)
    if target_format == "tree":
        check_output_folder(output_path, "output folder")
    else:
        check_output_file(output_path, "output file")
    _check_output(output_path, target_format, overwrite)
    started = time.perf_counter()
    skipped = []
    samples, num_classes = _read(input_path, source_format, skipped)
    if target_format == "rec":
        written = _write_rec(output_path, samples)
    elif target_format == "tfrecord":
        written = _write_tfrecord(output_path, samples)
    else:
        written = _write_tree(output_path, samples, num_classes)
    if not written:
        raise DataNotFoundError(f"no usable image to convert; {len(skipped)} skipped, e.g. "
                                f"{skipped[0][0] if skipped else '-'}; nothing written", path=input_path)
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
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise BadInputError("output folder is not empty (pass --overwrite to write into it)", path=path)
    elif path.exists() and not overwrite:
        raise BadInputError("output file exists (pass --overwrite to replace it)", path=path)


def _read(path, source_format, skipped):
    """`(samples, num_classes)`: samples yield `(image bytes, label, identity or "")`, each image
    decoded once to prove it whole; what cannot be used is appended to `skipped`."""
    if source_format == "tree":
        from mobiface_tf.data.sources import scan_identity_tree

        tree = scan_identity_tree(path)
        skipped.extend(tree.skipped)

        def tree_samples():
            for image_path, label in zip(tree.paths, tree.labels):
                with open(image_path, "rb") as handle:
                    yield handle.read(), int(label), tree.class_names[label], image_path

        return _checked(tree_samples(), skipped), len(tree.class_names)
    if source_format == "rec":
        from mobiface_tf.data.recordio import read_property

        path = rec_file(path)  # an InsightFace folder names its train.rec
        property_path = path.with_name("property")
        declared = read_property(property_path)[0] if property_path.is_file() else 0
        labels = [label for _, label, _, _ in _rec_records(path, [])]
        return _checked(_rec_records(path, skipped), skipped), max(declared, max(labels, default=-1) + 1)
    from mobiface_tf.data.tfrecords import read_tfrecord

    def tfrecord_samples(skipped):
        for index, (image, label, identity) in enumerate(read_tfrecord(path, skipped)):
            yield image, label, identity, f"{path} readable record {index}"

    labels = [label for _, label, _, _ in tfrecord_samples([])]
    return _checked(tfrecord_samples(skipped), skipped), max(labels, default=-1) + 1


def _rec_records(path, skipped):
    """`(image bytes, label, "", where)` of the image records of a `.rec` (salvaging damage)."""
    from mobiface_tf.data.recordio import scan_records, unpack_ir_record

    for offset, payload in scan_records(path, skipped):
        where = f"{path} record at byte {offset}"
        try:
            _, labels, _, _, image = unpack_ir_record(payload)
        except ValueError as error:
            skipped.append((where, f"not an image record ({error})"))
            continue
        if not image:
            continue  # InsightFace's header and per-identity records hold label ranges, no image
        label = float(labels[0])
        if not math.isfinite(label) or label < 0 or label != int(label):
            skipped.append((where, f"label {label} is not a class number"))
            continue
        yield image, int(label), "", where


def _checked(samples, skipped):
    """`(image, label, identity)` of the samples whose label is a class number and whose bytes
    decode as a whole image; the others are appended to `skipped`."""
    from mobiface_tf.data.images import verify_image
    from mobiface_tf.errors import ImageReadError

    for image, label, identity, where in samples:
        if label < 0:
            skipped.append((str(where), f"negative label {label}"))
            continue
        try:
            verify_image(image)
        except ImageReadError as error:
            skipped.append((str(where), str(error).removeprefix("<bytes>: ")))
            continue
        yield image, label, identity


def _write_rec(path, samples):
    from mobiface_tf.data.recordio import write_insightface_rec

    pairs = [(image, label) for image, label, _ in samples]
    if not pairs:
        return 0
    return write_insightface_rec(path, pairs, image_size=_image_size(pairs[0][0]))


def _write_tfrecord(path, samples):
    from mobiface_tf.data.tfrecords import write_tfrecord
    from mobiface_tf.storage import atomic_path

    try:
        with atomic_path(path, mode=None) as temporary:
            written = write_tfrecord(temporary, samples)
            if not written:
                raise _NothingWritten
    except _NothingWritten:
        return 0
    return written


class _NothingWritten(Exception):
    """Raised inside an atomic write to drop an output without a single image."""


def _image_size(image_bytes):
    import io

    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as image:
        return image.height, image.width


def _write_tree(root, samples, num_classes):
    """Write the images into a hidden folder beside `root`, then move them into place."""
    from mobiface_tf.errors import WriteError
    from mobiface_tf.storage import remove_stale_temporaries, sync_folder, temporary_sibling

    width = len(str(max(num_classes - 1, 0)))
    remove_stale_temporaries(root)  # a staging folder left by a killed run
    staging = temporary_sibling(root)
    written = 0
    try:
        for index, (data, label, identity) in enumerate(samples):
            # Zero-padded label names keep a .rec's label order when the tree is listed again.
            folder = staging / (identity or f"{label:0{width}d}")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index:08d}{image_extension(data) or '.jpg'}").write_bytes(data)
            written += 1
        if not written:
            return 0
        for folder in staging.iterdir():
            sync_folder(folder)
        if not root.exists() or (root.is_dir() and not any(root.iterdir())):
            if root.exists():
                root.rmdir()
            os.replace(staging, root)
        else:  # --overwrite into a folder that holds other files: move ours in, one by one
            for folder in staging.iterdir():
                for file in folder.iterdir():
                    (root / folder.name).mkdir(parents=True, exist_ok=True)
                    os.replace(file, root / folder.name / file.name)
        sync_folder(root.parent)
        return written
    except OSError as error:
        raise WriteError(f"cannot write the tree ({error.strerror or error}); nothing was moved into place",
                         path=root) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


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
    return 0


def run():
    """Console-script entry point."""
    run_main(main)
