"""What a run trains and validates on: the training set under LFW's unrestricted protocol, the default data
(aligned first, never taken half-aligned), the tf.data input, and the LFW fold validation.

The default job trains on the aligned CelebA subset plus the LFW people of the folds outside
`val_folds` and validates on the pairs of `val_folds`; no identity of a validation fold is ever
trained on (`gather_training_set` refuses one).
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


def lfw_aligned_of(config):
    """The aligned LFW tree (config.lfw_aligned or work/aligned/lfw)."""
    return Path(config.lfw_aligned) if config.lfw_aligned else paths.work_root() / "aligned" / "lfw"


def uses_default_data(config):
    """True when `config` names no aligned trees of its own (--train_dirs, --lfw_aligned): the
    default job's, which `align_default_data` makes."""
    return not config.train_dirs and not config.lfw_aligned


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
                "celeba_subset/ and lfw/, or pass --train_dirs=<aligned tree> --nolfw_train",
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


def gather_training_set(config):
    """Merge the configured aligned trees (and the LFW people outside the validation folds).

    Raises DataNotFoundError naming a missing tree, BadInputError if any training identity is a
    person of the validation folds (the unrestricted protocol forbids it) or a tree's alignment
    was interrupted.
    """
    from mobiface_tf.data.sources import read_people

    # Unlabeled faces alone (no --train_dirs) replace the default labelled tree rather than join it.
    trees = [Path(d) for d in config.train_dirs] or ([] if config.unlabeled_dirs else default_train_dirs())
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


def make_dataset_fn(training, config, seed, teacher=None):
    """`dataset_fn(input_context)` for `distribute_datasets_from_function`: each input pipeline
    reads its own shard of the files, augmented as `config.augment` says, batched to the
    per-replica batch, repeated forever. With a `teacher` (an `EmbeddingModel`) each element is
    `(images, labels, teacher_embeddings)` of the same augmented 112x112 view."""
    from mobiface_tf.data.pipeline import add_mixed_views, build_dataset

    def dataset_fn(input_context):
        dataset = build_dataset(
            training.paths, training.labels, config.batch_size, training=True, seed=seed,
            drop_remainder=True, input_context=input_context, augment=config.augment,
        )
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
    """LFW verification on the pairs of `val_folds` (1-based), the training runs' validation.

    Raises DataNotFoundError when the LFW folder is missing.
    """

    def __init__(self, lfw_dir, val_folds, log=print):
        from mobiface_tf.eval.lfw import LfwBenchmark

        lfw_dir = Path(lfw_dir)
        if not lfw_dir.is_dir():
            raise DataNotFoundError("LFW folder for validation not found (set --lfw_dir, or --eval_every=0)", lfw_dir)
        self.val_folds = list(val_folds)
        self._benchmark = LfwBenchmark(lfw_dir, folds=[f - 1 for f in val_folds], log=log)

    def record(self, embed_fn, step, values, lr):
        """Validate `embed_fn` (no flip) and return the `metrics.jsonl` line of a training stage:
        the step, the stage's loss `values` (a dict), the learning rate and the LFW figures."""
        start = time.monotonic()
        result = self._benchmark.evaluate(embed_fn, flip="off")["no_flip"]
        return {
            "step": step,
            **values,
            "lr": lr,
            "lfw_accuracy": result["accuracy_mean"],
            "lfw_accuracy_std": result["accuracy_std"],
            "lfw_auc": result["auc"],
            "val_folds": self.val_folds,
            "eval_seconds": round(time.monotonic() - start, 2),
            "time": time.time(),
        }
