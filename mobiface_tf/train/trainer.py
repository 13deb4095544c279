"""The training loop: strategy, model + cosine head, SGD schedule, checkpoints, resume, validation.

A run folder (`TrainConfig.run_dir`; default `work_root()/runs/<preset>-<model>`) holds:

    run_dir/config.json      the resolved TrainConfig (rewritten on resume; see RESUMABLE_CHANGES)
    run_dir/checkpoints/     tf.train checkpoints (backbone, head, optimizer, step and, with a
                             teacher, the distillation projection), `ckpt-<step>`
    run_dir/best.keras       the backbone (embedding model) with the best validation accuracy
    run_dir/final.keras      the backbone after the last step
    run_dir/logs/            TensorBoard scalars: loss, lr, images_per_s, lfw_accuracy
    run_dir/metrics.jsonl    one JSON object per validation: step, loss, lr, lfw_accuracy, ...
    run_dir/workers/<task>/  multi-worker runs only: the non-chief workers' own checkpoints and
                             final.keras (every worker must write its checkpoints somewhere)

Resume: rerunning with the same `run_dir` restores the latest checkpoint: weights, momentum
slots, the optimizer's iteration counter and so the exact step and learning rate. The data
position is approximate: the input pipeline restarts with a shuffle seeded by (seed, step), so a
resumed run sees a fresh permutation instead of replaying the batches it already saw.

Weight decay is coupled L2 (`0.5 * wd * |w|^2` added to the loss, so `wd * w` joins the gradient
before momentum), as in Caffe/MXNet/PyTorch SGD and the paper's recipe. Keras 3's
`SGD(weight_decay=...)` is decoupled (`w -= lr * wd * w` outside momentum), which under momentum
0.9 decays about ten times less. Every trainable variable is decayed, as in InsightFace.

Distillation (`--teacher`, see `train.distill`): the teacher embeds each augmented batch inside
the input pipeline; the loss adds `distill_weight * mean(1 - cos(P s, t))` to the margin loss, or
is that term alone with `loss="none"` (then no classifier head is built and labels are unused,
so `unlabeled_dirs` can add faces without identities). `P` lives in the checkpoints only.
"""

import dataclasses
import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mobiface_tf import paths
from mobiface_tf.errors import BadInputError, DataNotFoundError, ModelLoadError, TrainingDivergedError
from mobiface_tf.train import distill, losses
from mobiface_tf.train.config import check_resume_compatible, load_config

ALIGNED_SIZE = 112
_EVAL_BATCH = 128


def default_run_dir(config):
    """`work_root()/runs/<preset>-<model>`: the same command always resumes the same run."""
    return paths.work_root() / "runs" / f"{config.preset}-{config.model}"


def make_strategy():
    """MultiWorkerMirrored when TF_CONFIG is set, Mirrored over >1 local GPU, else the default.

    Must be called before any other TensorFlow work in the process (multi-worker collectives
    are configured at start-up).
    """
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _task(strategy):
    """(is_chief, task name) of this process in a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True, "chief"
    task_type, task_id = resolver.task_type, resolver.task_id or 0
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())
    return chief, f"{task_type}-{task_id}"


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


def gather_training_set(config):
    """Merge the configured aligned trees (and the LFW people outside the validation folds).

    Raises DataNotFoundError naming a missing tree, BadInputError if any training identity is a
    person of the validation folds (the unrestricted protocol forbids it).
    """
    from mobiface_tf.data.sources import list_identity_tree, read_people

    # Unlabeled faces alone (no --train_dirs) replace the default labelled tree rather than join it.
    trees = [Path(d) for d in config.train_dirs] or ([] if config.unlabeled_dirs else default_train_dirs())
    all_paths, all_labels, names, sources = [], [], [], []
    for root in trees:
        tree_paths, tree_labels, tree_names = list_identity_tree(root)
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
        lfw_paths, lfw_labels, lfw_names = list_identity_tree(lfw_aligned_of(config))
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


def build_backbone(config):
    """The embedding model of `config.model` from the registry (float32 output)."""
    from mobiface_tf.models.registry import build_model

    kwargs = {"input_shape": (config.input_size, config.input_size, 3)}
    if config.embedding_size is not None:
        kwargs["embedding_size"] = config.embedding_size
    if config.head is not None:
        kwargs["head"] = config.head
    if config.activation is not None:
        kwargs["activation"] = config.activation
    try:
        return build_model(config.model, **kwargs)
    except ValueError as error:
        raise BadInputError(str(error)) from None


@dataclasses.dataclass
class TrainState:
    """What one training step needs: the models, optimizer, schedule, step counter and the
    compiled `train_step(distributed_iterator) -> (loss, loss + weight decay)`, where the loss
    is the margin cross-entropy plus `distill_weight` times the distillation loss.

    `head` is None with `loss="none"`; `projection` (student -> teacher space) is None without
    a teacher."""

    backbone: keras.Model
    head: losses.CosineClassifier
    optimizer: keras.optimizers.Optimizer
    schedule: object
    step: tf.Variable
    train_step: object
    projection: object = None

    def checkpoint(self):
        """A `tf.train.Checkpoint` of everything a resume needs (what `train` saves)."""
        items = {"model": self.backbone, "optimizer": self.optimizer, "step": self.step}
        if self.head is not None:
            items["head"] = self.head
        if self.projection is not None:
            items["projection"] = self.projection
        return tf.train.Checkpoint(**items)


def build_train_state(config, num_classes, strategy, teacher_size=None):
    """Build backbone, cosine head, SGD or Adam (+ loss scaling under `config.mixed_precision`)
    under `strategy`, with all optimizer slots created (so checkpoints restore eagerly), and the
    `tf.function` train step (no XLA: 5x slower on this CPU).

    `teacher_size` (the teacher's embedding size D') adds the distillation projection and makes
    the train step expect `(images, labels, teacher_embeddings)` batches."""
    if config.loss == "none" and teacher_size is None:
        raise BadInputError("--loss=none trains with distillation alone and needs --teacher=PATH")
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            backbone = build_backbone(config)
            head = projection = None
            if config.loss != "none":
                head = losses.CosineClassifier(num_classes, dtype="float32", name="cosine_classifier")
                head.build(backbone.output_shape)
            if teacher_size is not None:
                projection = distill.make_projection(backbone.output_shape[-1], teacher_size)
            schedule = config.lr_schedule()
            if config.optimizer == "adam":
                optimizer = keras.optimizers.Adam(learning_rate=schedule)
            else:
                optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=config.momentum)
            if config.mixed_precision:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            variables = list(backbone.trainable_variables)
            for extra in (head, projection):
                if extra is not None:
                    variables += extra.trainable_variables
            optimizer.build(variables)
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    finally:
        keras.mixed_precision.set_global_policy("float32")

    margin = None
    if head is not None:
        margin = losses.SoftmaxWarmup(
            losses.make_margin(config.loss, config.scale, config.margin, config.m1, config.m2, config.m3,
                               config.easy_margin),
            config.warmup_steps,
        )
    decay = 0.5 * config.weight_decay
    replicas = strategy.num_replicas_in_sync

    def step_fn(images, labels, teacher_embeddings=None):
        with tf.GradientTape() as tape:
            embeddings = backbone(images, training=True)
            loss = tf.constant(0.0)
            if head is not None:
                # Mixed views (`mix_fraction`) carry label -1: no identity, distillation only.
                labelled = labels >= 0
                safe_labels = tf.where(labelled, labels, tf.zeros_like(labels))
                logits = margin(head(embeddings), safe_labels, optimizer.iterations)
                per_example = losses.margin_cross_entropy(logits, safe_labels) * tf.cast(labelled, tf.float32)
                loss += tf.nn.compute_average_loss(per_example, global_batch_size=config.batch_size)
            if projection is not None:
                per_example = distill.cosine_distillation_loss(
                    projection(tf.cast(embeddings, tf.float32)), teacher_embeddings)
                loss += config.distill_weight * tf.nn.compute_average_loss(
                    per_example, global_batch_size=config.batch_size)
                if config.relational_weight:
                    # Per replica: the pairs of this replica's share of the batch.
                    loss += config.relational_weight * distill.relational_loss(
                        embeddings, teacher_embeddings) / replicas
            l2 = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])
            total = loss + decay * l2 / replicas
            scaled = optimizer.scale_loss(total)
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, total

    # autograph=False: the step has no Python control flow to convert.
    @tf.function(autograph=False)
    def train_step(iterator):
        loss, total = strategy.run(step_fn, args=next(iterator))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None))

    return TrainState(backbone, head, optimizer, schedule, step, train_step, projection)


def make_embed_fn(backbone, input_size):
    """aligned uint8 (N, 112, 112, 3) -> float32 (N, D) with the backbone in inference mode."""

    @tf.function(reduce_retracing=True)
    def embed_batch(faces):
        faces = tf.cast(faces, tf.float32)
        if input_size != ALIGNED_SIZE:
            faces = tf.image.resize(faces, (input_size, input_size))
        return tf.cast(backbone(faces, training=False), tf.float32)

    def embed(faces):
        faces = np.asarray(faces)
        chunks = [embed_batch(faces[i : i + _EVAL_BATCH]).numpy() for i in range(0, len(faces), _EVAL_BATCH)]
        return np.concatenate(chunks) if chunks else np.zeros((0, backbone.output_shape[-1]), np.float32)

    return embed


def write_scalar(name, value):
    """A TensorBoard scalar at the default writer's step, without the tensorboard package.

    `tf.summary.scalar` lives in tensorboard, which tensorflow 2.21 no longer installs; this
    writes the same event (a float32 tensor tagged for the "scalars" plugin) with TF alone.
    """
    tf.summary.write(name, tf.constant(value, tf.float32), metadata=_SCALAR_METADATA)


_SCALAR_METADATA = b"\n\t\n\x07scalars"  # SummaryMetadata(plugin_data=PluginData(plugin_name="scalars"))


def _save_keras(model, path):
    """Write `model` to `path` through a temporary file, so a kill never leaves half a file."""
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def restore_latest(checkpoint, manager, step, optimizer, say):
    """Restore the newest checkpoint of `manager` into `checkpoint`, if there is one.

    Returns the step training resumes at (0 for a fresh run). The step counter and the
    optimizer's iteration count must agree, or the checkpoint is refused: the learning-rate
    schedule and the momentum state would disagree about where the run is.
    """
    if not manager.latest_checkpoint:
        return 0
    checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    resumed_from = int(step.numpy())
    iterations = int(optimizer.iterations.numpy())
    if iterations != resumed_from:
        raise BadInputError(f"checkpoint step {resumed_from} != optimizer iterations {iterations}",
                            manager.latest_checkpoint)
    say(f"resumed from {manager.latest_checkpoint} at step {resumed_from} (optimizer iterations {iterations})")
    return resumed_from


def warm_start(state, source, say):
    """Load starting weights into a fresh `TrainState` (`TrainConfig.init_from`).

    `source` is a run folder, whose newest checkpoint gives the backbone and, when both have
    one, the distillation projection (so a distilled student continues without relearning it),
    or a `.keras` embedding model (a run folder without checkpoints stands for its
    `best.keras`/`final.keras`). The optimizer, step and classifier head start fresh.

    Raises:
        ModelLoadError: `source` cannot be read.
        BadInputError: its weights do not fit this configuration's model.
    """
    from mobiface_tf.embedding import run_checkpoint

    source = Path(source).expanduser()
    if not source.exists():
        raise ModelLoadError("no such run folder or .keras file to start from (--init_from)", source)
    latest = tf.train.latest_checkpoint(str(source / "checkpoints")) if source.is_dir() else None
    if latest:
        names = {name.split("/")[0] for name, _ in tf.train.list_variables(latest)}
        items = {"model": state.backbone}
        if state.projection is not None and "projection" in names:
            items["projection"] = state.projection
        try:
            tf.train.Checkpoint(**items).restore(latest).expect_partial().assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            reason = str(error).strip().splitlines()[0]
            raise BadInputError(f"checkpoint does not fit this model ({reason})", latest) from None
        say(f"initialized {', '.join(items)} from {latest}")
        return
    path = run_checkpoint(source) if source.is_dir() else source
    try:
        weights = keras.saving.load_model(path, compile=False).get_weights()
    except Exception as error:  # Keras raises many types for unreadable archives
        raise ModelLoadError(f"not a Keras model ({str(error).strip().splitlines()[0]})", path) from None
    expected = [w.shape for w in state.backbone.get_weights()]
    if [w.shape for w in weights] != expected:
        raise BadInputError(f"model does not fit this configuration's {state.backbone.name} "
                            f"({len(weights)} weight arrays vs {len(expected)}, or other shapes)", path)
    state.backbone.set_weights(weights)
    say(f"initialized the backbone from {path}")


def train(config, strategy=None, log=print):
    """Train `config.model` as `config` says, resuming from `config.run_dir` if it has checkpoints.

    Args:
        config: a validated `TrainConfig`.
        strategy: a tf.distribute strategy (default: `make_strategy()`).
        log: callable taking one line of progress text (the chief's only).

    Returns:
        dict: run_dir, step, loss, best_accuracy, resumed_from (step, 0 for a fresh run).

    Raises:
        DataNotFoundError: training or validation data is missing.
        TrainingDivergedError: the loss became NaN/inf; the last good checkpoint is kept.
    """
    strategy = strategy or make_strategy()
    is_chief, task_name = _task(strategy)
    run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
    config = dataclasses.replace(config, run_dir=str(run_dir))
    own_dir = run_dir if is_chief else run_dir / "workers" / task_name
    say = log if is_chief else (lambda line: None)

    saved = load_config(run_dir)
    if saved is not None:
        check_resume_compatible(saved, config, run_dir)
    if config.loss == "none" and not config.teacher:
        raise BadInputError("--loss=none trains with distillation alone and needs --teacher=PATH")
    training = gather_training_set(config)
    if len(training.paths) < config.batch_size:
        raise BadInputError(f"--batch_size={config.batch_size} is larger than the training set "
                            f"({len(training.paths)} faces): no full batch to train on")
    teacher = distill.teacher_of(config)
    validator = _make_validator(config, say) if is_chief and config.eval_every > 0 else None
    own_dir.mkdir(parents=True, exist_ok=True)
    if is_chief:
        (run_dir / "config.json").write_text(config.to_json() + "\n")
    for line in training.sources:
        say(f"training data: {line}")
    say(f"training set: {len(training.paths)} images of {training.num_classes} identities")
    if teacher is not None:
        say(f"teacher: {teacher.source} ({teacher.embedding_size}-d embedding), distill_weight "
            f"{config.distill_weight}, loss {config.loss}")

    state = build_train_state(config, training.num_classes, strategy,
                              teacher_size=None if teacher is None else teacher.embedding_size)
    backbone, optimizer, step, schedule = state.backbone, state.optimizer, state.step, state.schedule
    if teacher is not None and backbone.output_shape[-1] > teacher.embedding_size:
        say(f"warning: the student's embedding ({backbone.output_shape[-1]}-d) is larger than the teacher's "
            f"({teacher.embedding_size}-d): the directions the projection drops get no distillation signal; "
            f"--embedding_size={teacher.embedding_size} avoids that")
    checkpoint = state.checkpoint()
    manager = tf.train.CheckpointManager(checkpoint, own_dir / "checkpoints", max_to_keep=config.keep_checkpoints)
    resumed_from = restore_latest(checkpoint, manager, step, optimizer, say)
    if not resumed_from and config.init_from:
        warm_start(state, config.init_from, say)

    dataset = strategy.distribute_datasets_from_function(
        make_dataset_fn(training, config, config.seed + resumed_from, teacher=teacher))
    iterator = iter(dataset)
    train_step = state.train_step

    embed_fn = make_embed_fn(backbone, config.input_size)
    writer = tf.summary.create_file_writer(str(run_dir / "logs")) if is_chief else tf.summary.create_noop_writer()
    progbar = keras.utils.Progbar(config.max_steps, stateful_metrics=["loss", "lr"]) if (is_chief and config.progress) else None
    best, train_seconds = _history(run_dir / "metrics.jsonl")
    process_start, eval_seconds = time.monotonic(), 0.0
    current = resumed_from
    loss_value = float("nan")
    window_start, window_step = time.monotonic(), current

    def save_checkpoint():
        step.assign(current)
        manager.save(checkpoint_number=current)

    while current < config.max_steps:
        loss, total = train_step(iterator)
        loss_value, total_value = float(loss), float(total)
        current += 1
        if not (math.isfinite(loss_value) and math.isfinite(total_value)):
            # Nothing is saved after a bad step: the newest checkpoint on disk is the last good one.
            kept = manager.latest_checkpoint or "none (no checkpoint was written yet)"
            raise TrainingDivergedError(
                f"loss became {loss_value} (with weight decay {total_value}) at step {current}; "
                f"last good checkpoint: {kept}", run_dir)
        lr = float(schedule(current - 1))  # the rate this step used
        if progbar is not None:
            progbar.update(current, values=[("loss", loss_value), ("lr", lr)])
        if current % config.log_every == 0 or current == config.max_steps:
            elapsed = time.monotonic() - window_start
            images_per_s = (current - window_step) * config.batch_size / max(elapsed, 1e-9)
            window_start, window_step = time.monotonic(), current
            with writer.as_default(step=current):
                write_scalar("loss", loss_value)
                write_scalar("lr", lr)
                write_scalar("images_per_s", images_per_s)
        evaluate_now = validator is not None and (current % config.eval_every == 0 or current == config.max_steps)
        if (config.checkpoint_every and current % config.checkpoint_every == 0) or current == config.max_steps or evaluate_now:
            save_checkpoint()
        if evaluate_now:
            record = validation_record(validator, embed_fn, config.val_folds, current, {"loss": loss_value}, lr)
            record["train_seconds"] = round(train_seconds + time.monotonic() - process_start - eval_seconds, 1)
            eval_seconds += record["eval_seconds"]
            with writer.as_default(step=current):
                write_scalar("lfw_accuracy", record["lfw_accuracy"])
            writer.flush()
            if record["lfw_accuracy"] > best:
                best = record["lfw_accuracy"]
                _save_keras(backbone, run_dir / "best.keras")
            record["best_lfw_accuracy"] = best
            with open(run_dir / "metrics.jsonl", "a") as stream:
                stream.write(json.dumps(record) + "\n")
            say(f"\nstep {current}: loss {loss_value:.4f}, lr {lr:g}, LFW folds {list(config.val_folds)} "
                f"accuracy {record['lfw_accuracy']:.4f} +- {record['lfw_accuracy_std']:.4f} (best {best:.4f})")
    if resumed_from < config.max_steps or not (own_dir / "final.keras").exists():
        if not manager.latest_checkpoint or int(step.numpy()) != current:
            save_checkpoint()
        _save_keras(backbone, own_dir / "final.keras")
    writer.flush()
    return {"run_dir": str(run_dir), "step": current, "loss": loss_value, "best_accuracy": best,
            "resumed_from": resumed_from, "num_classes": training.num_classes}


def read_metrics(run_dir):
    """The validation records of a run folder's metrics.jsonl (empty list if none)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _history(metrics_path):
    """(best accuracy so far or -1, training seconds so far) of an existing run."""
    records = read_metrics(metrics_path.parent)
    best = max((r["lfw_accuracy"] for r in records), default=-1.0)
    return best, (records[-1].get("train_seconds", 0.0) if records else 0.0)


def compare_runs(run_dirs):
    """A Markdown table comparing run folders: model, parameters, steps, training time, accuracy.

    Accuracy is on the runs' validation folds (fold 10 by default): best and last validation.
    """
    from mobiface_tf.train.config import load_config

    rows = ["| model | params | steps | batch | train time | last acc (step) | best acc | run |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for run_dir in map(Path, run_dirs):
        config, records = load_config(run_dir), read_metrics(run_dir)
        if config is None or not records:
            rows.append(f"| ? | | | | | no validation yet | | {run_dir} |")
            continue
        last = records[-1]
        final = run_dir / "final.keras"
        params = f"{keras.saving.load_model(final).count_params():,}" if final.exists() else "?"
        rows.append(
            f"| {config.model} | {params} | {last['step']} | {config.batch_size} | "
            f"{last.get('train_seconds', 0) / 60:.1f} min | {last['lfw_accuracy']:.4f} +- {last['lfw_accuracy_std']:.4f} "
            f"({last['step']}) | {max(r['lfw_accuracy'] for r in records):.4f} | {run_dir} |"
        )
    return "\n".join(rows)


def _make_validator(config, say):
    from mobiface_tf.eval.lfw import LfwBenchmark

    lfw_dir = lfw_dir_of(config)
    if not lfw_dir.is_dir():
        raise DataNotFoundError("LFW folder for validation not found (set --lfw_dir, or --eval_every=0)", lfw_dir)
    return LfwBenchmark(lfw_dir, folds=[f - 1 for f in config.val_folds], log=say)


def validation_record(validator, embed_fn, val_folds, step, values, lr):
    """Validate `embed_fn` (no flip) and return the `metrics.jsonl` line of a training stage:
    the step, the stage's loss `values` (a dict), the learning rate and the LFW figures."""
    start = time.monotonic()
    result = validator.evaluate(embed_fn, flip="off")["no_flip"]
    return {
        "step": step,
        **values,
        "lr": lr,
        "lfw_accuracy": result["accuracy_mean"],
        "lfw_accuracy_std": result["accuracy_std"],
        "lfw_auc": result["auc"],
        "val_folds": list(val_folds),
        "eval_seconds": round(time.monotonic() - start, 2),
        "time": time.time(),
    }
