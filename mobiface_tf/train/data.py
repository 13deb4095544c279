"""What a run trains and validates on: the training set under LFW's unrestricted protocol, the default data
(aligned first, never taken half-aligned), record datasets streamed from disk, the tf.data input, and the
validation sets (LFW folds, verification .bin files).

The default job trains on the aligned CelebA subset plus the LFW people of the folds outside
`val_folds` and validates on the pairs of `val_folds`; no identity of a validation fold is ever
trained on (`gather_training_set` refuses one). A record dataset (`--train_data=faces_emore/`, a
`.rec`, TFRecord files) is streamed instead: its identity count comes from `property` (never a
scan of a `.rec`), each worker reads its own share of the records, and it is validated on
verification `.bin` files (by default those shipped in its folder).
"""

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from mobiface_tf import paths
from mobiface_tf.data import aligned_tree
from mobiface_tf.errors import BadInputError, DataNotFoundError
from mobiface_tf.models.contract import ALIGNED_SIZE
from mobiface_tf.train import distill

_EVAL_BATCH = 128


@dataclasses.dataclass
class TrainingSet:
    """The samples a run trains on: paths, int64 labels 0..C-1, identity names, where they came from."""

    paths: list
    labels: np.ndarray
    class_names: list
    sources: list

    @property
    def num_classes(self):
        """Number of identities."""
        return len(self.class_names)


def lfw_dir_of(config):
    """The LFW folder with pairs.txt/people.txt (config.lfw_dir or the shared data's lfw/)."""
    return Path(config.lfw_dir) if config.lfw_dir else paths.data_root() / "lfw"


def default_train_dirs():
    """The default job's non-LFW training tree: the aligned CelebA subset under work/aligned."""
    return [paths.work_root() / "aligned" / "celeba"]


@dataclasses.dataclass
class RecordSet:
    """A record dataset a run streams: an InsightFace `.rec` (its `.idx` and `property` beside it) or
    TFRecord files.

    Attributes:
        path: the `.rec` file, or the TFRecord files (a list).
        format: "rec" or "tfrecord".
        num_classes: identities, from `property` (a `.rec` without one: its header record; TFRecord
            without one: one pass over the labels).
        num_images: images, or None where only a full pass would tell (TFRecord with `property`).
        sources: one line per source, for the run's log.
    """

    path: object
    format: str
    num_classes: int
    num_images: object
    sources: list


def describe(training):
    """"N training images of C identities" of a `TrainingSet` or `RecordSet` (images unknown: "C identities")."""
    images = len(training.paths) if isinstance(training, TrainingSet) else training.num_images
    return f"{f'{images} training images of ' if images is not None else ''}{training.num_classes} identities"


def data_format(config):
    """"tree" (aligned folder trees, the default data included), "rec" or "tfrecord": what
    `config.train_data` names (`data.formats.dataset_format`).

    Raises BadInputError when a record dataset is combined with anything else: trees merge,
    record datasets do not (several TFRecord files are one dataset).
    """
    from mobiface_tf.data.formats import dataset_format

    found = [dataset_format(path) for path in config.train_data]
    kinds = set(found) or {"tree"}
    if kinds == {"tree"}:
        return "tree"
    if len(kinds) > 1 or (kinds == {"rec"} and len(found) > 1):
        raise BadInputError(f"--train_data takes aligned folder trees (merged) or one record dataset, not "
                            f"{' + '.join(found)}: combine them into one with mobiface-convert first. "
                            f"Received `train_data={','.join(config.train_data)}`")
    return found[0]


def resolve_data_settings(config):
    """`config` with the settings that depend on the data filled in: for a record dataset, no LFW
    people (`lfw_train=False`: it names no people to keep the validation folds' out by), and when
    `val_bins` is empty, the verification `.bin` files of its folder; `best_on` defaults to "lfw"
    (the LFW folds, or a record dataset's lfw.bin), else the first validation set. Idempotent.

    `min_images` filters folder trees only (a record dataset trains on all its identities, whose
    counts only a pass over every label would give): it becomes 1.

    Raises BadInputError for `unlabeled_dirs` with a record dataset, for a `best_on` that names no
    validation set, and when there is nothing to validate on.
    """
    from mobiface_tf.data.formats import verification_bins

    changes = {}
    if data_format(config) != "tree":
        if config.unlabeled_dirs:
            raise BadInputError("--unlabeled_dirs join folder-tree training data only, not a record dataset")
        changes.update(lfw_train=False, min_images=min(config.min_images, 1))
        if not config.val_bins:
            changes["val_bins"] = tuple(str(path) for path in verification_bins(config.train_data[0]))
    config = dataclasses.replace(config, **changes)
    names = validation_set_names(config)
    if len(set(names)) != len(names):
        raise BadInputError(f"two validation sets share a name ({names}): LFW folds are `lfw`, a .bin its file "
                            "name; rename one")
    if config.eval_every and not names:
        raise BadInputError("nothing to validate on: a record dataset is validated on verification .bin files "
                            "(none beside it): give --val_bins=lfw.bin,... or --eval_every=0")
    if config.best_on and config.best_on not in names:
        raise BadInputError(f"--best_on must name a validation set, one of {names}. Received `best_on="
                            f"{config.best_on!r}`")
    if not config.best_on and names:
        config = dataclasses.replace(config, best_on="lfw" if "lfw" in names else names[0])
    return config


def validation_set_names(config):
    """The names of the sets `config` validates on: "lfw" (the LFW folds) for folder-tree data, then
    each `.bin` of `val_bins` by its file name without `.bin`."""
    names = ["lfw"] if data_format(config) == "tree" else []
    return names + [Path(path).stem for path in config.val_bins]


def open_record_set(config, log=print):
    """The `RecordSet` of a record dataset's `config.train_data`; reads `.idx` and `property`, or, for
    TFRecord files without a `property` beside them, every label once (said in `log`).

    Raises DataNotFoundError / BadInputError for missing or unreadable files.
    """
    from mobiface_tf.data.formats import PROPERTY_FILE, rec_file
    from mobiface_tf.data.recordio import read_insightface_rec, read_property

    kind = data_format(config)
    if kind == "rec":
        path = rec_file(config.train_data[0])
        with read_insightface_rec(path) as record:
            num_classes, num_images = record.num_classes, len(record)
        origin = "property" if path.with_name(PROPERTY_FILE).is_file() else "the header record"
        return RecordSet(str(path), kind, num_classes, num_images,
                         [f"{path}: {num_images} images of {num_classes} identities (InsightFace .rec, identity "
                          f"count from {origin})"])
    from mobiface_tf.data.tfrecords import tfrecord_files

    files = tfrecord_files(list(config.train_data))
    property_path = Path(files[0]).with_name(PROPERTY_FILE)
    if property_path.is_file():
        num_classes, num_images = read_property(property_path)[0], None
        origin = str(property_path)
    else:
        log(f"counting the identities of {len(files)} TFRecord file(s) (one pass; a `property` file beside them, "
            "`num_classes,112,112`, skips it)")
        num_images, num_classes = _count_tfrecord_labels(files)
        origin = "one pass over the labels"
    shown = f"{num_images} images" if num_images is not None else "images"
    return RecordSet(files, kind, num_classes, num_images,
                     [f"{files[0]}{f' (+{len(files) - 1} files)' if len(files) > 1 else ''}: {shown} of {num_classes} "
                      f"identities (TFRecord, identity count from {origin})"])


def _count_tfrecord_labels(files):
    """(records, 1 + the largest label) of TFRecord face files; unreadable records are skipped."""
    from mobiface_tf.data.tfrecords import FEATURES

    label_only = {"image/label": FEATURES["image/label"]}
    labels = (tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
              .map(lambda record: tf.io.parse_single_example(record, label_only)["image/label"],
                   num_parallel_calls=tf.data.AUTOTUNE)
              .ignore_errors())
    count, largest = labels.reduce((tf.constant(0, tf.int64), tf.constant(-1, tf.int64)),
                                   lambda state, label: (state[0] + 1, tf.maximum(state[1], label)))
    return int(count), int(largest) + 1


def lfw_aligned_of(config):
    """The aligned LFW tree (config.lfw_aligned or work/aligned/lfw)."""
    return Path(config.lfw_aligned) if config.lfw_aligned else paths.work_root() / "aligned" / "lfw"


def uses_default_data(config):
    """True when `config` names no training data of its own (--train_data, --lfw_aligned): the
    default job's, which `align_default_data` makes."""
    return not config.train_data and not config.lfw_aligned


def align_default_data(config, log=print):
    """Make sure the default job's aligned trees are complete: run `mobiface-align` for each one
    that is missing, was interrupted, or is older than its source (it resumes where it stopped).

    Raises DataNotFoundError, saying how to get the data, when the raw shared data is absent.
    """
    data = paths.data_root()
    lfw_raw = lfw_dir_of(config)
    jobs = [(data / "celeba_subset" / "images", default_train_dirs()[0], [])]
    if config.lfw_train:
        jobs.append((lfw_raw / "images", lfw_aligned_of(config), ["--landmarks", str(lfw_raw / "landmarks_5pt.txt")]))
    for raw, aligned, extra in jobs:
        if not raw.is_dir():
            state = aligned_tree.read_state(aligned)
            if aligned.is_dir() and (state is None or state.get("finished")):
                continue  # the source is not here to check the tree against: take it as it is
            raise DataNotFoundError(
                "face data not found: set MOBIFACE_DATA (or `make train DATA=...`) to the folder holding "
                "celeba_subset/ and lfw/, or pass --train_data=<aligned tree or record dataset> --nolfw_train",
                raw,
            )
        if aligned_tree.is_finished(aligned, raw):
            continue
        doing = "finishing the alignment of" if aligned.is_dir() else "aligning"
        log(f"{doing} {raw} -> {aligned} (once; later runs reuse it)")
        command = [sys.executable, "-c", "from mobiface_tf.cli.align import run; run()",
                   f"--input_dir={raw}", f"--output_dir={aligned}", *extra]
        status = subprocess.run(command, check=False).returncode
        if status != 0:
            raise DataNotFoundError(f"mobiface-align failed with exit status {status}", aligned)


def validation_identities(lfw_dir, val_folds):
    """Names of every person in the LFW validation folds (1-based): from people.txt and pairs.txt."""
    from mobiface_tf.data.sources import read_pairs, read_people

    lfw_dir = Path(lfw_dir)
    names = set()
    if (lfw_dir / "people.txt").is_file():
        folds = read_people(lfw_dir / "people.txt")
        names |= {name for f in val_folds if f <= len(folds) for name, _ in folds[f - 1]}
    if (lfw_dir / "pairs.txt").is_file():
        zero_based = {f - 1 for f in val_folds}
        for pair in read_pairs(lfw_dir / "pairs.txt"):
            if pair.fold in zero_based:
                names |= {pair.name_a, pair.name_b}
    return names


def _list_aligned_tree(root):
    """`list_identity_tree` of an aligned tree, refused when its alignment was interrupted."""
    from mobiface_tf.data.sources import list_identity_tree

    aligned_tree.check_not_interrupted(root)
    return list_identity_tree(root)


def gather_training_set(config, log=print):
    """What `config` trains on: a `RecordSet` for a record dataset (`open_record_set`), else a
    `TrainingSet` merging the configured aligned trees (and the LFW people outside the validation
    folds).

    Raises DataNotFoundError naming a missing tree, BadInputError if any training identity is a
    person of the validation folds (the unrestricted protocol forbids it) or a tree's alignment
    was interrupted.
    """
    from mobiface_tf.data.sources import read_people

    if data_format(config) != "tree":
        return open_record_set(config, log)
    # Unlabeled faces alone (no --train_data) replace the default labelled tree rather than join it.
    trees = [Path(d) for d in config.train_data] or ([] if config.unlabeled_dirs else default_train_dirs())
    all_paths, all_labels, names, sources = [], [], [], []
    for root in trees:
        tree_paths, tree_labels, tree_names = _list_aligned_tree(root)
        all_paths += tree_paths
        all_labels.append(tree_labels + len(names))
        names += tree_names
        sources.append(f"{root}: {len(tree_paths)} images of {len(tree_names)} identities")
    lfw_dir = lfw_dir_of(config)
    held_out = validation_identities(lfw_dir, config.val_folds) if lfw_dir.is_dir() else set()
    if config.lfw_train:
        people_txt = lfw_dir / "people.txt"
        if not people_txt.is_file():
            raise DataNotFoundError("LFW people.txt not found (needed by --lfw_train)", people_txt)
        folds = read_people(people_txt)
        people = {name for i, fold in enumerate(folds, 1) if i not in config.val_folds for name, _ in fold}
        lfw_paths, lfw_labels, lfw_names = _list_aligned_tree(lfw_aligned_of(config))
        keep_label = np.array([name in people and name not in held_out for name in lfw_names])
        mask = keep_label[lfw_labels]
        kept = np.flatnonzero(keep_label)
        remap = np.full(len(lfw_names), -1, np.int64)
        remap[kept] = np.arange(len(kept))
        all_paths += [p for p, m in zip(lfw_paths, mask) if m]
        all_labels.append(remap[lfw_labels[mask]] + len(names))
        names += [lfw_names[i] for i in kept]
        sources.append(f"{lfw_aligned_of(config)}: {int(mask.sum())} images of {len(kept)} people of folds "
                       f"{[i for i in range(1, len(folds) + 1) if i not in config.val_folds]}")
    leaked = sorted(set(names) & held_out)
    if leaked:
        raise BadInputError(
            f"{len(leaked)} training identities are validation-fold people (e.g. {leaked[:3]}): the unrestricted "
            "protocol needs them out of training"
        )
    labels = np.concatenate(all_labels) if all_labels else np.zeros(0, np.int64)
    counts = np.bincount(labels, minlength=len(names))
    keep_label = counts >= max(config.min_images, 1)
    mask = keep_label[labels]
    remap = np.cumsum(keep_label) - 1
    training = TrainingSet(
        paths=[p for p, m in zip(all_paths, mask) if m],
        labels=remap[labels[mask]].astype(np.int64),
        class_names=[n for n, k in zip(names, keep_label) if k],
        sources=sources,
    )
    if config.unlabeled_dirs:
        _add_unlabeled(training, config.unlabeled_dirs, held_out)
    if config.loss == "none":
        if not training.paths:
            raise DataNotFoundError(f"no training faces in {[str(t) for t in trees + list(config.unlabeled_dirs)]}")
        return training
    if training.num_classes < 2:
        raise DataNotFoundError(f"training needs at least 2 identities with >= {config.min_images} images; found "
                                f"{training.num_classes} in {[str(t) for t in trees]}")
    return training


def _add_unlabeled(training, unlabeled_dirs, held_out):
    """Append the faces of `unlabeled_dirs` to `training` with label -1 (distillation only)."""
    for root in map(Path, unlabeled_dirs):
        files = distill.list_face_files(root)
        # A folder named after a validation-fold person is that person, labelled or not.
        leaked = sorted({Path(f).parent.name for f in files} & held_out)
        if leaked:
            raise BadInputError(f"unlabeled faces in folders of validation-fold people (e.g. {leaked[:3]}): the "
                                "unrestricted protocol needs them out of training", root)
        training.paths += files
        training.labels = np.concatenate([training.labels, np.full(len(files), -1, np.int64)])
        training.sources.append(f"{root}: {len(files)} unlabeled faces")


def _resize_if_needed(images, labels, size):
    if size == ALIGNED_SIZE:
        return images, labels
    return tf.image.resize(images, (size, size)), labels


def make_dataset_fn(training, config, seed, teacher=None, skip_counter=None):
    """`dataset_fn(input_context)` for `distribute_datasets_from_function`: each input pipeline
    (one per worker) reads its own shard of the files or records, each once per pass, augmented as
    `config.augment` says, batched to the per-replica batch, repeated forever. With a `teacher`
    (an `EmbeddingModel`) each element is `(images, labels, teacher_embeddings)` of the same
    augmented 112x112 view. Unreadable or corrupt faces are skipped and counted in `skip_counter`
    (a `data.pipeline.SkipCounter`) when one is given.

    `training` is a `TrainingSet` (files) or a `RecordSet` (streamed records)."""
    from mobiface_tf.data.pipeline import add_mixed_views, build_dataset, dataset_from_records

    def dataset_fn(input_context):
        options = dict(training=True, seed=seed, drop_remainder=True, input_context=input_context,
                       augment=config.augment, skip_counter=skip_counter)
        if isinstance(training, RecordSet):
            dataset = dataset_from_records(training.path, config.batch_size, **options)
        else:
            dataset = build_dataset(training.paths, training.labels, config.batch_size, **options)
        dataset = dataset.repeat()
        if config.mix_fraction:
            dataset = add_mixed_views(dataset, config.mix_fraction, seed)
        if teacher is not None:
            dataset = distill.attach_teacher(dataset, teacher)
        if config.input_size != ALIGNED_SIZE:
            dataset = dataset.map(lambda x, y, *t: (*_resize_if_needed(x, y, config.input_size), *t))
        return dataset.prefetch(tf.data.AUTOTUNE)

    return dataset_fn


def make_embed_fn(model, input_size):
    """aligned uint8 (N, 112, 112, 3) -> float32 (N, D) with `model` in inference mode."""

    @tf.function(reduce_retracing=True)
    def embed_batch(faces):
        faces = tf.cast(faces, tf.float32)
        if input_size != ALIGNED_SIZE:
            faces = tf.image.resize(faces, (input_size, input_size))
        return tf.cast(model(faces, training=False), tf.float32)

    def embed(faces):
        faces = np.asarray(faces)
        chunks = [embed_batch(faces[i : i + _EVAL_BATCH]).numpy() for i in range(0, len(faces), _EVAL_BATCH)]
        return np.concatenate(chunks) if chunks else np.zeros((0, model.output_shape[-1]), np.float32)

    return embed


class Validator:
    """Verification every `eval_every` steps on the run's validation sets: the LFW pairs of
    `val_folds` (1-based; folder-tree data) and each InsightFace `.bin` of `bins`, through the safe
    loader. Sets are named "lfw" and the `.bin` file names without `.bin`; `best_on` (default: "lfw",
    else the first) names the one that chooses best.keras.

    Raises DataNotFoundError when the LFW folder or a `.bin` is missing, BadInputError for a
    `.bin` that is not a verification set.
    """

    def __init__(self, lfw_dir, val_folds, log=print, bins=(), best_on=""):
        from mobiface_tf.eval.lfw import BinBenchmark, LfwBenchmark

        self.sets = {}
        self.val_folds = list(val_folds) if lfw_dir is not None else []
        if lfw_dir is not None:
            lfw_dir = Path(lfw_dir)
            if not lfw_dir.is_dir():
                raise DataNotFoundError("LFW folder for validation not found (set --lfw_dir, or --eval_every=0)",
                                        lfw_dir)
            self.sets["lfw"] = LfwBenchmark(lfw_dir, folds=[f - 1 for f in val_folds], log=log)
        for path in bins:
            benchmark = BinBenchmark(path)
            self.sets[benchmark.name] = benchmark
            log(f"validation set {benchmark.name}: {len(benchmark.issame)} pairs from {path}")
        if not self.sets:
            raise BadInputError("no validation set: give --val_bins, or --eval_every=0")
        self.best_on = best_on or ("lfw" if "lfw" in self.sets else next(iter(self.sets)))
        if self.best_on not in self.sets:
            raise BadInputError(f"--best_on must name a validation set, one of {list(self.sets)}. "
                                f"Received `best_on={best_on!r}`")

    @property
    def best_key(self):
        """The metrics.jsonl key whose maximum chooses best.keras (e.g. "lfw_accuracy")."""
        return f"{self.best_on}_accuracy"

    def record(self, embed_fn, step, values, lr):
        """Validate `embed_fn` (no flip) on every set and return the `metrics.jsonl` line of a training
        stage: the step, the stage's loss `values` (a dict), the learning rate, `<set>_accuracy`,
        `<set>_accuracy_std` and `<set>_auc` of each set, and `best_on`."""
        start = time.monotonic()
        record = {"step": step, **values, "lr": lr}
        for name, benchmark in self.sets.items():
            result = benchmark.evaluate(embed_fn, flip="off")["no_flip"]
            record.update({f"{name}_accuracy": result["accuracy_mean"], f"{name}_accuracy_std": result["accuracy_std"],
                           f"{name}_auc": result["auc"]})
        if self.val_folds:
            record["val_folds"] = self.val_folds
        record.update(best_on=self.best_on, eval_seconds=round(time.monotonic() - start, 2), time=time.time())
        return record


def make_validator(config, log=print):
    """The `Validator` of a resolved training `config` (`resolve_data_settings`): the LFW folds for
    folder-tree data, `config.val_bins`, `config.best_on`; None when `eval_every` is 0."""
    if config.eval_every == 0:
        return None
    lfw_dir = lfw_dir_of(config) if data_format(config) == "tree" else None
    return Validator(lfw_dir, config.val_folds, log, bins=config.val_bins, best_on=config.best_on)
