"""Where face data comes from: image folders and folder-per-identity trees (the one walker every
command uses), and the LFW protocol files.

The binary dataset formats live beside this module and are re-exported here so callers have one
place to import readers from: InsightFace RecordIO in `recordio.py`, verification `.bin` files in
`binsets.py`. TFRecord reading and writing needs TensorFlow and lives in `tfrecords.py`.
"""

import dataclasses
import os
from pathlib import Path

import numpy as np

from mobiface_tf.data.binsets import load_verification_bin, write_verification_bin
from mobiface_tf.data.recordio import (
    InsightFaceRecord,
    RecordIOReader,
    RecordIOWriter,
    read_insightface_rec,
    write_insightface_rec,
)
from mobiface_tf.data.images import image_format
from mobiface_tf.errors import BadInputError, DataNotFoundError, ImageReadError

__all__ = [
    "IdentityTree",
    "ImageListing",
    "InsightFaceRecord",
    "Pair",
    "RecordIOReader",
    "RecordIOWriter",
    "lfw_relpath",
    "list_identity_tree",
    "list_image_files",
    "load_verification_bin",
    "read_insightface_rec",
    "read_landmarks",
    "read_pairs",
    "read_people",
    "scan_identity_tree",
    "write_insightface_rec",
    "write_verification_bin",
]

@dataclasses.dataclass(frozen=True)
class ImageListing:
    """The images found under a folder, and the files passed over.

    Attributes:
        paths: image file paths (str), sorted.
        skipped: (path, reason) for every visible file that is not an image by the rule of
            `mobiface_tf.data.images` (hidden entries, starting with ".", are not listed at all).
    """

    paths: list
    skipped: list


@dataclasses.dataclass(frozen=True)
class IdentityTree:
    """A folder-per-identity tree `<root>/<identity>/<image>` as labelled samples.

    Attributes:
        paths: image file paths (str), grouped by identity, sorted inside each.
        labels: int64 array, the identity number of each path.
        class_names: `class_names[label]` is the identity's folder name.
        skipped: (path, reason) for files in identity folders that are not images.
    """

    paths: list
    labels: np.ndarray
    class_names: list
    skipped: list


def list_image_files(root, recursive=True):
    """Every image under `root` (in sub-folders too, unless `recursive=False`), by the one image rule.

    What counts as an image is decided by content (`mobiface_tf.data.images.image_format`), not
    by the file name. Hidden files and folders (names starting with ".") are ignored.

    Returns:
        `ImageListing`.

    Raises:
        DataNotFoundError: `root` is missing, a file, or holds no image.
    """
    root = _existing_folder(root, "expected a folder of images")
    listing = _scan(root, recursive)
    if not listing.paths:
        raise DataNotFoundError(f"no image files under this folder{_skipped_note(listing.skipped)}", path=root)
    return listing


def scan_identity_tree(root):
    """List a folder-per-identity tree `<root>/<identity>/<image>` as training samples.

    Identities are the sub-folders of `root` holding at least one image, sorted by name, and
    numbered 0.. in that order; images are sorted by name inside each identity, so the same tree
    always gives the same lists. Images are recognised by content (`list_image_files`' rule);
    hidden entries, files directly under `root` and deeper folders are ignored.

    Returns:
        `IdentityTree`.

    Raises:
        DataNotFoundError: `root` is missing, not a folder, or holds no image in any identity.
    """
    root = _existing_folder(root, "expected <root>/<identity>/<image>")
    paths, labels, class_names, skipped = [], [], [], []
    identities = sorted(entry.name for entry in os.scandir(root)
                        if entry.is_dir() and not entry.name.startswith("."))
    for identity in identities:
        listing = _scan(root / identity, recursive=False)
        skipped.extend(listing.skipped)
        if not listing.paths:
            continue
        label = len(class_names)
        class_names.append(identity)
        paths.extend(listing.paths)
        labels.extend([label] * len(listing.paths))
    if not paths:
        raise DataNotFoundError(
            f"no images in any identity folder (expected <root>/<identity>/<image>){_skipped_note(skipped)}",
            path=root,
        )
    return IdentityTree(paths, np.asarray(labels, dtype=np.int64), class_names, skipped)


def list_identity_tree(root):
    """`scan_identity_tree(root)` as `(paths, labels, class_names)`, for callers that report no skips."""
    tree = scan_identity_tree(root)
    return tree.paths, tree.labels, tree.class_names


def _existing_folder(root, expected):
    root = Path(root)
    if not root.is_dir():
        problem = "is a file, not a folder" if root.exists() else "no such folder"
        raise DataNotFoundError(f"{problem} ({expected})", path=root)
    return root


def _scan(folder, recursive):
    """The one walker: every visible file under `folder`, sorted, split into images and the rest."""
    found = []
    if recursive:
        for directory, subdirs, files in os.walk(folder):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            found.extend(os.path.join(directory, f) for f in files if not f.startswith("."))
    else:
        found = [entry.path for entry in os.scandir(folder) if entry.is_file() and not entry.name.startswith(".")]
    paths, skipped = [], []
    for path in sorted(found):
        try:
            image_format(path)
        except ImageReadError as error:
            skipped.append((path, _reason_without_path(error)))
        else:
            paths.append(path)
    return ImageListing(paths, skipped)


def _reason_without_path(error):
    text = str(error)
    prefix = f"{error.path}: "
    return text[len(prefix):] if error.path and text.startswith(prefix) else text


def _skipped_note(skipped):
    return f"; {len(skipped)} files are not images, e.g. {skipped[0][0]} ({skipped[0][1]})" if skipped else ""


@dataclasses.dataclass(frozen=True)
class Pair:
    """One LFW verification pair: two images named by person and image number.

    `fold` is 0-based (0..9 for View 2's ten folds; always 0 for View 1's single split).
    """

    name_a: str
    num_a: int
    name_b: str
    num_b: int
    same: bool
    fold: int

    @property
    def relpath_a(self):
        """The first image's path relative to the LFW `images/` folder."""
        return lfw_relpath(self.name_a, self.num_a)

    @property
    def relpath_b(self):
        """The second image's path relative to the LFW `images/` folder."""
        return lfw_relpath(self.name_b, self.num_b)


def lfw_relpath(name, num):
    """The LFW path of image `num` of person `name`: `"Name/Name_0001.jpg"`."""
    num = int(num)
    if not name or num < 1:
        raise BadInputError(f"not an LFW image reference: name={name!r}, num={num}")
    return f"{name}/{name}_{num:04d}.jpg"


def read_pairs(pairs_txt):
    """Read an LFW pairs file into a list of `Pair`, in file order.

    Accepts View 2's `pairs.txt` (first line `<folds> <n>`, then per fold `n` matched lines
    `name n1 n2` followed by `n` mismatched lines `name1 n1 name2 n2`) and View 1's
    `pairsDevTrain.txt` / `pairsDevTest.txt` (first line `<n>`, one fold). Fields may be
    separated by tabs or spaces.

    Raises:
        DataNotFoundError: the file is missing.
        BadInputError: naming the file and line number of the first malformed or missing line.
    """
    path = Path(pairs_txt)
    lines = _read_lines(path)
    if not lines:
        raise BadInputError("empty pairs file", path=path)
    header = _ints(lines[0], path, 1, "a header `<folds> <pairs per class>` or `<pairs>`")
    if len(header) == 2:
        num_folds, per_class = header
    elif len(header) == 1:
        num_folds, per_class = 1, header[0]
    else:
        raise BadInputError(f"line 1: expected 1 or 2 counts, got {lines[0]!r}", path=path)
    if num_folds < 1 or per_class < 1:
        raise BadInputError(f"line 1: counts must be positive, got {lines[0]!r}", path=path)
    expected = num_folds * 2 * per_class
    if len(lines) - 1 != expected:
        raise BadInputError(
            f"header promises {num_folds} fold(s) x 2 x {per_class} = {expected} pairs, "
            f"but the file has {len(lines) - 1} pair lines",
            path=path,
        )
    pairs = []
    line_number = 1
    for fold in range(num_folds):
        for same in (True, False):
            for _ in range(per_class):
                line_number += 1
                pairs.append(_parse_pair(lines[line_number - 1], same, fold, path, line_number))
    return pairs


def _parse_pair(line, same, fold, path, line_number):
    fields = line.split()
    try:
        if same and len(fields) == 3:
            name, num_a, num_b = fields
            return Pair(name, _positive(num_a), name, _positive(num_b), True, fold)
        if not same and len(fields) == 4:
            name_a, num_a, name_b, num_b = fields
            return Pair(name_a, _positive(num_a), name_b, _positive(num_b), False, fold)
    except ValueError:
        pass
    shape = "`name n1 n2` (matched pair)" if same else "`name1 n1 name2 n2` (mismatched pair)"
    raise BadInputError(
        f"line {line_number}: expected {shape} in fold {fold}, got {line.strip()!r}", path=path
    )


def read_people(people_txt):
    """Read an LFW people file into one list of `(name, image_count)` per fold.

    View 2's `people.txt` starts with the number of folds, then each fold gives its count of
    people and one `name count` line per person; View 1's `peopleDevTrain.txt` /
    `peopleDevTest.txt` start with a count of people and form a single fold.

    Raises:
        DataNotFoundError: the file is missing.
        BadInputError: naming the file and line number of the first malformed line.
    """
    path = Path(people_txt)
    lines = _read_lines(path)
    if not lines:
        raise BadInputError("empty people file", path=path)
    first = _ints(lines[0], path, 1, "a count")
    if len(first) != 1:
        raise BadInputError(f"line 1: expected a single count, got {lines[0]!r}", path=path)
    folded = len(lines) > 1 and len(lines[1].split()) == 1
    num_folds = first[0] if folded else 1
    cursor = 1 if folded else 0  # index of the next per-fold count line
    folds = []
    for _ in range(num_folds):
        if cursor >= len(lines):
            raise BadInputError(
                f"line {cursor + 1}: file ends after {len(folds)} of {num_folds} folds", path=path
            )
        count = _ints(lines[cursor], path, cursor + 1, "a count of people")
        if len(count) != 1:
            raise BadInputError(
                f"line {cursor + 1}: expected a count of people, got {lines[cursor]!r}", path=path
            )
        people = []
        for offset in range(1, count[0] + 1):
            index = cursor + offset
            if index >= len(lines):
                raise BadInputError(
                    f"line {index + 1}: file ends inside a fold of {count[0]} people", path=path
                )
            fields = lines[index].split()
            try:
                if len(fields) != 2:
                    raise ValueError
                people.append((fields[0], _positive(fields[1])))
            except ValueError:
                raise BadInputError(
                    f"line {index + 1}: expected `name image_count`, got {lines[index].strip()!r}",
                    path=path,
                ) from None
        folds.append(people)
        cursor += count[0] + 1
    if cursor != len(lines):
        raise BadInputError(
            f"line {cursor + 1}: unexpected extra lines after {num_folds} fold(s)", path=path
        )
    return folds


def read_landmarks(path):
    """Read a five-point landmark file into `{relpath: float32 array (5, 2)}`.

    Each non-comment line is `relpath x1 y1 ... x5 y5` (tabs or spaces), points in the order of
    the 112x112 template: eye on the image's left, eye on the image's right, nose, mouth corner
    on the image's left, mouth corner on the image's right. Lines starting with `#` are skipped.

    Raises:
        DataNotFoundError: the file is missing.
        BadInputError: naming the file and line number of a malformed or duplicated entry.
    """
    path = Path(path)
    landmarks = {}
    for line_number, line in enumerate(_read_lines(path, keep_blank=True), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        try:
            if len(fields) != 11:
                raise ValueError
            points = np.asarray([float(value) for value in fields[1:]], dtype=np.float32)
            if not np.all(np.isfinite(points)):
                raise ValueError
        except ValueError:
            raise BadInputError(
                f"line {line_number}: expected an image path and 10 finite coordinates, "
                f"got {line.strip()[:80]!r}",
                path=path,
            ) from None
        if fields[0] in landmarks:
            raise BadInputError(f"line {line_number}: duplicate entry {fields[0]!r}", path=path)
        landmarks[fields[0]] = points.reshape(5, 2)
    return landmarks


def _read_lines(path, keep_blank=False):
    if not path.is_file():
        raise DataNotFoundError("no such file", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BadInputError(f"not a UTF-8 text file ({error.reason})", path=path) from None
    lines = text.splitlines()
    if keep_blank:
        return lines
    # Trailing blank lines are common in hand-edited protocol files; inner blanks are an error
    # caught by the line-count checks.
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _ints(line, path, line_number, what):
    try:
        return [int(field) for field in line.split()]
    except ValueError:
        raise BadInputError(
            f"line {line_number}: expected {what}, got {line.strip()!r}", path=path
        ) from None


def _positive(text):
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value
