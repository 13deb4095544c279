"""The Flipped-MobiFace stage (paper section 3.3): train the flip predictor g on a frozen trained run.

From a finished MobiFace run (its `config.json` and a tf.train checkpoint holding the backbone and
the cosine classifier), build `FlippedMobiFace` on the trained backbone and train only g's two
fully-connected layers so that g(f_I) predicts f_Ī, the backbone's feature of the mirrored face,
computed on the fly by the frozen backbone. Per example the loss is

    |g(f_I) - f_Ī|^2  +  flip_ce_weight * CE(s * cos(g(f_I), W), label)

the squared L2 distance summed over the D components (as the paper writes it), plus the
cross-entropy of the predicted feature through the trained, frozen cosine classifier W so that
g keeps the identity. The cross-entropy is plain normalized softmax at the source run's scale
`s` by default (`ce_margin="softmax"`): the margin of ArcFace/CosFace exists to shape the
backbone's feature space while the classifier learns; here W is fixed, and a margin would only
pull g(f_I) past f_Ī towards the class centre, against the L2 term. `ce_margin="source"` uses
the source run's own margin instead.

`flip_l2="relative"` divides each face's squared distance by |f_Ī|^2. Raw feature norms vary a
lot between faces, so the paper's sum is ruled by the few largest; in a short check here (150
steps from a partly trained run) the squared loss left cos(g(f_I), f_Ī) at 0.77, below the
0.80 of f_I itself, while the relative loss (with `flip_ce_weight=0.01`) reached 0.87.

Frozen means: the backbone and the classifier run in inference mode (BatchNorm on its moving
statistics) outside the gradient tape, and only g's variables reach the optimizer (Adam). The
Keras `trainable` flags are left alone, so the saved FlippedMobiFace loads like any model.

The run folder, resume, logs and validation are the shared run loop's (`mobiface_tf.train.loop`):
config.json (a `FlipConfig`, with the source checkpoint resolved), checkpoints/ (FlippedMobiFace,
classifier, optimizer, step), best.keras (best LFW accuracy of (f_I + g(f_I))/2 on the source
run's validation folds), final.keras, logs/ (TensorBoard scalars, window means of the step's
metrics) and metrics.jsonl. Both .keras files are the whole FlippedMobiFace: one graph from
pixels to (f_I + g(f_I))/2. Rerunning with the same run folder resumes from its latest checkpoint.
"""

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from mobiface_tf import paths
from mobiface_tf.errors import BadInputError, DataNotFoundError
from mobiface_tf.models.flipped import FlippedMobiFace, flip_predictor
from mobiface_tf.train import data, loop, losses, trainer
from mobiface_tf.train.config import FlipConfig, load_config

# Per-step metrics, logged as means over each `log_every` window (besides lr and images_per_s):
# the loss, its two terms, and how close g(f_I) is to f_Ī (`flip_*`) next to how close f_I itself
# is (`mirror_*`, the error of predicting "no change"; g is useful where it does better).
METRIC_NAMES = ("loss", "flip_l2", "flip_ce", "flip_cosine", "mirror_l2", "mirror_cosine")


@dataclasses.dataclass
class SourceRun:
    """A trained run the flip stage starts from: its TrainConfig, checkpoint prefix and class
    count (None when the run trained no classifier)."""

    run_dir: Path
    config: object
    checkpoint: str
    num_classes: int


def load_source_run(run_dir, checkpoint=""):
    """Read a training run folder: its config.json and a checkpoint (default the latest).

    Raises DataNotFoundError naming the folder when it has no config.json, no checkpoint or an
    unreadable one.
    """
    run_dir = Path(run_dir)
    config = load_config(run_dir)  # a TrainConfig
    if config is None:
        raise DataNotFoundError("not a training run folder (no config.json)", run_dir)
    if not checkpoint:
        checkpoint = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
        if checkpoint is None:
            raise DataNotFoundError("training run has no checkpoint yet (checkpoints/ckpt-*)", run_dir)
    try:
        shapes = tf.train.load_checkpoint(str(checkpoint)).get_variable_to_shape_map()
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as error:
        raise DataNotFoundError(f"unreadable checkpoint ({str(error).splitlines()[0]})", checkpoint) from None
    kernel = shapes.get("head/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    return SourceRun(run_dir, config, str(checkpoint), None if kernel is None else trainer.classifier_classes(config, kernel))


@dataclasses.dataclass
class FlipState:
    """The flip stage's objects: the FlippedMobiFace `model` (sharing the trained `backbone`'s
    layers), the frozen `classifier` (None when the loss has no cross-entropy), Adam on g, the
    step counter, `train_step(iterator) -> dict of METRIC_NAMES` and
    `compute_metrics(images, labels) -> the same dict` (no update)."""

    model: keras.Model
    backbone: keras.Model
    classifier: losses.CosineClassifier
    optimizer: keras.optimizers.Optimizer
    step: tf.Variable
    train_step: object
    compute_metrics: object

    def checkpoint(self):
        """A `tf.train.Checkpoint` of everything a resume needs (what `train_flip` saves)."""
        items = {"model": self.model, "optimizer": self.optimizer, "step": self.step}
        if self.classifier is not None:
            items["head"] = self.classifier
        return tf.train.Checkpoint(**items)


def build_flip_state(source, config, strategy=None):
    """Build FlippedMobiFace on the source run's backbone, restore backbone and classifier from
    `source.checkpoint`, and compile the flip step under `strategy` (default: the current one).

    Args:
        source: a `SourceRun`.
        config: a validated `FlipConfig`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    use_ce = config.flip_ce_weight > 0
    if use_ce and source.num_classes is None:
        raise BadInputError(
            f"the source run trained no classifier (loss={source.config.loss!r}), so the flip loss cannot "
            "include its cross-entropy: use --flip_ce_weight=0", source.checkpoint)
    source_config = source.config
    # Float32 throughout: g is small and the backbone only runs forward.
    source_config = dataclasses.replace(source_config, mixed_precision=False)
    with strategy.scope():
        backbone = trainer.build_backbone(source_config)
        trained = {"model": backbone}
        classifier = None
        if use_ce:
            classifier = trainer.build_classifier(source_config, source.num_classes, backbone.output_shape[-1])
            trained["head"] = classifier
        restored = tf.train.Checkpoint(**trained).restore(source.checkpoint)
        try:
            restored.expect_partial().assert_existing_objects_matched()
        except AssertionError as error:
            raise BadInputError(f"checkpoint does not match the run's model ({str(error).splitlines()[0]})",
                                source.checkpoint) from None
        model = FlippedMobiFace(backbone=backbone, flip_residual=config.flip_residual)
        g = flip_predictor(model)
        variables = g.trainable_variables
        optimizer = keras.optimizers.Adam(learning_rate=config.lr_schedule())
        optimizer.build(variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    if not use_ce:
        margin = None
    elif config.ce_margin == "source":
        margin = losses.make_margin(source_config.loss, source_config.scale, source_config.margin,
                                    source_config.m1, source_config.m2, source_config.m3,
                                    source_config.easy_margin)
    else:
        margin = losses.softmax(source_config.scale)
    decay = 0.5 * config.weight_decay
    replicas = strategy.num_replicas_in_sync
    ce_weight = float(config.flip_ce_weight)
    relative_l2 = config.flip_l2 == "relative"
    kernels = [v for v in variables if len(v.shape) > 1]

    def frozen_features(images):
        # f_I and f_Ī in one inference-mode pass: outside any tape, so no gradient reaches the backbone.
        both = backbone(tf.concat([images, tf.reverse(images, axis=[2])], axis=0), training=False)
        return tf.split(tf.cast(both, tf.float32), 2)

    def flip_losses(f_i, f_mirror, labels, global_batch_size):
        def average(per_example):
            return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)

        predicted = g(f_i)
        flip_l2 = tf.reduce_sum(tf.square(predicted - f_mirror), axis=1)
        mirror_l2 = tf.reduce_sum(tf.square(f_i - f_mirror), axis=1)
        if relative_l2:
            norm = tf.reduce_sum(tf.square(f_mirror), axis=1) + 1e-12
            flip_l2, mirror_l2 = flip_l2 / norm, mirror_l2 / norm
        if use_ce:
            flip_ce = losses.margin_cross_entropy(margin(classifier(predicted), labels), labels)
        else:
            flip_ce = tf.zeros_like(flip_l2)
        target = tf.math.l2_normalize(f_mirror, 1)
        return {
            "loss": average(flip_l2 + ce_weight * flip_ce),
            "flip_l2": average(flip_l2),
            "flip_ce": average(flip_ce),
            "flip_cosine": average(tf.reduce_sum(tf.math.l2_normalize(predicted, 1) * target, axis=1)),
            "mirror_l2": average(mirror_l2),
            "mirror_cosine": average(tf.reduce_sum(tf.math.l2_normalize(f_i, 1) * target, axis=1)),
        }

    def step_fn(images, labels):
        f_i, f_mirror = frozen_features(images)
        with tf.GradientTape() as tape:
            metrics = flip_losses(f_i, f_mirror, labels, config.batch_size)
            total = metrics["loss"]
            if decay:
                total += decay * tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels]) / replicas
        grads = tape.gradient(total, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return metrics

    def reduce(per_replica):
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    @tf.function(autograph=False)
    def train_step(iterator):
        return reduce(strategy.run(step_fn, args=next(iterator)))

    @tf.function(autograph=False)
    def eval_step(images, labels):
        return flip_losses(*frozen_features(images), labels, tf.shape(images)[0])

    def compute_metrics(images, labels):
        """The step's metrics on one (global) batch, without updating anything."""
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape[1] != source_config.input_size:
            images = tf.image.resize(images, (source_config.input_size, source_config.input_size))
        return {k: float(v) for k, v in eval_step(images, tf.convert_to_tensor(labels, tf.int32)).items()}

    return FlipState(model, backbone, classifier, optimizer, step, train_step, compute_metrics)


def train_flip(config, strategy=None, log=print):
    """Train the flip predictor as `config` says, resuming from `config.run_dir` if it has checkpoints.

    Args:
        config: a `FlipConfig` (validated here).
        strategy: a tf.distribute strategy (default: `loop.make_strategy()`).
        log: callable taking one line of progress text (the chief's only).

    Returns:
        dict: run_dir, step, loss, flip_l2, mirror_l2, best_accuracy (-1 without validation),
        resumed_from, source_checkpoint.

    Raises:
        DataNotFoundError: source run, training or validation data missing.
        TrainingDivergedError: the loss became NaN/inf; the last good checkpoint is kept.
    """
    strategy = strategy or loop.make_strategy()
    run = loop.RunFolder(config.run_dir or paths.default_flip_run_dir(), strategy, log)
    config = dataclasses.replace(config, run_dir=str(run.run_dir))
    saved = run.saved_config(FlipConfig)
    if saved is not None and not config.source_checkpoint:
        config = dataclasses.replace(config, source_checkpoint=saved.source_checkpoint)
    config.validate()
    config.check_paths()
    source = load_source_run(config.from_run, config.source_checkpoint)
    config = dataclasses.replace(config, source_checkpoint=source.checkpoint)
    run.check_resume(config)
    say = run.say

    training = _training_set(source, config)
    validator = None
    if run.is_chief and config.eval_every > 0:
        # The source run's validation sets: its LFW folds, or the .bin files of its record dataset.
        validator = data.make_validator(
            data.resolve_data_settings(dataclasses.replace(source.config, eval_every=config.eval_every)), say)
    run.start(config)
    classes = "no classifier" if source.num_classes is None else f"classifier of {source.num_classes} identities"
    say(f"flip stage on {source.checkpoint} ({source.config.model}, {classes}); {data.describe(training)}; "
        f"cross-entropy weight {config.flip_ce_weight}")

    state = build_flip_state(source, config, strategy)
    data_config = dataclasses.replace(source.config, batch_size=config.batch_size)

    def make_iterator(seed):
        return iter(strategy.distribute_datasets_from_function(data.make_dataset_fn(training, data_config, seed)))

    stage = loop.Stage(checkpoint=state.checkpoint(), step=state.step, optimizer=state.optimizer,
                       train_step=state.train_step, model=state.model, input_size=source.config.input_size,
                       lr_at=config.lr_at, logged=METRIC_NAMES, log_window_means=True, recorded=METRIC_NAMES,
                       shown=("loss", "flip_l2"), report=_report)
    result = loop.run_stage(run, stage, config, make_iterator, validator)
    return {"run_dir": str(run.run_dir), "step": result["step"], **result["values"],
            "best_accuracy": result["best_accuracy"], "resumed_from": result["resumed_from"],
            "source_checkpoint": source.checkpoint}


def _report(step, values, lr, record, best):
    return (f"\nstep {step}: loss {values['loss']:.4f} (flip L2 {values['flip_l2']:.4f}, mirror L2 "
            f"{values['mirror_l2']:.4f}), (f_I + g(f_I))/2: {loop.validation_summary(record)} (best {best:.4f})")


def _training_set(source, config):
    """The source run's training faces; with the cross-entropy, only the labelled ones, whose
    labels must still match the trained classifier."""
    training = data.gather_training_set(source.config)
    if config.flip_ce_weight == 0:
        return training
    if isinstance(training, data.RecordSet):
        labelled = None  # a record dataset holds labelled faces only
    else:
        labelled = training.labels >= 0  # distillation runs may add unlabeled faces (label -1)
    if labelled is not None and not labelled.all():
        training = dataclasses.replace(training, paths=[p for p, k in zip(training.paths, labelled) if k],
                                       labels=training.labels[labelled])
    if training.num_classes != source.num_classes:
        raise BadInputError(
            f"the source run's training data now has {training.num_classes} identities but its classifier "
            f"{source.num_classes}: the labels no longer match the trained classifier", source.run_dir)
    return training


def load_flipped_model(path):
    """The FlippedMobiFace of a flip run folder (best.keras, else final.keras) or a `.keras` file.

    Raises ModelLoadError when there is no such file or it cannot be read, BadInputError when
    the model has no flip predictor.
    """
    from mobiface_tf.embedding import load_keras_model
    from mobiface_tf.models.flipped import backbone_model

    model = load_keras_model(path, what="FlippedMobiFace").model
    try:
        backbone_model(model)
    except ValueError as error:
        raise BadInputError(str(error), path) from None
    return model


def flip_variant_embedders(model):
    """Embedding functions (aligned uint8 (N, 112, 112, 3) -> (N, D)) for the a/b/c study.

    Returns:
        (embed_backbone, embed_flipped): f_I from the backbone inside `model`, and the
        FlippedMobiFace output (f_I + g(f_I))/2; faces are resized when the model's input is
        not 112x112 (tiny test models).
    """
    from mobiface_tf.models.flipped import backbone_model

    input_size = int(model.inputs[0].shape[1])
    return (data.make_embed_fn(backbone_model(model), input_size),
            data.make_embed_fn(model, input_size))

