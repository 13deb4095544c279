"""Which face-dataset format a path names: a folder tree, an InsightFace `.rec`, TFRecord files.

The one place the formats are told apart, for `mobiface-convert` and the trainer alike:

    *.rec                               InsightFace RecordIO (`.idx` and `property` beside it)
    a folder holding train.rec          an InsightFace dataset folder (faces_emore/, glint360k/):
                                        train.rec, train.idx, property, verification *.bin files
    *.tfrecord, *.tfrecords, *.tfrecord-*, a glob pattern, or a folder of such files   TFRecord
    anything else                       a folder-per-identity tree <root>/<identity>/<image>
"""

from pathlib import Path

FORMATS = ("tree", "rec", "tfrecord")
INSIGHTFACE_REC = "train.rec"
PROPERTY_FILE = "property"


def is_tfrecord_name(name):
    """Whether a file name is a TFRecord file's (`x.tfrecord`, `x.tfrecords`, `x.tfrecord-00001-of-00008`)."""
    name = name.lower()
    return name.endswith((".tfrecord", ".tfrecords")) or ".tfrecord-" in name


def dataset_format(path):
    """The format `path` names: "rec", "tfrecord" or "tree" (see the module docstring).

    A path that does not exist yet (an output) is judged by its name alone.
    """
    path = Path(path)
    if path.name.lower().endswith(".rec"):
        return "rec"
    if is_tfrecord_name(path.name) or any(char in str(path) for char in "*?["):
        return "tfrecord"
    if path.is_dir():
        if (path / INSIGHTFACE_REC).is_file():
            return "rec"
        if any(is_tfrecord_name(entry.name) for entry in path.iterdir() if entry.is_file()):
            return "tfrecord"
    return "tree"


def rec_file(path):
    """The `.rec` file a "rec" path names: the path itself, or an InsightFace folder's train.rec."""
    path = Path(path)
    return path / INSIGHTFACE_REC if path.is_dir() else path


def verification_bins(path):
    """The verification `.bin` files (lfw.bin, cfp_fp.bin, agedb_30.bin, ...) shipped with a record
    dataset: those in the folder it names, or beside the file it names; sorted by name."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    return sorted(folder.glob("*.bin")) if folder.is_dir() else []
